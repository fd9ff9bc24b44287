"""Fitting, saving and loading a run; diagnostics are reported, never hidden."""

import io
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import estimator
from estimator import names as N
from estimator.cli import EXIT_INPUT, main
from estimator.errors import InputError, SamplingWarning
from estimator.formatting import fmt_number
from estimator.sampling import GROUPS, Diagnostics, diagnose


def test_a_run_carries_its_inputs_and_settings(tiny_result):
    m = tiny_result.manifest
    for key in ("seed", "draws", "chains", "sampler", "versions", "input_hash", "claims_text", "priors_text"):
        assert key in m
    assert set(tiny_result.tree.children) >= {"posterior", "sample_stats", "log_likelihood", "log_prior"}
    assert tiny_result.tree["log_likelihood"][N.CLAIMS].sizes[N.CLAIM] == len(tiny_result.claims)


def test_saved_run_loads_with_the_same_posterior_and_inputs(tiny_result, tiny_result_path):
    loaded = estimator.load_result(tiny_result_path)
    np.testing.assert_array_equal(loaded.posterior[N.SHELLS_152MM].values, tiny_result.posterior[N.SHELLS_152MM].values)
    assert loaded.manifest["input_hash"] == tiny_result.manifest["input_hash"]
    assert list(loaded.claims.index) == list(tiny_result.claims.index)


def test_a_slice_of_month_text_selects_those_months_of_the_posterior(tiny_result):
    post = tiny_result.posterior
    assert isinstance(post.indexes[N.MONTH], pd.DatetimeIndex) and isinstance(
        post.indexes[N.MONTH_EDGE], pd.DatetimeIndex
    )
    first_half = post.sel({N.MONTH: slice("2024-01", "2024-06")})
    assert list(first_half.indexes[N.MONTH].strftime("%Y-%m")) == [f"2024-{m:02d}" for m in range(1, 7)]
    assert first_half[N.CONTAINER_RATE].sizes[N.MONTH] == 6
    np.testing.assert_array_equal(
        first_half[N.CONTAINER_RATE].values, post[N.CONTAINER_RATE].values[:, :, 5:11]
    )  # shipments start in 2023-08
    assert post.sel({N.MONTH_EDGE: pd.Timestamp("2024-01-01")})[N.CONTAINERS_CUMULATIVE].dims == ("chain", "draw")


def test_a_saved_run_keeps_its_months_as_dates(tiny_result, small_run):
    for group in ("posterior", "prior", "log_prior", "constant_data"):
        ds = small_run.tree[group].to_dataset()
        months = [d for d in ds.dims if d in (N.MONTH, N.MONTH_EDGE) or d.endswith("_step")]
        assert months, group
        for dim in months:
            assert ds[dim].dtype == np.dtype("datetime64[ns]"), (group, dim)
            np.testing.assert_array_equal(ds[dim].values, tiny_result.posterior[dim].values)


def test_loading_against_a_different_ledger_says_so(tiny_result_path, tmp_path):
    edited = tmp_path / "edited.csv"
    edited.write_text(estimator.load_claims().attrs["text"].replace("6700", "6800"))
    with pytest.warns(UserWarning, match="differs from the claims"):
        estimator.load_result(tiny_result_path, claims=edited)


def test_same_seed_same_posterior(claims, priors):
    """Fixed seed: two short fits give identical draws (reproducibility, not a statistical claim)."""
    a = estimator.fit(claims, priors, draws=20, tune=20, chains=1, seed=3, progress=False)
    b = estimator.fit(claims, priors, draws=20, tune=20, chains=1, seed=3, progress=False)
    np.testing.assert_array_equal(a.posterior[N.CONTAINERS].values, b.posterior[N.CONTAINERS].values)


def test_missed_thresholds_are_printed_loudly():
    bad = Diagnostics(max_rhat=1.2, min_ess_bulk=35, divergences=4, worst_rhat="fill_152mm", worst_ess="cargo_mix")
    assert not bad.ok
    text = " ".join(bad.problems())
    assert "4 divergent" in text and "1.200" in text and "35" in text


