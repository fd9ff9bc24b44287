"""Many refits of one compiled model: the per-process worker state and the executor.

Sweeps, simulation-based calibration and backtests all refit one model many
times with other ``pm.Data`` (prior parameters, claims, claim weights, the
as-of exposure). Compiling is the expensive step, so each worker process
builds and compiles the model once per *payload* (the plain, picklable
description of the base model: ledger and prior paths, as-of date, horizon,
rate dynamics) and reuses it for every task it is handed.

:func:`run_tasks` is the one executor: in this process, in local worker
processes (``forkserver``: workers start without the parent's threads), or on
a Dask ``distributed`` scheduler. Results come back as they finish; callers
make their output independent of order and worker count by seeding each task
from its own identity and writing one file per task (:func:`write_atomic`).
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from estimator import names as N
from estimator.cache import run_versions, source_digest
from estimator.claims import load_claims
from estimator.compiled import compile_model
from estimator.errors import InputError, Problem
from estimator.model import DEFAULT_DYNAMICS, DEFAULT_RESTATEMENTS, ModelLayout, build_model
from estimator.priors import load_priors

__all__ = [
    "claim_folder",
    "WorkerState",
    "worker_state",
    "compiled_model",
    "nutpie_sample",
    "sample_compiled",
    "machine_cores",
    "run_tasks",
    "shutdown_workers",
    "write_atomic",
    "canonical",
    "MODEL_KEYS",
]

# Measured with nutpie's low-rank mass matrix (diagonal adaptation diverged more at every
# setting), ar1 dynamics. In the model's own coordinates 0.9-0.97 left 0-5 divergent
# transitions per run on the default ledger and only 0.99 none. In the sampler
# coordinates of estimator.coordinates (level and partially centred innovations) 0.95 left one
# in 1 of 16 runs on the default ledger and in 2 of 5 on the seed era's 14 claims; 0.97
# none in 5 and 10, at about 30 gradient evaluations a draw against 40-47 (README,
# Performance). PyMC's NUTS keeps 0.99.
TARGET_ACCEPT = {"pymc": 0.99, "nutpie": 0.97}
# What defines the model a payload describes (not the sampler settings), so a
# reference fit with more draws and the refits share one compiled model.
MODEL_KEYS = ("claims_path", "priors_path", "as_of", "horizon", "dynamics", "restatements")


def canonical(value) -> str:
    """Canonical JSON text of plain data (sorted keys): identities and manifests compare by it."""
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class WorkerState:
    """Inputs loaded, the model built and (on first use) compiled, once per process and payload."""

    priors: Any
    claims: Any
    model: Any
    horizon: Any
    dynamics: str
    compiled: Any = None
    cache: dict = field(default_factory=dict)

    def layout_for(self, as_of):
        """The time grid and claim design at another as-of date (same months)."""

        return ModelLayout(self.claims, self.priors, as_of, self.horizon)


_STATE: dict[str, WorkerState] = {}


def worker_state(payload: dict) -> WorkerState:
    """This process's state for ``payload`` (built on first call, then reused)."""
    key = canonical({k: payload.get(k) for k in MODEL_KEYS})
    if key in _STATE:
        return _STATE[key]

    priors = load_priors(payload["priors_path"])
    claims = load_claims(payload["claims_path"])
    # A ledger that names only some of the families fits those alone.
    priors = priors.restricted_to(set(claims["source_family"]))
    dynamics = payload.get("dynamics") or DEFAULT_DYNAMICS
    restatements = payload.get("restatements") or DEFAULT_RESTATEMENTS
    model = build_model(claims, priors, as_of=payload["as_of"], horizon=payload["horizon"], dynamics=dynamics, restatements=restatements)
    state = WorkerState(priors, claims, model, payload["horizon"], dynamics)
    _STATE.clear()  # one base model per process at a time: free the previous compiled model
    _STATE[key] = state
    return state


def compiled_model(state: WorkerState, extra_vars: Iterable[str] = ()):
    """The state's model compiled for nutpie (once), its ``pm.Data`` left swappable.

    Only the headline quantities, the free parameters (importance weights
    need them), the claims' predictive moments (backtests score with them)
    and ``extra_vars`` are stored: a smaller expansion function compiles faster.
    The compile goes through :func:`estimator.compiled.compile_model`, so a
    worker loads the machine code another process (or an earlier run) stored
    in the cache directory instead of compiling it.
    """
    if state.compiled is None:
        keep = list(dict.fromkeys([*N.HEADLINE, N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD, *(rv.name for rv in state.model.free_RVs), *extra_vars]))
        state.compiled = compile_model(state.model, var_names=keep)
    return state.compiled


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


def sample_compiled(compiled, payload: dict, seed: int):
    """Sample a compiled model with the payload's draws, tune and chains (chains in parallel on the task's cores)."""
    cores = max(1, min(payload["chains"], _TASK_CORES))
    return nutpie_sample(compiled, draws=payload["draws"], tune=payload["tune"], chains=payload["chains"], cores=cores, seed=seed)


def claim_folder(out: Path, manifest_name: str, manifest: dict, refusal: str, results: str, stale: str = ".*.tmp*") -> None:
    """Make ``out`` the folder of one resumable run, or refuse it.

    A folder whose manifest differs from ``manifest`` holds another run, whose
    result files must never mix with this one's: ``InputError`` with
    ``refusal``. The manifest also records the code (:func:`code_identity`):
    results of another estimator source or package version are refused too,
    with their own message. Temporary files a killed worker left in
    ``out/results`` are discarded (their finished twins were written by
    rename, never partly).
    """

    (out / results).mkdir(parents=True, exist_ok=True)
    path = out / manifest_name
    manifest = json.loads(canonical({**manifest, "code": code_identity()}))
    if path.exists():
        held = json.loads(path.read_text())
        if held != manifest:
            if {k: v for k, v in held.items() if k != "code"} == {k: v for k, v in manifest.items() if k != "code"}:
                refusal = "holds results of other code (the estimator source or a package version differs), which must not mix with this code's; choose another folder or delete this one"
            raise InputError([Problem(str(out), "--out", "-", refusal)])
    path.write_text(canonical(manifest))
    for f in (out / results).glob(stale):
        f.unlink()


def code_identity() -> dict:
    """What a resumable run's results depend on besides its inputs: the package versions and the estimator source."""

    return {"versions": run_versions(), "estimator_source": source_digest()}


def write_atomic(path: Path, row: dict) -> None:
    """Write ``row`` as JSON to ``path`` by temporary file and rename: a killed worker leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(row, default=float))
    os.replace(tmp, path)


_POOLS: dict[int, Any] = {}


def _local_pool(workers: int):
    """This session's pool of ``workers`` local processes, started on first use and then kept.

    Kept across calls so that a worker's compiled models (:func:`worker_state`)
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
