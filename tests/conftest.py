"""Shared fixtures: one tiny saved run per test session (seeded)."""

import pytest

import estimator


@pytest.fixture(scope="session")
def small_run_path(tmp_path_factory):
    """A tiny fit saved to disk: enough draws to draw every figure, not to trust."""
    result = estimator.fit(draws=50, tune=50, chains=2, seed=1, progress=False)
    return result.save(tmp_path_factory.mktemp("run") / "r.nc")


@pytest.fixture(scope="session")
def small_run(small_run_path):
    """The tiny run as loaded back from its file, as the figure commands see it."""
    return estimator.load_result(small_run_path)
