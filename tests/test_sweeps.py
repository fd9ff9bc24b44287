"""Sweeps: validated files, seeds tied to points, resumable and worker-independent results."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from estimator.claims import read_claims_text
from estimator.errors import InputError
from estimator.priors import read_priors_text
from estimator.sweep_file import apply_overrides, load_sweep, point_seed
from estimator.sweeps import APPROX, run_sweep

DATA = Path(__file__).parent / "data"
SMALL = DATA / "sweep_small.toml"
# Measured columns differ between runs by nature; everything else must match exactly.
TIMING = ["wall_seconds"]


def test_bad_sweep_file_lists_every_problem():
    with pytest.raises(InputError) as info:
        load_sweep(DATA / "sweep_bad.toml")
    text = str(info.value)
    assert "[base]: field 'draws'" in text
    assert "did you mean 'price_152mm_usd'" in text
    assert "fill_152mm: field 'upper': interval is reversed" in text


def test_point_seed_depends_on_the_point_not_its_position():
    a, b = {"x.lower": 1}, {"x.lower": 2}
    assert point_seed(7, a) == point_seed(7, dict(a))
    assert point_seed(7, a) != point_seed(7, b) and point_seed(7, a) != point_seed(8, a)


def test_overrides_that_fail_only_when_their_point_runs_are_named_at_load():
    """Every point is checked before any runs: each problem names the sweep file, the point, the prior and the field."""
    path = DATA / "sweep_fails_when_run.toml"
    with pytest.raises(InputError) as info:
        load_sweep(path)
    found = {(p.row, p.field) for p in info.value.problems}
    assert {p.file for p in info.value.problems} == {str(path)}
    assert found == {
        ("[[points]] 2: price_152mm_usd", "params.sigma"),
        ("[[points]] 3: cargo_mix", "mode"),
        ("[[points]] 4: cargo_mix", "params.alpha"),
        ("[[points]] 5: fill_152mm", "params"),
        ("[[points]] 6: fill_152mm", "params.alpha"),
        ("[[points]] 7: family_log_noise_spread", "params.beta"),
        ("[[points]] 8", "as_of"),
    }, str(info.value)


def _write_sweep(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


_POINT = '[[points]]\n"price_152mm_usd.lower" = 450\n'


@pytest.mark.parametrize(
    ("base", "field"),
    [
        ("draws = 9223372036854775807", "draws"),
        ("tune = 9223372036854775807", "tune"),
        ("reference_draws = 1000001", "reference_draws"),
        ("chains = 65", "chains"),
        ("chains = 0", "chains"),
        ("seed = -1", "seed"),
        ("claims = 5", "claims"),
        ("claims = true", "claims"),
        ('claims = ""', "claims"),
        ('claims = "."', "claims"),
        ("priors = 1.5", "priors"),
        ('priors = "."', "priors"),
        ('as_of = "2020-01-01"', "as_of"),
        ('as_of = "9999-12-31"', "as_of"),
    ],
)
def test_base_settings_out_of_range_are_named(tmp_path, sweep_file, base, field):
    path = _write_sweep(tmp_path / "s.toml", f"[base]\n{base}\n{_POINT}")
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert [(p.file, p.row, p.field) for p in info.value.problems] == [(str(path), "[base]", field)], str(info.value)


@pytest.mark.parametrize("what", ["sweep", "priors"])
def test_a_sweep_or_its_prior_file_that_is_not_utf8_is_named(tmp_path, what):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01 not text")
    path = binary if what == "sweep" else _write_sweep(tmp_path / "s.toml", f'[base]\npriors = "binary.toml"\n{_POINT}')
    with pytest.raises(InputError, match="not UTF-8") as info:
        load_sweep(path)
    assert [(p.file, p.row) for p in info.value.problems] == [
        (str(binary.resolve() if what == "priors" else binary), "file")
    ]


def test_a_sweep_file_with_a_byte_order_mark_loads(tmp_path, sweep_file):
    path = tmp_path / "bom.toml"
    path.write_bytes(("[base]\nseed = 4\n" + _POINT).encode("utf-8-sig"))
    spec = load_sweep(path)
    assert spec.seed == 4 and spec.points == [{"price_152mm_usd.lower": 450}]


def test_a_point_may_keep_the_parametrisation_and_change_a_parameter(sweep_file, priors, tmp_path):
    sigma = priors.parameters["price_152mm_usd"].params["sigma"] * 1.5
    path = _write_sweep(
        tmp_path / "s.toml", f'[[points]]\n"price_152mm_usd.params.sigma" = {sigma}\n[[points]]\nas_of = "2024-06-01"\n'
    )
    spec = load_sweep(path)
    new, options = apply_overrides(priors, spec.points[0], file=str(path), where="point")
    assert new.parameters["price_152mm_usd"].params["sigma"] == sigma and options == {}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return out, run_sweep(SMALL, out, progress=False)


def _same(a: pd.DataFrame, b: pd.DataFrame):
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING))


@pytest.mark.slow
def test_small_sweep_writes_table_dataset_and_point_files(uninterrupted):

    out, table = uninterrupted
    assert len(table) == 3 and (table["status"] == "ok").all()
    assert table["value_usd_median"].between(1e8, 1e11).all()
    # The cheap-shell point must be worth less than the base-like one.
    assert table.loc[2, "value_usd_median"] < table.loc[0, "value_usd_median"]
    assert len(list((out / "points").glob("*.json"))) == 3
    assert xr.open_dataset(out / "sweep.nc", engine="netcdf4").sizes["point"] == 3
    _same(pd.read_parquet(out / "sweep.parquet"), table)


@pytest.mark.slow
def test_rerun_skips_finished_points_and_redoes_missing_ones(uninterrupted, tmp_path):
    out, table = uninterrupted
    copy = tmp_path / "copy"
    (copy / "points").mkdir(parents=True)
    files = sorted((out / "points").glob("*.json"))
    for f in files[1:]:
        (copy / "points" / f.name).write_text(f.read_text())
    (copy / "sweep-manifest.json").write_text((out / "sweep-manifest.json").read_text())
    before = {f.name: os.stat(copy / "points" / f.name).st_mtime_ns for f in files[1:]}
    again = run_sweep(SMALL, copy, progress=False)
    _same(again, table)
    assert before == {name: os.stat(copy / "points" / name).st_mtime_ns for name in before}


@pytest.mark.slow
def test_sweep_killed_midway_resumes_to_the_same_table(uninterrupted, tmp_path):
    _, table = uninterrupted
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "estimator.cli", "sweep", str(SMALL), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 400
    while time.time() < deadline and not list((out / "points").glob("*.json")) and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = list((out / "points").glob("*.json"))
    assert 1 <= len(done) < 3, "the kill should land after the first point and before the last"
    for f in done:
        json.loads(f.read_text())  # no partial files
    _same(run_sweep(SMALL, out, progress=False), table)
    assert not list((out / "points").glob(".*.tmp"))


@pytest.mark.slow
def test_two_dask_workers_give_the_same_table_as_one_process_without_seeing_the_input_files(uninterrupted, tmp_path):
    """The sweep's ledger and prior file are deleted once the sweep is loaded: workers get the inputs, not paths."""
    from distributed import Client, LocalCluster  # noqa: PLC0415 - optional; only with a Dask scheduler

    _, table = uninterrupted
    (tmp_path / "ledger.csv").write_text(read_claims_text()[1], encoding="utf-8")
    (tmp_path / "priors.toml").write_text(read_priors_text()[1], encoding="utf-8")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        SMALL.read_text().replace("[base]\n", '[base]\nclaims = "ledger.csv"\npriors = "priors.toml"\n'),
        encoding="utf-8",
    )
    spec = load_sweep(sweep)
    (tmp_path / "ledger.csv").unlink()
    (tmp_path / "priors.toml").unlink()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with Client(cluster) as client:
            dask_table = run_sweep(spec, tmp_path / "dask", scheduler=client, progress=False)
    _same(dask_table, table)


