"""The executor of many tasks, and the NUTS settings every refit shares.

:func:`run_tasks` runs a module-level function over a list of tasks: in this
process, in local worker processes (``forkserver``: workers start without the
parent's threads), or on a Dask ``distributed`` scheduler. Results come back
as they finish; callers make their output independent of order and worker
count by seeding each task from its own identity and keying its result by it.
What a task computes is the business of :mod:`estimator.refit`.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from estimator.sampling import machine_cores

__all__ = ["task_cores", "run_tasks", "shutdown_workers"]


# Cores one task may sample on: one in a worker process (workers run side by side), every
# core while run_tasks runs the tasks one after another in this process. nutpie seeds each
# chain on its own, so the draws do not depend on it (tests/test_workers.py).
_TASK_CORES = 1


def task_cores() -> int:
    """Cores the task now running may sample on (see :func:`run_tasks`)."""
    return _TASK_CORES


_POOLS: dict[int, Any] = {}


def _local_pool(workers: int):
    """The pool of ``workers`` local processes of this session, started on first use and then kept.

    Kept across calls so that a worker's compiled models (:func:`estimator.refit.state_for`)
    serve every later call in the session: the influence and reconciliation
    tables of one run, or the second sweep of a notebook, compile nothing again.
    """
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver"))
    return pool


def shutdown_workers() -> None:
    """Stop the local worker processes this session started (they start again when needed)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


# A session that never started a pool pays nothing for this at exit.
atexit.register(shutdown_workers)


def run_tasks(
    fn: Callable, tasks: list[tuple], *, workers: int | None = None, scheduler=None, on_result: Callable | None = None
) -> list:
    """Run ``fn(*task)`` for every task; return the results in completion order.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled to worker processes).
    tasks : list of tuple
        Positional arguments of each call.
    workers : int, optional
        Local worker processes (default 1: in this process), kept for later
        calls in this session (:func:`shutdown_workers` stops them). Ignored
        with ``scheduler``.
    scheduler : str or distributed.Client, optional
        Address of a Dask distributed scheduler, or a client. Dask is imported only here.
    on_result : callable, optional
        Called with each result as it arrives (progress bars, bookkeeping).
    """
    results = []

    def record(r):
        results.append(r)
        if on_result is not None:
            on_result(r)

    if scheduler is not None:
        from distributed import Client, as_completed  # noqa: PLC0415 - optional; only with a Dask scheduler

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            for fut in as_completed([client.submit(fn, *t, pure=False) for t in tasks]):
                record(fut.result())
        finally:
            if client is not scheduler:
                client.close()
    elif (workers or 1) > 1 and len(tasks) > 1:
        pool = _local_pool(workers)
        try:
            for fut in local_as_completed([pool.submit(fn, *t) for t in tasks]):
                record(fut.result())
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the next call starts a fresh pool.
            shutdown_workers()
            raise
    else:
        global _TASK_CORES
        previous, _TASK_CORES = _TASK_CORES, machine_cores()
        try:
            for t in tasks:
                record(fn(*t))
        finally:
            _TASK_CORES = previous
    return results
