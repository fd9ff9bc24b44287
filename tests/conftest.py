"""Shared fixtures: the default inputs, and one tiny fit reused by several tests."""

# estimator first: it fixes BLAS to one thread before numpy loads it (see estimator/__init__.py).
import estimator  # isort: skip

import datetime as dt
import json
import math
import os
import tempfile

import matplotlib
import pytest
from hypothesis import settings

import estimator.sweep_file
from estimator.claims import read_claims_text

matplotlib.use("Agg")
# Fixed seeds everywhere: every property test tries the same examples on every run and machine
# (a test's own settings add to this profile), and no example database carries over between runs.
settings.register_profile("fixed-seed", derandomize=True, database=None)
settings.load_profile("fixed-seed")
# The suite reads and writes its own cache directory (subprocesses inherit it), never the user's.
# Under pytest-xdist the controller loads this file before it starts the workers, which inherit
# its folder: every worker then reads the graphs another has compiled, as concurrent processes
# of one user do (the cache's writes are atomic; tests/test_cache_stress.py starts fits together
# on one folder). A worker making a folder of its own would compile every graph again.
if "PYTEST_XDIST_WORKER" not in os.environ or "ESTIMATOR_CACHE_DIR" not in os.environ:
    os.environ["ESTIMATOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="estimator-test-cache-")
# The suite keeps every core busy (one pytest-xdist worker per core), so a model is compiled in
# one child process, both callbacks in turn, rather than two children each rebuilding the model
# and its PyTensor functions (estimator._compiled._compile_processes; measured in
# docs/performance.md). tests/test_cache_differential.py compiles the other way too and
# compares the draws.
os.environ.setdefault("ESTIMATOR_COMPILE_PROCESSES", "1")


@pytest.fixture(scope="session")
def priors():
    return estimator.load_priors()


@pytest.fixture(scope="session")
def claims(priors):
    return estimator.load_claims()


def _edit_default_ledger(claim_id: str, column: str, value: str) -> tuple[str, int]:
    """The default ledger's text with one cell replaced, and the file line of that row."""

    lines = read_claims_text()[1].splitlines()
    col = lines[0].split(",").index(column)
    row = next(i for i, line in enumerate(lines) if line.startswith(claim_id + ","))
    # Splitting on every comma is safe up to ``column`` as long as no earlier cell of the
    # row is quoted with a comma inside; later cells are split and rejoined unchanged.
    cells = lines[row].split(",")
    cells[col] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n", row + 1


@pytest.fixture(scope="session")
def edit_default_ledger():
    """``edit(claim_id, column, value) -> (text, line)``: the default ledger with one cell changed."""
    return _edit_default_ledger


def _toml_text(doc: dict) -> str:
    """TOML text of plain data (tables, lists, strings, numbers, booleans, dates), every key quoted."""

    def key(k):
        return json.dumps(str(k), ensure_ascii=False).replace("\x7f", "\\u007f")

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if isinstance(v, (int, float, dt.date)):
            return str(v) if not isinstance(v, float) else repr(v)
        if isinstance(v, str):
            # JSON escapes every control character TOML forbids in a basic string but DEL.
            return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"no TOML for {type(v).__name__}")

    lines = []

    def table(t, path):
        plain = {k: v for k, v in t.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in t.items() if isinstance(v, dict)}
        if path and (plain or not nested):
            lines.append("[" + ".".join(key(p) for p in path) + "]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in plain.items())
        for k, v in nested.items():
            table(v, [*path, k])

    table(doc, [])
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def toml_text():
    """``toml_text(doc) -> str``: a document written back as TOML, for generated input files."""
    return _toml_text


@pytest.fixture(scope="module")
def log_density(claims, priors):
    """The finite-log-density check both property tests of prior settings use (test_priors_fuzz)."""
    from test_priors_fuzz import LogDensityAtStart  # noqa: PLC0415 - a test module, loaded only by the fixture that needs it

    return LogDensityAtStart(claims, priors)


@pytest.fixture(scope="module")
def fitted_default(priors):
    """The default's fitted parameters: entries left intact skip PreliZ."""
    return priors.fitted_params()


@pytest.fixture(scope="module")
def sweep_file(priors, tmp_path_factory):
    """Where a generated sweep file goes, with the default priors loaded once (not by every load_sweep call)."""

    real = estimator.sweep_file.load_priors
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            estimator.sweep_file, "load_priors", lambda path=None, **kw: priors if path is None else real(path, **kw)
        )
        yield tmp_path_factory.mktemp("sweeps") / "generated.toml"


@pytest.fixture(scope="session")
def tiny_result(claims, priors):
    """A deliberately short fit (2 chains x 60 draws): enough to exercise the plumbing."""
    return estimator.fit(claims, priors, draws=60, tune=60, chains=2, seed=7, progress=False)


@pytest.fixture(scope="session")
def seed_era_result(claims, priors):
    """A short fit of what was known on 2024-02-26, as of 2024-02-23: later claims are forecasts of it."""
    return estimator.fit(
        claims, priors, known_by="2024-02-26", as_of="2024-02-23", draws=60, tune=60, chains=2, seed=7, progress=False
    )


@pytest.fixture(scope="session")
def seed_era_result_path(seed_era_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("seed_era") / "result.nc"
    seed_era_result.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_result_path(tiny_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "result.nc"
    tiny_result.save(path)
    return path


@pytest.fixture(scope="session")
def small_run_path(tiny_result_path):
    """The tiny run's file, as the figure and report commands take it."""
    return tiny_result_path


@pytest.fixture(scope="session")
def small_run(small_run_path):
    """The tiny run as loaded back from its file, as the figure commands see it."""
    return estimator.load_result(small_run_path)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt  # noqa: PLC0415 - heavy; only when drawing

    plt.close("all")
