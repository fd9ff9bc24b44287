"""The compiled-model cache under stress: other family counts, races, a killed compile, an unwritable or foreign cache.

Every fit here runs ``estimator fit`` in a fresh process, as a user does, at tiny draws
(the draws only need to be compared, not to be good).
"""

import csv
import errno
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import estimator
from estimator import _compiled as compiled
from estimator import cache, cli, sampling
from estimator.claims import read_claims_text
from estimator.files import NETCDF_ENGINE

TINY = ["--draws", "10", "--tune", "10", "--chains", "1", "--seed", "11", "--quiet"]


def _fit(out: Path, *args, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "estimator", "fit", *TINY, "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        **kwargs,
    )


def _posterior(run: Path) -> xr.Dataset:
    with xr.open_dataset(run / "result.nc", group="posterior", engine=NETCDF_ENGINE) as ds:
        return ds.load()


def _same_draws(a: Path, b: Path) -> bool:
    pa, pb = _posterior(a), _posterior(b)
    return set(pa.data_vars) == set(pb.data_vars) and all(
        np.array_equal(pa[v].values, pb[v].values) for v in pa.data_vars
    )


def _ledger(tmp_path: Path, name: str, edit) -> Path:
    rows = list(csv.reader(io.StringIO(read_claims_text()[1])))
    rows = [rows[0], *edit(rows[0], rows[1:])]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _entries(root: Path) -> list[Path]:
    folder = root / "compiled"
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


@pytest.mark.slow
def test_a_new_or_dropped_source_family_fits_with_a_warm_cache_in_a_fresh_process(tiny_result, tmp_path):
    """Once a crash: the compiled model of 8 families was served to a ledger of 9 (or 7)."""
    family = lambda head: head.index("source_family")

    def added(head, body):
        extra = list(body[0])
        extra[head.index("id")], extra[family(head)] = "new-family-row", "a_new_family"
        return [*body, extra]

    def dropped(head, body):
        return [r for r in body if r[family(head)] != "osint"]

    for name, edit, families in (("added.csv", added, 9), ("dropped.csv", dropped, 7)):
        run = tmp_path / f"run-{name}"
        done = _fit(run, "--claims", str(_ledger(tmp_path, name, edit)))
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert _posterior(run).sizes["family"] == families


