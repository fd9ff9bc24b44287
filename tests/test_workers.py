"""The shared executor: local worker processes kept for the session's later calls, and the cores a task samples on."""

import os
from pathlib import Path

import numpy as np
import pytest

from estimator.workers import run_tasks, shutdown_workers


def test_local_workers_are_kept_for_the_next_call_until_shut_down():
    try:
        first = set(run_tasks(os.getpid, [()] * 6, workers=2))
        second = set(run_tasks(os.getpid, [()] * 6, workers=2))
        # Both calls ran in the same two (at most) worker processes, none of them this one.
        assert len(first | second) <= 2 and os.getpid() not in first | second
        shutdown_workers()
        third = set(run_tasks(os.getpid, [()] * 6, workers=2))
        assert not third & (first | second)
    finally:
        shutdown_workers()


@pytest.mark.slow
def test_tasks_run_in_this_process_sample_on_every_core_and_draw_the_same():
    """In this process a task's chains run in parallel (one core each); nutpie seeds every chain, so the draws are the same."""
    from estimator import workers
    from estimator.sweeps import load_sweep

    payload = {**load_sweep(Path(__file__).parent / "data" / "sweep_small.toml").base_payload(), "draws": 30, "tune": 30, "chains": 2}
    compiled = workers.compiled_model(workers.worker_state(payload))
    alone = workers.sample_compiled(compiled, payload, 11)
    seen = []

    def task():
        seen.append(workers._TASK_CORES)
        return workers.sample_compiled(compiled, payload, 11)

    (in_run,) = run_tasks(task, [()])
    assert seen == [workers.machine_cores()] and workers._TASK_CORES == 1
    np.testing.assert_array_equal(in_run["posterior"]["containers"].values, alone["posterior"]["containers"].values)


def test_a_resumable_folder_from_other_code_is_refused_with_its_own_message(tmp_path, monkeypatch):
    """Results of another estimator source (or package version) must not be mixed into a resumed run."""
    from estimator import workers
    from estimator.errors import InputError
    from estimator.workers import claim_folder

    manifest = {"seed": 1, "payload": {"draws": 10}}
    claim_folder(tmp_path, "manifest.json", manifest, "holds another run", "results")
    claim_folder(tmp_path, "manifest.json", manifest, "holds another run", "results")  # same inputs, same code: resumed
    with pytest.raises(InputError, match="holds another run"):
        claim_folder(tmp_path, "manifest.json", {**manifest, "seed": 2}, "holds another run", "results")
    # Another source tree, as the code identity the folders record sees it.
    monkeypatch.setattr(workers, "source_digest", lambda: "0" * 64)
    with pytest.raises(InputError, match="other code"):
        claim_folder(tmp_path, "manifest.json", manifest, "holds another run", "results")