def test_summary_text_has_headline_and_diagnostics(tiny_result):
    text = tiny_result.summary_text(wall=1.0)
    for label in (
        N.LABELS[N.SHELLS_152MM],
        N.LABELS[N.VALUE_USD],
        "P(152mm shells delivered > 2 million)",
        "max R-hat",
        "min tail ESS",
        "divergent transitions",
        "E-BFMI",
    ):
        assert label in text
    # A 2 x 60 draw fit cannot reach ESS 400: the warning must be shown.
    assert "WARNING" in text


def test_summary_dict_is_json(tiny_result):
    d = estimator.summaries.summary_dict(tiny_result)
    json.dumps(d)
    assert 0.0 <= d["p_shells_152mm_above_2_million"] <= 1.0


def _log_density(claims, priors):
    model = estimator.build_model(claims, priors)
    return float(model.compile_logp()(model.initial_point()))


def test_fit_reads_the_figures_of_an_edited_ledger_frame(claims, priors):
    edited = claims.copy()
    edited.loc["us-nsc-2023-10-13", "figure"] *= 10
    result = estimator.fit(edited, priors, draws=5, tune=5, chains=1, seed=1, progress=False)
    assert result.claims.loc["us-nsc-2023-10-13", "low"] == 10_000
    assert "us-nsc-2023-10-13,2023-10-13" in result.manifest["claims_text"]
    assert ",10000," in result.manifest["claims_text"].split("us-nsc-2023-10-13,", 1)[1].splitlines()[0]
    assert _log_density(result.claims, priors) != pytest.approx(_log_density(claims, priors))


def test_fit_of_a_raw_frame_with_a_bad_cell_is_an_input_error(claims, priors):
    raw = pd.read_csv(io.StringIO(claims.attrs["text"])).astype({"figure": object})
    raw.loc[2, "figure"] = "many"
    with pytest.raises(InputError, match=r"<DataFrame>: row 2 \(id [^)]+\): field 'figure'"):
        estimator.fit(raw, priors, draws=5, tune=5, chains=1, progress=False)


def test_a_family_the_prior_file_does_not_declare_is_a_draw_from_the_population(priors):

    claims = estimator.load_claims()
    claims.loc["us-nsc-2023-10-13", "source_family"] = "news_agency_count"
    model = estimator.build_model(claims, priors)
    assert model.coords["family"][-1] == "news_agency_count"
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    assert priors.family_label("news_agency_count") == "news agency count"


def test_a_short_fit_warns_from_python_as_pymc_does(claims, priors, caplog):
    with caplog.at_level("WARNING", logger="estimator"), pytest.warns(SamplingWarning, match="tail ESS"):
        estimator.fit(claims, priors, draws=30, tune=30, chains=2, seed=5, progress=False)
    assert any("missed a diagnostic threshold" in r.getMessage() for r in caplog.records)


def test_tree_depth_and_energy_checks_are_named_in_words():
    bad = Diagnostics(1.0, 500, 0, "", "", min_ess_tail=450, max_treedepth_share=0.12, bfmi=(0.8, 0.21))
    assert not bad.ok
    text = " ".join(bad.problems())
    assert "12% of a chain's draws stopped at the maximum tree depth" in text and "chain 1: 0.21" in text
    assert Diagnostics(1.0, 500, 0, "", "", min_ess_tail=450, max_treedepth_share=0.01, bfmi=(0.8, 0.9)).ok


def test_diagnostics_read_the_sample_stats_of_either_sampler(tiny_result):
    d = diagnose(tiny_result.tree)
    assert d.min_ess_tail is not None and d.max_treedepth_share is not None and len(d.bfmi) == 2
    stats = tiny_result.tree["sample_stats"].to_dataset()
    # The other sampler's names for the same statistics (PyMC's <-> nutpie's).
    pymc_to_nutpie = {"reached_max_treedepth": "maxdepth_reached", "tree_depth": "depth"}
    names = pymc_to_nutpie if "reached_max_treedepth" in stats else {v: k for k, v in pymc_to_nutpie.items()}
    renamed = stats.rename(names)
    renamed[names.get("reached_max_treedepth", "reached_max_treedepth")][:] = True
    tree = tiny_result.tree.copy()
    tree["sample_stats"] = renamed
    assert diagnose(tree).max_treedepth_share == 1.0


