"""The shared executor keeps its local worker processes for the session's later calls."""

import os

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