@pytest.mark.slow
def test_approximate_mode_agrees_with_exact_on_a_small_shift(uninterrupted, tmp_path):
    """For the 4%-shifted price prior, k-hat is small and the reweighted median matches the exact refit.

    Tolerance 10%: the exact refit has 2 x 150 draws, whose median of value_usd carries a Monte Carlo
    error of about 1.25 x sd / sqrt(ESS) = 1.25 x 0.45 / sqrt(250) ~ 3.5% (relative), and the
    reweighted reference adds about 2%; 10% is three combined standard errors.
    """
    _, exact = uninterrupted
    approx = run_sweep(SMALL, tmp_path / "approx", mode=APPROX, progress=False)
    shifted = approx.loc[1]
    assert shifted["method"] == "approx" and shifted["khat"] < 0.7
    rel = abs(shifted["value_usd_median"] / exact.loc[1, "value_usd_median"] - 1)
    assert rel < 0.10
    # The cheap-shell point is far from the reference: it must fall back to an exact refit.
    assert approx.loc[2, "method"].startswith("exact")


# ---------------------------------------------------------------- generated malformed sweep files

import copy  # noqa: E402
import datetime as dt  # noqa: E402
import tomllib  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

GRID_DOC = tomllib.loads((Path(__file__).parents[1] / "sweeps" / "prices-and-fill.toml").read_text())
POINTS_DOC = tomllib.loads(SMALL.read_text())
BASE_KEYS = ("claims", "priors", "as_of", "dynamics", "seed", "draws", "tune", "chains", "reference_draws")
_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=10)
_BAD_DATES = st.one_of(
    st.sampled_from(["2024-02-30", "2024/01/31", "soon", "2020-01-01", "", "31-01-2024"]),
    st.just(dt.date(2019, 5, 1)),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)
