"""Through time: vintages, flows, rate dynamics, forecast horizons, and the backtest."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import estimator
from estimator import names as N
from estimator.backtest import default_vintages, run_backtest
from estimator.claims import claims_known_by, load_claims, subset_claims
from estimator.errors import InputError
from estimator.inference import resolve_as_of
from estimator.model import AR1, DYNAMICS, RANDOM_WALK, build_model, forecast_log_rates
from estimator.timeline import FORECAST_MONTHS, ModelLayout


def test_a_claim_said_one_day_after_the_vintage_is_excluded(claims):
    said = claims.loc["us-state-2024-02-23", "date_said"]
    before = claims_known_by(claims, said - dt.timedelta(days=1))
    on = claims_known_by(claims, said)
    assert "us-state-2024-02-23" not in before.index
    assert "us-state-2024-02-23" in on.index
    assert (before["date_said"] < said).all() and (on["date_said"] <= said).all()
    # The saved ledger text holds exactly the claims kept, so a run reloads as fitted.
    reread = load_claims(text=on.attrs["text"], name="vintage")
    assert list(reread.index) == list(on.index)


def test_a_vintage_before_the_first_claim_is_refused(claims):
    with pytest.raises(InputError, match="no claim was said by"):
        claims_known_by(claims, min(claims["date_said"]) - dt.timedelta(days=1))


def test_fit_known_by_uses_only_the_claims_said_by_then_and_records_it(claims, priors):
    result = estimator.fit(
        claims, priors, known_by="2024-02-26", as_of="2024-02-23", draws=20, tune=20, chains=1, progress=False
    )
    assert set(result.claims.index) == set(claims.index[claims["date_said"] <= dt.date(2024, 2, 26)])
    assert result.manifest["known_by"] == "2024-02-26" and result.manifest["as_of"] == "2024-02-23"
    # Families with no claim by then are left out rather than fitted on their prior alone.
    assert set(result.priors.families) == set(result.claims["source_family"])
    assert "claims known by 2024-02-26" in repr(result)


@pytest.mark.parametrize("dynamics", DYNAMICS)
def test_missiles_delivered_is_a_non_decreasing_series_bounded_by_later_launches(claims, priors, dynamics):
    model = build_model(claims, priors, dynamics=dynamics)
    with model:
        prior = pm.sample_prior_predictive(
            draws=200, var_names=[N.MISSILES_CUMULATIVE, N.CONTAINERS_CUMULATIVE, N.MISSILES_DELIVERED], random_seed=3
        )
    ds = prior["prior"]
    for var in (N.MISSILES_CUMULATIVE, N.CONTAINERS_CUMULATIVE):
        steps = np.diff(ds[var].values, axis=-1)
        assert (steps >= 0).all(), var
    # The headline missiles are the cumulative series at the as-of date (the latest claim's).
    last_edge = ds[N.MISSILES_CUMULATIVE].values[..., -1]
    assert (ds[N.MISSILES_DELIVERED].values <= last_edge + 1e-9).all()


def test_a_launch_claim_counts_every_missile_delivered_by_its_end_whatever_its_period(claims, priors):

    layout = ModelLayout(claims, priors, max(claims["date_said"]))
    i = list(claims.index).index("ua-pgo-2024-02-16")
    row = claims.loc["ua-pgo-2024-02-16"]
    # Its period starts 2023-12-30, but the exposure runs from the start of shipments.
    assert layout.exposure_claims[i].sum() == (row["period_end"] - dt.date.fromisoformat(priors.start_date)).days + 1


def test_an_as_of_date_past_the_forecast_horizon_is_refused(claims):
    last = max([*claims["date_said"], *claims["period_end"]])
    ok = dt.date(last.year + FORECAST_MONTHS // 12, last.month, 1)
    day, months = resolve_as_of(claims, ok)
    assert months == FORECAST_MONTHS and day == ok
    too_far = dt.date(ok.year, ok.month, 28) + dt.timedelta(days=10)
    with pytest.raises(InputError, match="forecasts reach at most"):
        resolve_as_of(claims, too_far)
    assert resolve_as_of(claims, None) == (max(claims["date_said"]), 0)


def test_ar1_forecasts_settle_at_their_stationary_spread_and_random_walks_do_not():
    # 20,000 draws: the sample sd of a normal is within 2% of the truth with
    # probability far above 0.999 (its relative se is 1/sqrt(2n) = 0.5%).
    rng = np.random.default_rng(11)
    n, phi, tau = 20_000, 0.8, 0.3
    start = np.full(n, np.log(50.0) + 2.0)  # two log units above the mean
    ar = forecast_log_rates(AR1, start, np.full(n, np.log(50.0)), np.full(n, tau), np.full(n, phi), 60, rng)
    rw = forecast_log_rates(RANDOM_WALK, start, None, np.full(n, tau), None, 60, rng)
    stationary = tau / np.sqrt(1 - phi**2)
    assert abs(ar[:, -1].std() / stationary - 1) < 0.02
    assert abs(ar[:, -1].mean() - np.log(50.0)) < 0.02  # reverted to the mean
    assert abs(rw[:, -1].std() / (tau * np.sqrt(60)) - 1) < 0.02  # grows as sqrt(months)


@pytest.fixture(scope="module")
def tiny_ledger(tmp_path_factory, claims):
    """Eight claims over three months: vintages at two month ends."""
    keep = [
        "us-nsc-2023-10-13",
        "kr-mnd-2023-10-16",
        "kr-nis-2023-11-01",
        "kr-mnd-2023-12-29",
        "us-wh-2024-01-04",
        "ua-pgo-2024-02-16",
        "us-state-2024-02-23",
        "kr-mnd-2024-02-26",
    ]

    path = tmp_path_factory.mktemp("ledger") / "tiny.csv"
    path.write_text(subset_claims(claims, keep).attrs["text"], encoding="utf-8")
    return path


@pytest.mark.slow
def test_backtest_scores_later_claims_against_baselines_and_resumes(tiny_ledger, tmp_path):
    vintages = ["2023-11-30", "2024-01-31"]
    kw = dict(
        claims=tiny_ledger, vintages=vintages, draws=150, tune=150, chains=1, seed=5, progress=False, method="exact"
    )
    res = run_backtest(tmp_path, **kw)
    scores = res.scores
    # Every claim said after a vintage (within the horizon) is scored at it, and none before.
    ledger = load_claims(tiny_ledger)
    for v in vintages:
        day = dt.date.fromisoformat(v)
        expect = set(ledger.index[ledger["date_said"] > day])
        assert set(scores.loc[pd.to_datetime(scores["vintage"]) == pd.Timestamp(day), N.CLAIM]) == expect
    for col in ("lpd", "prior_lpd"):
        assert np.isfinite(scores[col]).all()
    assert ((scores["pit"] >= 0) & (scores["pit"] <= 1)).all()
    assert set(scores["method"]) == {"exact"}
    assert (tmp_path / "backtest.nc").exists() and json.loads((tmp_path / "summary.json").read_text())["pairs"] == len(
        scores
    )
    # A rerun resumes: no fit is redone and the table is the same.
    mtimes = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "fits").glob("*.npz")}
    again = run_backtest(tmp_path, **kw)
    assert {f.name: f.stat().st_mtime_ns for f in (tmp_path / "fits").glob("*.npz")} == mtimes
    pd.testing.assert_frame_equal(again.scores, scores)
    # The same folder refuses other settings rather than mixing them.
    with pytest.raises(InputError, match="holds a backtest"):
        run_backtest(tmp_path, **{**kw, "seed": 6})
    # Approximate LFO on the same fits: the first vintage is exact, the later one is PSIS or a refit.
    auto = run_backtest(tmp_path / "auto", **{**kw, "method": "auto"})
    assert auto.beliefs["method"].iloc[0] == "exact"
    assert auto.beliefs["method"].iloc[1].startswith(("psis", "exact (k-hat"))


def test_default_vintages_are_month_ends_before_the_last_claim(claims):
    vs = default_vintages(claims)
    assert vs[0] == dt.date(2023, 10, 31)
    assert all((v + dt.timedelta(days=1)).day == 1 for v in vs)
    assert vs[-1] < max(claims["date_said"]) <= vs[-1] + dt.timedelta(days=31)