def test_diagnostics_dict_keeps_its_old_keys_and_adds_the_new(tiny_result):
    d = tiny_result.diagnostics.as_dict()
    old = {
        "max_rhat",
        "min_ess_bulk",
        "divergences",
        "worst_rhat",
        "worst_ess",
        "rhat_threshold",
        "ess_threshold",
        "ok",
    }
    assert old | {"min_ess_tail", "max_treedepth_share", "bfmi", "min_bfmi", "bfmi_threshold"} <= set(d)
    json.dumps(d)


@pytest.mark.parametrize(
    "value, mcse, expected",
    [
        (10_795, 50, 10_800),
        (10_795, 4, 10_795),
        (2_471_234, 15_000, 2_470_000),
        (0.4137, 0.03, 0.41),
        (47.3, 0.6, 47),
        (5.0, 0.0, 5.0),
    ],
)
def test_headline_figures_keep_only_the_digits_their_mcse_supports(value, mcse, expected):
    assert estimator.summaries.round_to_mcse(value, mcse) == pytest.approx(expected)


def test_summary_prints_headline_figures_rounded_to_their_mcse(tiny_result):

    head = tiny_result.summary()
    row = head.loc[N.CONTAINERS]
    assert row["mcse_median"] > 0
    rounded = estimator.summaries.round_to_mcse(row["median"], row["mcse_median"])
    line = next(line for line in str(tiny_result).splitlines() if line.startswith(row["label"]))
    assert line.split()[-3] == fmt_number(rounded, "table")
    assert rounded != row["median"]


def test_a_saved_run_holds_the_whole_arviz_record(tiny_result_path, tiny_result):

    loaded = estimator.load_result(tiny_result_path)
    assert set(loaded.tree.children) == set(GROUPS)
    pp = loaded.tree["posterior_predictive"][N.CLAIMS]
    assert pp.dims == ("chain", "draw", N.CLAIM)
    assert list(pp[N.CLAIM].values) == list(tiny_result.claims.index)
    for coord in ("quantity", "qualifier", "source_family", "date_said"):
        assert coord in pp.coords and coord in loaded.tree["log_likelihood"][N.CLAIMS].coords
    assert pp.coords["date_said"].dtype.kind == "M"
    assert loaded.tree["constant_data"]["claim_log_low"].sizes[N.CLAIM] == len(tiny_result.claims)


def test_posterior_predictive_is_each_sources_log_estimate(tiny_result):
    post, pp = tiny_result.posterior, tiny_result.tree["posterior_predictive"].to_dataset()
    z = ((pp[N.CLAIMS] - post[N.CLAIM_LOG_MEAN]) / post[N.CLAIM_LOG_SD]).values.ravel()
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15


def test_loading_a_run_reads_its_stored_prior_parameters_without_preliz(tiny_result_path, tiny_result, monkeypatch):
    import preliz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    def refuse(*args, **kwargs):
        raise AssertionError("PreliZ was asked to fit a prior again")

    for fn in ("maxent", "quartile", "dirichlet_mode"):
        monkeypatch.setattr(preliz, fn, refuse)
    loaded = estimator.load_result(tiny_result_path)
    assert loaded.priors.fitted_params() == tiny_result.priors.fitted_params()


@pytest.mark.parametrize("content", ["garbage", "foreign", "empty"])
def test_a_corrupt_or_foreign_file_is_an_input_error_not_a_traceback(content, tmp_path, capsys):

    path = tmp_path / "result.nc"
    if content == "garbage":
        path.write_bytes(b"\x89HDF\r\n not really" * 10)
    elif content == "foreign":
        xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(path, engine="netcdf4")
    else:
        path.write_bytes(b"")
    with pytest.raises(InputError) as info:
        estimator.load_result(path)
    assert info.value.problems[0].file == str(path)
    assert main(["figures", str(path), "--out", str(tmp_path / "figs")]) == EXIT_INPUT
    assert "Traceback" not in capsys.readouterr().err