# Every prior name a sweep may override: the parameters of the default file (families are pooled).
_PRIORS_DOC = tomllib.loads(read_priors_text()[1])
PRIOR_NAMES = set(_PRIORS_DOC["parameters"])
_NOT_A_COUNT = st.one_of(
    st.integers(max_value=-1),
    st.floats(allow_nan=False).filter(lambda x: x != int(x) if abs(x) < 1e15 else True),
    _WORDS,
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def _sweep_mutation(draw):
    """One edit that makes a valid sweep file invalid: (document, (locator, field) it must name)."""
    grid = draw(st.booleans())
    doc = copy.deepcopy(GRID_DOC if grid else POINTS_DOC)
    i = 0 if grid else draw(st.integers(0, len(doc["points"]) - 1))
    where = "[grid] point 1" if grid else f"[[points]] {i + 1}"
    overrides = doc["grid"] if grid else doc["points"][i]

    def put(key, value):
        overrides[key] = [value] if grid else value

    kind = draw(
        st.sampled_from(
            [
                "base_key",
                "base_count",
                "base_as_of",
                "base_dynamics",
                "not_a_table",
                "grid_values",
                "prior_name",
                "field",
                "as_of",
                "value",
                "shape",
            ]
        )
    )
    if kind == "base_key":
        key = draw(_WORDS.filter(lambda k: k not in BASE_KEYS))
        doc["base"][key] = 1
        return doc, ("[base]", key)
    if kind == "base_count":
        key = draw(st.sampled_from(["seed", "draws", "tune", "chains", "reference_draws"]))
        doc["base"][key] = draw(_NOT_A_COUNT if key == "seed" else st.one_of(_NOT_A_COUNT, st.just(0)))
        return doc, ("[base]", key)
    if kind == "base_as_of":
        doc["base"]["as_of"] = draw(_BAD_DATES.filter(lambda d: not isinstance(d, dt.date) and d != "2020-01-01"))
        return doc, ("[base]", "as_of")
    if kind == "base_dynamics":
        doc["base"]["dynamics"] = draw(
            st.one_of(_WORDS.filter(lambda d: d not in ("ar1", "random_walk")), st.integers())
        )
        return doc, ("[base]", "dynamics")
    if kind == "not_a_table":
        section = draw(st.sampled_from(["base", "grid" if grid else "points"]))
        doc[section] = draw(st.one_of(st.integers(), _WORDS, st.lists(st.integers(), min_size=1, max_size=2)))
        locator = {"base": "[base]", "grid": "[grid]", "points": "[[points]]"}[section]
        if section == "points" and isinstance(doc[section], list):
            locator = "[[points]] 1"
        return doc, (locator, "-")
    if kind == "grid_values" and grid:
        key = draw(st.sampled_from(list(doc["grid"])))
        doc["grid"][key] = draw(st.one_of(st.just([]), st.integers(), _WORDS, st.just({"lower": 1})))
        return doc, ("[grid]", key)
    if kind in ("prior_name", "grid_values"):
        name = draw(_WORDS.filter(lambda k: "." not in k and k not in PRIOR_NAMES and k != "as_of"))
        key = name + draw(st.sampled_from(["", ".lower", ".upper"]))
        put(key, {"lower": 1, "upper": 2} if key == name else 1.0)
        return doc, (where, key)
    if kind == "field":
        var = draw(st.sampled_from(["price_152mm_usd", "fill_152mm"]))
        bad = draw(
            _WORDS.filter(
                lambda f: (
                    f not in ("lower", "upper", "mass", "median", "quartiles", "mode", "bound", "params", "label")
                    and "." not in f
                )
            )
        )
        if draw(st.booleans()):
            put(f"{var}.{bad}", 1.0)
            return doc, (where, f"{var}.{bad}")
        put(var, {"lower": 0.5, bad: 1})
        return doc, (where, f"{var}.{bad}")
    if kind == "as_of":
        put("as_of", draw(_BAD_DATES))
        return doc, (where, "as_of")
    if kind == "value":
        field, value = draw(
            st.sampled_from(
                [("upper", 1.5), ("lower", -0.2), ("mass", 1.0), ("upper", "high"), ("lower", True), ("upper", [0.9])]
            )
        )
        put(f"fill_152mm.{field}", value)
        return doc, (f"{where}: fill_152mm", field)
    if grid:
        doc["points"] = [{"fill_152mm.upper": 0.9}]
    else:
        del doc["points"]
    return doc, ("file", "-")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=_sweep_mutation())
def test_every_malformed_sweep_file_ends_in_one_input_error_naming_file_entry_and_field(
    mutation, sweep_file, toml_text
):
    doc, (where, field) = mutation
    path = sweep_file
    path.write_text(toml_text(doc), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_sweep(path)
    problems = info.value.problems
    assert all(p.file == str(path) and p.row and p.field for p in problems)
    assert any(p.row == where and p.field == field for p in problems), (where, field, str(info.value))


def test_a_prior_given_whole_and_by_part_in_one_point_is_named(priors):
    """Found by the sweep property test: `x.params = 5` with `x.params.mu = 1` raised a TypeError."""
    with pytest.raises(InputError) as info:
        apply_overrides(
            priors, {"price_152mm_usd.params": 5, "price_152mm_usd.params.mu": 6.5}, file="s.toml", where="point 1"
        )
    assert any(p.field == "price_152mm_usd.params.mu" and "whole and by part" in p.message for p in info.value.problems)
