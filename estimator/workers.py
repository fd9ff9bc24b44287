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
import os
from collections.abc import Callable
from typing import Any

__all__ = ["TARGET_ACCEPT", "nutpie_sample", "machine_cores", "task_cores", "run_tasks", "shutdown_workers"]

# Measured with nutpie's low-rank mass matrix (diagonal adaptation diverged more at every
# setting), ar1 dynamics. In the model's own coordinates 0.9-0.97 left 0-5 divergent
# transitions per run on the default ledger and only 0.99 none. In the sampler
# coordinates of estimator.coordinates (level and partially centred innovations) 0.95 left one
# in 1 of 16 runs on the default ledger and in 2 of 5 on the seed era's 14 claims; 0.97
# none in 5 and 10, at about 30 gradient evaluations a draw against 40-47 (README,
# Performance). PyMC's NUTS keeps 0.99.
TARGET_ACCEPT = {"pymc": 0.99, "nutpie": 0.97}


def nutpie_sample(compiled, *, draws: int, tune: int, chains: int, cores: int, seed: int, progress: bool = False):
    """nutpie's NUTS with the package's settings: low-rank mass matrix, its target acceptance, no warm-up kept."""
    import nutpie

    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=seed,
        progress_bar=progress,
        target_accept=TARGET_ACCEPT["nutpie"],
        adaptation="low_rank",
        save_warmup=False,
    )


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


# Cores one task may sample on: one in a worker process (workers run side by side), every
# core while run_tasks runs the tasks one after another in this process. nutpie seeds each
# chain on its own, so the draws do not depend on it (tests/test_workers.py).
_TASK_CORES = 1


def task_cores() -> int:
    """Cores the task now running may sample on (see :func:`run_tasks`)."""
    return _TASK_CORES


_POOLS: dict[int, Any] = {}


def _local_pool(workers: int):
    """This session's pool of ``workers`` local processes, started on first use and then kept.

    Kept across calls so that a worker's compiled models (:func:`estimator.refit.state_for`)
    serve every later call in the session: the influence and reconciliation
    tables of one run, or the second sweep of a notebook, compile nothing again.
    """
    pool = _POOLS.get(workers)
    if pool is None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver"))
    return pool


def shutdown_workers() -> None:
    """Stop the local worker processes this session started (they start again when needed)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


# A session that never started a pool pays nothing for this at exit.
atexit.register(shutdown_workers)


def run_tasks(fn: Callable, tasks: list[tuple], *, workers: int | None = None, scheduler=None, on_result: Callable | None = None) -> list:
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
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            for fut in as_completed([client.submit(fn, *t, pure=False) for t in tasks]):
                record(fut.result())
        finally:
            if client is not scheduler:
                client.close()
    elif (workers or 1) > 1 and len(tasks) > 1:
        from concurrent.futures import as_completed as done
        from concurrent.futures.process import BrokenProcessPool

        pool = _local_pool(workers)
        try:
            for fut in done([pool.submit(fn, *t) for t in tasks]):
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
