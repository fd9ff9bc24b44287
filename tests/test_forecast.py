"""A fit past the claims: the claims' months sampled in the default fit's model, the later months drawn after.

The approach is exact because of a factorisation of the model (``estimator.forecast``),
tested here on the log density itself; the fit is then tested against the default
fit it shares a compiled model with.
"""

import estimator  # isort: skip

import datetime as dt

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from estimator import names as N
from estimator.cache import cache_dir
from estimator.forecast import EXTRAPOLATION_DRAWN, extends
from estimator.model import RANDOM_WALK
from estimator.scoring import unconstrained_model
from estimator.timeline import add_months, default_as_of

SETTINGS = {"draws": 60, "tune": 60, "chains": 2, "seed": 7, "progress": False}


@pytest.fixture(scope="module")
def later(claims):
    """Five months past the latest claim: a forecast date no other test fits at."""
    return add_months(default_as_of(claims), 5)


@pytest.fixture(scope="module")
def fits(claims, priors, later):
    """The default fit, then one at ``later``, with the compiled-model entries each left in the cache."""
    entries = lambda: sorted(p.name for p in (cache_dir() / "compiled").iterdir() if not p.name.startswith("."))  # noqa: E731
    default = estimator.fit(claims, priors, **SETTINGS)
    before = entries()
    forecast = estimator.fit(claims, priors, as_of=later, **SETTINGS)
    return default, forecast, before, entries()


def test_the_model_at_a_later_date_is_the_claims_model_times_standard_normal_innovations(claims, priors, later):
    """log p_later(theta, z, z') = log p_claims(theta, z) + sum log N(z' | 0, 1), at a random point.

    The identity the forecast rests on (estimator.forecast): the months past the claims
    are observed by nothing. Evaluated in both models with transforms removed, at a
    point drawn from the prior; exact up to floating-point rounding (1e-9).
    """
    short = unconstrained_model(claims, priors, default_as_of(claims), None, "ar1", "excluded")
    full = unconstrained_model(claims, priors, later, None, "ar1", "excluded")
    point = {k: np.asarray(v) for k, v in short.initial_point().items()}
    rng = np.random.default_rng(3)
    for rv in short.free_RVs:
        point[rv.name] = np.asarray(pm.draw(rv, random_seed=rng))
    extra = len(full.coords[N.MONTH]) - len(short.coords[N.MONTH])
    assert extra == 5
    full_point = dict(point)
    tail = {}
    for name in (N.RATE_INNOVATIONS, N.MISSILE_RATE_INNOVATIONS):
        tail[name] = rng.standard_normal(extra)
        full_point[name] = np.concatenate([point[name], tail[name]])
    logp_short = short.compile_logp(jacobian=False, mode="FAST_COMPILE")(point)
    logp_full = full.compile_logp(jacobian=False, mode="FAST_COMPILE")(full_point)
    expected = logp_short + sum(stats.norm.logpdf(t).sum() for t in tail.values())
    assert logp_full == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_a_fit_past_the_claims_compiles_nothing_and_keeps_the_default_fits_draws(fits, later):
    """Same seed: every parameter drawn for the claims' months is the default fit's, bit for bit."""
    default, forecast, before, after = fits
    assert after == before, "the forecast compiled a model of its own"
    assert forecast.manifest["extrapolation"] == EXTRAPOLATION_DRAWN
    assert forecast.manifest["as_of"] == str(later)
    d, f = default.posterior, forecast.posterior
    months = d.sizes[N.MONTH]
    assert f.sizes[N.MONTH] == months + 5
    for name in (N.CARGO_MIX, N.FAMILY_BIAS_Z, "container_rate_persistence", "container_rate_mean"):
        np.testing.assert_array_equal(f[name].values, d[name].values)
    np.testing.assert_array_equal(f[N.RATE_INNOVATIONS].values[..., :months], d[N.RATE_INNOVATIONS].values)
    # The deterministics of the claims' months are the same functions of the same draws,
    # evaluated by another backend: equal to rounding.
    np.testing.assert_allclose(f[N.CONTAINER_RATE].values[..., :months], d[N.CONTAINER_RATE].values, rtol=1e-9)
    np.testing.assert_allclose(
        forecast.tree["log_likelihood"].to_dataset()["claims"].values,
        default.tree["log_likelihood"].to_dataset()["claims"].values,
    )


def test_the_months_past_the_claims_follow_the_rate_dynamics(fits):
    """The totals at the later date come from the later months' curve, which keeps rising.

    And the later innovations are standard normal: over 2 chains x 60 draws x 5
    months x 2 flows = 1,200 values, a Kolmogorov-Smirnov test at p > 0.001 (fixed seed).
    """
    default, forecast, _, _ = fits
    f = forecast.posterior
    months = default.posterior.sizes[N.MONTH]
    tail = np.concatenate([f[n].values[..., months:].ravel() for n in (N.RATE_INNOVATIONS, N.MISSILE_RATE_INNOVATIONS)])
    assert tail.size == 1200
    assert stats.kstest(tail, "norm").pvalue > 1e-3
    cumulative = f[N.CONTAINERS_CUMULATIVE].values
    # The as-of date falls inside the last month: the total lies between its two edges.
    assert (cumulative[..., -2] <= f[N.CONTAINERS].values).all() and (
        f[N.CONTAINERS].values <= cumulative[..., -1]
    ).all()
    assert (np.diff(cumulative, axis=-1) >= 0).all()
    assert (f[N.CONTAINERS].values > default.posterior[N.CONTAINERS].values).all()


def test_the_prior_of_a_forecast_is_the_default_prior_continued(fits):
    """The prior group spans the later months, its claims' months equal to the default fit's prior draws."""
    default, forecast, _, _ = fits
    p0, p1 = default.prior, forecast.prior
    months = p0.sizes[N.MONTH]
    assert p1.sizes[N.MONTH] == months + 5
    np.testing.assert_array_equal(p1[N.RATE_INNOVATIONS].values[..., :months], p0[N.RATE_INNOVATIONS].values)
    np.testing.assert_allclose(p1[N.CONTAINER_RATE].values[..., :months], p0[N.CONTAINER_RATE].values, rtol=1e-9)


def test_a_random_walk_forecast_samples_its_own_months():
    """Under a random walk the walk's centring ties every month to the others: no drawing after."""
    assert not extends(RANDOM_WALK)
    assert extends("ar1")


def test_a_saved_forecast_loads_with_its_months(fits, tmp_path):
    _, forecast, _, _ = fits
    forecast.save(tmp_path / "run")
    loaded = estimator.load_result(tmp_path / "run")
    assert loaded.posterior.sizes[N.MONTH] == forecast.posterior.sizes[N.MONTH]
    assert loaded.manifest["extrapolation"] == EXTRAPOLATION_DRAWN
    assert dt.date.fromisoformat(loaded.manifest["sampled_as_of"]) < dt.date.fromisoformat(loaded.manifest["as_of"])
