"""The cache: keys follow what changes the cached work, bad entries are rebuilt, cache=False bypasses it."""

import ctypes
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import estimator
from estimator import _compiled as compiled
from estimator import cache
from estimator import model as model_module
from estimator import names as N
from estimator import priors as P
from estimator.inference import resolve_as_of
from estimator.model import DEFAULT_DYNAMICS, ModelRecipe, build_model, prior_data_name
from estimator.prior_draws import sample_prior
from estimator.priors import _cached_fit, _fit_cache_path, read_priors_text


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    compiled.clear_memory()
    yield tmp_path / "cache"
    compiled.clear_memory()


def other_versions(monkeypatch):
    real = cache.versions()
    monkeypatch.setattr(cache, "versions", lambda: {**real, "pytensor": real["pytensor"] + ".post1"})


def test_cache_dir_follows_the_environment_variable(cache_dir):
    assert cache.cache_dir() == cache_dir
    assert cache_dir.is_dir()


def test_prior_cache_key_changes_with_the_text_and_the_versions(cache_dir, monkeypatch):
    text = read_priors_text()[1]
    _, key = _cached_fit(text)
    assert _cached_fit(text)[1] == key
    assert _cached_fit(text + "\n# edited\n")[1] != key
    other_versions(monkeypatch)
    assert _cached_fit(text)[1] != key


def test_a_cached_elicitation_gives_the_same_priors(cache_dir):
    fresh = estimator.load_priors(cache=False)
    assert not (cache_dir / "priors").exists(), "cache=False must write nothing"
    stored = estimator.load_priors()
    assert len(list((cache_dir / "priors").iterdir())) == 1
    reused = estimator.load_priors()
    assert fresh.fitted_params() == stored.fitted_params() == reused.fitted_params()
    assert fresh.parameters == reused.parameters


def test_a_corrupt_or_foreign_prior_entry_is_refitted_and_rewritten(cache_dir):
    text = read_priors_text()[1]
    expected = estimator.load_priors(cache=False).fitted_params()
    _, key = _cached_fit(text)
    path = _fit_cache_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    for bad in ("{not json", json.dumps({"key": "another", "format": cache.FORMAT, "params": {"x": {"mu": 1.0}}})):
        path.write_text(bad)
        assert _cached_fit(text)[0] is None
        assert estimator.load_priors().fitted_params() == expected
        assert cache.read_entry(path, key)["params"] == expected


def test_graph_key_ignores_data_values_but_not_structure_or_versions(claims, priors, monkeypatch):
    key = compiled.graph_key(build_model(claims, priors))
    mu = priors.parameters["price_152mm_usd"].params["mu"]
    moved = priors.with_params({"price_152mm_usd": {"mu": mu + 0.5}})
    assert compiled.graph_key(build_model(claims, moved)) == key
    assert compiled.graph_key(build_model(claims, priors, dynamics="random_walk")) != key
    assert compiled.graph_key(build_model(claims, priors, capacity=64)) != key
    other_versions(monkeypatch)
    assert compiled.graph_key(build_model(claims, priors)) != key


def test_a_ledger_with_one_more_claim_shares_the_padded_compiled_model(claims, priors):
    fewer = claims.iloc[:-1]
    assert set(fewer["source_family"]) == set(claims["source_family"])
    assert compiled.graph_key(
        build_model(fewer, priors, as_of=max(claims["date_said"]), capacity=64)
    ) == compiled.graph_key(build_model(claims, priors, capacity=64))


def test_padded_claims_add_nothing_to_the_log_density(claims, priors):
    plain = build_model(claims, priors)
    padded = build_model(claims, priors, capacity=64)
    point = plain.initial_point()
    assert np.isclose(plain.compile_logp()(point), padded.compile_logp()(point))


def test_a_corrupt_or_foreign_compiled_record_is_not_trusted(cache_dir, tmp_path):
    entry = tmp_path / "entry"
    for part in ("logp", "expand"):
        (entry / part).mkdir(parents=True)
        (entry / part / "callbacks.py").write_text("")
    (entry / "record.json").write_text("{truncated")
    assert compiled._read_record(entry, "k") is None
    cache.write_entry(entry / "record.json", "another key", {"n_dim": 1})
    assert compiled._read_record(entry, "k") is None
    cache.write_entry(entry / "record.json", "k", {"n_dim": 1})
    assert compiled._read_record(entry, "k") is not None
    # Each callback is compiled into its own folder: an entry missing either one is rebuilt.
    (entry / "expand" / "callbacks.py").unlink()
    assert compiled._read_record(entry, "k") is None