@pytest.fixture(scope="module")
def killed_compile(tmp_path_factory):
    """An empty cache in which a first fit was killed (SIGKILL) while compiling."""
    root = tmp_path_factory.mktemp("killed")
    env = {**os.environ, cache.ENV_VAR: str(root / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "estimator", "fit", *TINY, "--out", str(root / "killed")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    staging = []
    while time.monotonic() < deadline and not staging:
        time.sleep(0.2)
        staging = list((root / "cache" / "compiled").glob(".build-*/.recipe-*.pkl"))
    assert staging, "the fit never started compiling"
    time.sleep(3)  # the compiling child is at work: kill it and its parent mid-way
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return root


@pytest.mark.slow
def test_a_compile_killed_mid_way_leaves_nothing_a_later_run_trusts(killed_compile):
    root = killed_compile / "cache"
    assert list((root / "compiled").glob(".build-*")), "the staging folder is what a killed compile leaves"
    assert _entries(root) == []


@pytest.mark.slow
def test_two_fits_started_together_agree_and_numba_or_pytensor_folders_elsewhere_change_nothing_but_where_files_go(
    killed_compile,
):
    root = killed_compile
    env = {**os.environ, cache.ENV_VAR: str(root / "cache")}
    # The second process keeps numba's and PyTensor's own files elsewhere, as on a cluster
    # where site-packages is read-only.
    elsewhere = {
        **env,
        "NUMBA_CACHE_DIR": str(root / "numba"),
        "PYTENSOR_FLAGS": f"base_compiledir={root / 'pytensor'}",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "estimator", "fit", *TINY, "--out", str(root / name)],
            env=e,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, e in (("plain", env), ("elsewhere", elsewhere))
    ]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
    assert _same_draws(root / "plain", root / "elsewhere")
    entries = _entries(root / "cache")
    assert len(entries) == 1
    assert list(entries[0].rglob("*.nbi")), "numba's cache files of the callbacks belong in the entry"
    assert any((root / "pytensor").iterdir()), "PyTensor compiled into the folder it was given"
    # Every folder and file of the entry is private to the user.
    assert all(cache.trusted(p) for p in compiled._entry_files(entries[0]))
    assert entries[0].stat().st_mode & 0o077 == 0

    # A corrupted entry (numba's machine code truncated) is rebuilt, and gives the same draws.
    for nbc in entries[0].rglob("*.nbc"):
        nbc.write_bytes(nbc.read_bytes()[:100])
    done = _fit(root / "rebuilt", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _same_draws(root / "plain", root / "rebuilt")
    assert [p.name for p in _entries(root / "cache")] == [entries[0].name]


@pytest.mark.slow
def test_an_unwritable_cache_directory_fits_uncached_with_one_warning(tiny_result, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {**os.environ, cache.ENV_VAR: str(blocker / "cache")}
    done = _fit(tmp_path / "uncached", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("cannot be written") == 1, done.stderr
    # The same inputs through the suite's (writable) cache draw the same numbers.
    assert _fit(tmp_path / "cached").returncode == 0
    assert _same_draws(tmp_path / "uncached", tmp_path / "cached")


def test_an_entry_others_may_write_or_that_another_user_owns_is_never_loaded(tmp_path, monkeypatch):
    entry = tmp_path / "compiled" / "entry"
    entry.mkdir(parents=True, mode=0o700)
    (entry / "callbacks.py").write_text("")
    assert not compiled._untrusted(entry)
    (entry / "callbacks.py").chmod(0o666)
    assert compiled._untrusted(entry)
    (entry / "callbacks.py").chmod(0o600)
    entry.chmod(0o777)
    assert compiled._untrusted(entry)
    entry.chmod(0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(entry).st_uid + 1)
    assert compiled._untrusted(entry)


def test_a_foreign_entry_is_compiled_around_not_loaded_or_replaced(claims, priors, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    compiled.clear_memory()
    model = estimator.model.build_model(claims, priors, capacity=64)
    key = compiled.graph_key(model)
    recipe = estimator.model.ModelRecipe(claims, priors, capacity=64)
    entry = compiled._entry_dir(key)
    entry.mkdir(parents=True)
    (entry / "record.json").write_text("{}")
    entry.chmod(0o777)
    calls = []
    monkeypatch.setattr(compiled, "_build", lambda model, var_names, recipe, where, key: calls.append(where) or "built")
    assert compiled.compile_model(model, recipe=recipe) == "built"
    assert calls == [None], "an untrusted entry must not be the target of a new compile"
    assert (entry / "record.json").read_text() == "{}"
    compiled.clear_memory()


def test_cache_info_and_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "c"))
    cache.write_entry(tmp_path / "c" / "priors" / "x.json", "k", {"params": {}})
    (tmp_path / "c" / "compiled" / "entry").mkdir(parents=True)
    (tmp_path / "c" / "compiled" / "entry" / "callbacks.py").write_text("x" * 2000)
    (tmp_path / "c" / "keep-me.txt").write_text("not the cache's")
    assert cli.main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "c") in out and "compiled/" in out and "priors/" in out
    info = cache.info()
    assert (
        info["kinds"]["compiled"]["entries"] == 1 and info["kinds"]["priors"]["entries"] == 1 and info["bytes"] > 2000
    )
    assert cli.main(["cache", "clear"]) == 0
    assert cache.info()["bytes"] == 0
    assert (tmp_path / "c" / "keep-me.txt").exists(), "clear removes the cache's own folders only"


def test_a_sampler_failure_is_one_message_with_the_input_hash_and_exit_1(tiny_result, tmp_path, monkeypatch, capsys):

    def broken(*args, **kwargs):
        raise RuntimeError(
            "All initialization points failed\n\nCaused by:\n    Logp function returned error\nStack backtrace:\n   0: <unknown>"
        )

    monkeypatch.setattr(sampling, "nutpie_sample", broken)
    assert cli.main(["fit", *TINY, "--out", str(tmp_path / "run")]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Stack backtrace" not in err
    assert "sampling with nutpie failed: RuntimeError: All initialization points failed" in err
    assert "input hash" in err and "--no-cache" in err and "-v" in err
    with pytest.raises(estimator.errors.FitError) as caught:
        estimator.fit(draws=10, tune=10, chains=1, progress=False)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert cli.main(["fit", *TINY[:-1], "-v", "--out", str(tmp_path / "run")]) == cli.EXIT_FAILURE
    assert "Traceback" in capsys.readouterr().err, "-v shows the trace"


def test_a_full_cache_disk_compiles_uncached_with_one_warning(claims, priors, tmp_path, monkeypatch):
    """No space for the staging folder (ENOSPC): the model is compiled without the cache, and the user told once."""

    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(cache, "_WARNED", set())
    compiled.clear_memory()
    real_mkdtemp = tempfile.mkdtemp

    def full(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).is_relative_to(tmp_path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkdtemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    built = []
    real_build = compiled._build

    def build(model, var_names, recipe, entry, key=None):
        if entry is None:  # the uncached compile: recorded, not run (a compile takes half a minute)
            built.append(entry)
            return "compiled uncached"
        return real_build(model, var_names, recipe, entry, key)

    monkeypatch.setattr(compiled, "_build", build)
    recipe = estimator.model.ModelRecipe(claims, priors, capacity=64)
    model = recipe.build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert compiled.compile_model(model, recipe=recipe) == "compiled uncached"
        compiled.clear_memory()
        assert compiled.compile_model(model, recipe=recipe) == "compiled uncached"
    assert built == [None, None]
    said = [w for w in caught if issubclass(w.category, estimator.errors.CacheWarning)]
    assert len(said) == 1 and "No space left" in str(said[0].message)
    assert _entries(tmp_path) == []
    compiled.clear_memory()
