"""The shared executor: local worker processes kept for the session's later calls, and the cores a task samples on."""

import os
from pathlib import Path

import numpy as np
import pytest

from estimator import refit as refit_module
from estimator import workers
from estimator.errors import InputError
from estimator.refit import ResultFolder, refit
from estimator.sampling import machine_cores
from estimator.sweep_file import load_sweep
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
    spec = (
        load_sweep(Path(__file__).parent / "data" / "sweep_small.toml")
        .refit_spec()
        .replace(draws=30, tune=30, chains=2)
    )
    alone = refit(spec, {}, 11)
    seen = []

    def task():
        seen.append(workers.task_cores())
        return refit(spec, {}, 11)

    (in_run,) = run_tasks(task, [()])
    assert seen == [machine_cores()] and workers.task_cores() == 1
    np.testing.assert_array_equal(in_run.posterior["containers"].values, alone.posterior["containers"].values)


def test_a_resumable_folder_from_other_code_is_refused_with_its_own_message(tmp_path, monkeypatch):
    """Results of another estimator source (or package version) must not be mixed into a resumed run."""
    manifest = {"seed": 1, "spec": {"draws": 10}}
    ResultFolder(tmp_path, "manifest.json", manifest, "holds another run", "results")
    ResultFolder(tmp_path, "manifest.json", manifest, "holds another run", "results")  # same inputs, same code: resumed
    with pytest.raises(InputError, match="holds another run"):
        ResultFolder(tmp_path, "manifest.json", {**manifest, "seed": 2}, "holds another run", "results")
    # Another source tree, as the code identity the folders record sees it.
    monkeypatch.setattr(refit_module, "source_digest", lambda: "0" * 64)
    with pytest.raises(InputError, match="other code"):
        ResultFolder(tmp_path, "manifest.json", manifest, "holds another run", "results")


def test_a_resumable_folder_keeps_finished_rows_and_arrays_and_sweeps_up_what_a_killed_writer_left(tmp_path):
    folder = ResultFolder(tmp_path, "manifest.json", {"seed": 1}, "holds another run", "results")
    assert folder.done("a") is None
    folder.write("a", {"x": 1.5}, {"mu": np.arange(3.0)})
    (tmp_path / "results" / ".b.json.123.tmp").write_text("{half")
    again = ResultFolder(tmp_path, "manifest.json", {"seed": 1}, "holds another run", "results")
    row = again.done("a")
    assert row["x"] == 1.5 and row["arrays"]["mu"].tolist() == [0.0, 1.0, 2.0]
    assert not list((tmp_path / "results").glob(".*"))