def test_the_compile_processes_follow_the_setting_else_the_usable_cores(monkeypatch):
    monkeypatch.delenv(compiled.PROCESSES_VAR, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert compiled._compile_processes() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert compiled._compile_processes() == 2  # one per callback at most
    monkeypatch.setenv(compiled.PROCESSES_VAR, "1")
    assert compiled._compile_processes() == 1
    monkeypatch.setenv(compiled.PROCESSES_VAR, "3")
    with pytest.raises(ValueError, match=compiled.PROCESSES_VAR):
        compiled._compile_processes()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::estimator.errors.SamplingWarning")
def test_cached_and_uncached_nutpie_fits_give_identical_draws(claims, priors, cache_dir):
    kw = {"draws": 50, "tune": 50, "chains": 2, "seed": 5, "sampler": "nutpie", "progress": False}
    first = estimator.fit(claims, priors, **kw)
    records = list((cache_dir / "compiled").glob("*/record.json"))
    assert len(records) == 1
    records[0].write_text("{corrupt")  # the next process must rebuild, not trust it
    compiled.clear_memory()
    rebuilt = estimator.fit(claims, priors, **kw)
    assert cache.read_entry(records[0], json.loads(records[0].read_text())["key"]) is not None
    compiled.clear_memory()
    loaded = estimator.fit(claims, priors, **kw)
    uncached = estimator.fit(claims, priors, cache=False, **kw)
    for other in (rebuilt, loaded, uncached):
        for group in ("posterior", "log_likelihood", "log_prior", "posterior_predictive"):
            a, b = first.tree[group].to_dataset(), other.tree[group].to_dataset()
            assert all(np.array_equal(a[v].values, b[v].values) for v in a.data_vars), group


@pytest.mark.filterwarnings("ignore::estimator.errors.SamplingWarning")
def test_a_refit_of_the_same_graph_is_labelled_with_its_own_claims(claims, priors):
    # The second fit reuses the first one's compiled model (same months, families and padded
    # claim count) with other claim ids: its draws must carry its own ids, not the first's.
    kw = {"draws": 10, "tune": 10, "chains": 1, "seed": 3, "progress": False}
    estimator.fit(claims, priors, **kw)
    renamed = claims.rename(index=lambda i: f"{i}-renamed")
    renamed["id"] = renamed.index
    renamed["restates"] = [f"{r}-renamed" if r else "" for r in renamed["restates"]]
    again = estimator.fit(renamed, priors, **kw)
    for group in ("posterior", "log_likelihood", "posterior_predictive"):
        ids = [str(c) for c in again.tree[group].to_dataset()[N.CLAIM].values]
        assert ids == list(renamed.index), group


@pytest.mark.filterwarnings("ignore::estimator.errors.SamplingWarning")
def test_a_refit_with_a_prior_moved_draws_what_a_fresh_fit_of_it_draws(claims, priors):
    """A refit in this process reuses the compiled model but starts from its own model's initial point."""
    kw = {"draws": 10, "tune": 10, "chains": 1, "seed": 3, "progress": False}
    mu = priors.parameters["price_152mm_usd"].params["mu"]
    moved = priors.with_params({"price_152mm_usd": {"mu": mu + 0.5}})
    estimator.fit(claims, priors, **kw)
    refit = estimator.fit(claims, moved, **kw)
    compiled.clear_memory()
    fresh = estimator.fit(claims, moved, **kw)
    np.testing.assert_array_equal(
        refit.tree["posterior"][N.VALUE_USD].values, fresh.tree["posterior"][N.VALUE_USD].values
    )


def test_prior_data_swapped_in_move_the_initial_point_as_a_model_built_with_them(claims, priors):
    """with_data (sweeps, sensitivity) starts the chains where a model built with the new prior settings starts them."""

    mu = priors.parameters["price_152mm_usd"].params["mu"]
    moved = priors.with_params({"price_152mm_usd": {"mu": mu + 0.5}})
    base = compiled.compile_model(build_model(claims, priors), recipe=ModelRecipe(claims, priors))
    own = compiled.compile_model(build_model(claims, moved), recipe=ModelRecipe(claims, moved))
    swapped = compiled.with_data(base, **{prior_data_name("price_152mm_usd", "mu"): np.asarray(mu + 0.5)})
    # Exact equality: the same compiled function at the same data and seed.
    np.testing.assert_array_equal(swapped.initial_point_func(7), own.initial_point_func(7))
    assert not np.array_equal(base.initial_point_func(7), own.initial_point_func(7))
    # The base model's function still reads its own data after another was bound.
    np.testing.assert_array_equal(
        base.initial_point_func(7),
        compiled.compile_model(build_model(claims, priors), recipe=ModelRecipe(claims, priors)).initial_point_func(7),
    )


def _compiled_logp(compiled_model, point: dict) -> float:
    """The log density (with Jacobian) the compiled C callback gives at a point of the model's value variables."""

    names, slices, _ = compiled_model.shape_info
    x = np.zeros(compiled_model.n_dim)
    for name, where in zip(names, slices):
        if name in point:
            x[where] = np.ravel(point[name])
    grad, logp = np.zeros(compiled_model.n_dim), np.zeros(())
    dbl = ctypes.POINTER(ctypes.c_double)
    status = compiled_model.compiled_logp_func.ctypes(
        ctypes.c_uint64(compiled_model.n_dim),
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl),
        ctypes.c_void_p(compiled_model.user_data.ctypes.data),
    )
    assert status == 0
    return float(logp)


@pytest.mark.slow
def test_a_model_its_recipe_no_longer_rebuilds_is_compiled_here_and_not_cached(claims, priors, cache_dir, monkeypatch):
    """A module setting changed after import: the compiling child rebuilds another graph, so nothing is cached under this key."""

    monkeypatch.setattr(model_module, "NOISE_FLOOR", 0.2)
    m = build_model(claims, priors)
    result = compiled.compile_model(m, recipe=ModelRecipe(claims, priors), cache=True)
    assert not list((cache_dir / "compiled").glob("*/record.json"))
    point = m.initial_point()
    # The patched model's density (tolerance: float64 round-off over ~50 claims), which the unpatched one is not.
    assert _compiled_logp(result, point) == pytest.approx(m.compile_logp()(point), rel=1e-10)
    monkeypatch.undo()
    assert m.compile_logp()(point) != pytest.approx(build_model(claims, priors).compile_logp()(point), rel=1e-6)


def test_a_re_elicited_prior_is_fitted_once_then_read_back(cache_dir, monkeypatch):
    """A sweep setting (a new interval) is fitted by PreliZ once; later calls, in any process, read the stored fit."""

    spec = estimator.load_priors().parameters["price_152mm_usd"]
    change = {"lower": 400.0, "upper": 625.0}
    first = P.reelicit(spec, change, file="sweep.toml", where="point")
    assert len(list((cache_dir / "priors").glob("*.json"))) == 2  # the prior file's fit and this one

    def no_fit(entry):
        raise AssertionError("fitted again instead of read from the cache")

    monkeypatch.setattr(P, "_elicit", no_fit)
    again = P.reelicit(spec, change, file="sweep.toml", where="point")
    assert again == first and first.params != spec.params
    # Another interval is a new fit: with the fit disabled, that is what fails.
    with pytest.raises(AssertionError, match="fitted again"):
        P.reelicit(spec, {"lower": 410.0, "upper": 625.0}, file="sweep.toml", where="point")


_PRIOR_DRAWS_CHILD = """
import json, sys, types
import numpy as np
import estimator
from estimator.prior_draws import sample_prior
spec = json.loads(open(sys.argv[1]).read())
priors = estimator.load_priors(text=spec["text"], name="priors", fitted=spec["fitted"])
result = types.SimpleNamespace(claims=estimator.load_claims(), priors=priors, manifest=spec["manifest"])
prior = sample_prior(result, draws=spec["draws"])
np.savez(sys.argv[2], **{name: prior[name].values for name in prior.data_vars})
"""


def test_prior_draws_compile_nothing_and_are_the_same_in_a_fresh_process(claims, priors, tmp_path):
    # The prior draws run on PyTensor's Python linker: a fresh process whose PyTensor compile
    # folder is empty (a new machine) draws exactly what this process draws, whatever this
    # process has compiled or cached before, and leaves no numba code in that folder.
    manifest = {"as_of": str(resolve_as_of(claims)[0]), "dynamics": DEFAULT_DYNAMICS}
    spec = {"text": priors.text, "fitted": priors.fitted_params(), "manifest": manifest, "draws": 200}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {
        **os.environ,
        "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}",
        cache.ENV_VAR: str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PRIOR_DRAWS_CHILD, str(tmp_path / "spec.json"), str(tmp_path / "fresh.npz")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    here = sample_prior(types.SimpleNamespace(claims=claims, priors=priors, manifest=manifest), draws=200)
    fresh = np.load(tmp_path / "fresh.npz")
    assert sorted(fresh.files) == sorted(here.data_vars)
    for name in fresh.files:
        np.testing.assert_array_equal(fresh[name], here[name].values, err_msg=name)
    compiled_files = [
        p.name for p in (tmp_path / "pytensor").rglob("*") if p.is_file() and p.suffix in {".nbi", ".nbc"}
    ]
    assert not compiled_files, compiled_files[:5]
