"""The model builder: pure, one likelihood term per claim, numerically stable interval likelihoods."""

import copy

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.model.fgraph import clone_model
from pymc.model.transform.conditioning import remove_value_transforms
from pytensor.graph import rewrite_graph
from scipy import stats

import estimator
from estimator import names as N
from estimator.coordinates import CENTRING_WEIGHT, LevelCoordinate, PartialCentring
from estimator.likelihood import (
    CLAIM_FORM,
    CLAIM_LOG_FIGURE,
    CLAIM_LOG_HIGH,
    CLAIM_LOG_LOW,
    claim_data,
    claims_logp,
    log_diff_normal_cdf,
    log_normal_cdf,
)
from estimator.model import build_model
from estimator.timeline import ModelLayout


def _fn(expr, *inputs):
    return pytensor.function(list(inputs), expr)


def test_log_diff_normal_cdf_matches_scipy_in_both_tails():
    """Reference: scipy's log of Phi(b) - Phi(a) computed in the tail where it is accurate.

    Tolerance 1e-8 relative: both sides are double-precision evaluations of the same function.
    """
    a, b = pt.dvector("a"), pt.dvector("b")
    f = _fn(log_diff_normal_cdf(a, b), a, b)
    av = np.array([-40.0, -8.0, -1.0, 0.5, 8.0, 30.0])
    bv = np.array([-39.0, -7.0, 1.0, 2.0, 9.0, 31.0])
    # scipy: the lower tail for intervals below zero, the upper tail (logsf) for those above.
    ref = np.empty_like(av)
    up = av > 0
    la, lb = stats.norm.logsf(av[up]), stats.norm.logsf(bv[up])
    ref[up] = la + np.log1p(-np.exp(lb - la))
    la, lb = stats.norm.logcdf(av[~up]), stats.norm.logcdf(bv[~up])
    ref[~up] = lb + np.log1p(-np.exp(la - lb))
    np.testing.assert_allclose(f(av, bv), ref, rtol=1e-8)


def test_naive_difference_fails_where_ours_does_not():
    """Far in the upper tail, Phi(b) - Phi(a) rounds to 0 in double precision; ours stays finite."""
    assert stats.norm.cdf(31.0) - stats.norm.cdf(30.0) == 0.0
    a, b = pt.dvector("a"), pt.dvector("b")
    out = _fn(log_diff_normal_cdf(a, b), a, b)(np.array([30.0]), np.array([31.0]))
    assert np.isfinite(out).all() and out[0] == pytest.approx(stats.norm.logsf(30.0), rel=1e-6)


def test_log_normal_cdf_matches_scipy_with_finite_gradients_where_it_is_used():
    """log_diff_normal_cdf calls it at z <= 0 only. Tolerance 1e-12 relative: one erfcx, a log and a square."""
    z = pt.dvector("z")
    zs = np.array([-1e4, -200.0, -40.0, -8.0, -1.0, -1e-3, 0.0])
    value, grad = _fn([log_normal_cdf(z), pytensor.grad(log_normal_cdf(z).sum(), z)], z)(zs)
    np.testing.assert_allclose(value, stats.norm.logcdf(zs), rtol=1e-12)
    assert np.isfinite(grad).all()


def test_log_diff_normal_cdf_gradient_is_finite_at_every_pair_of_ends():
    """Both branches are evaluated for every pair, so neither may give NaN, including the open ends of one-sided claims."""
    a, b = pt.dvector("a"), pt.dvector("b")
    ends = np.array([-1e4, -200.0, -40.0, -1.0, 0.0, 1.0, 40.0, 200.0, 1e4])
    av, bv = (x.ravel() for x in np.meshgrid(ends, ends))
    keep = av < bv
    value, ga, gb = _fn([log_diff_normal_cdf(a, b), *pytensor.grad(log_diff_normal_cdf(a, b).sum(), [a, b])], a, b)(
        av[keep], bv[keep]
    )
    assert np.isfinite(ga).all() and np.isfinite(gb).all()
    assert (value <= 0).all() and np.isfinite(value).all()


def test_building_leaves_the_callers_inputs_unchanged(claims, priors):
    claims_before, priors_before = claims.copy(deep=True), copy.deepcopy(priors)
    estimator.build_model(claims, priors)
    assert claims.equals(claims_before)
    assert priors.parameters == priors_before.parameters and priors.families == priors_before.families


def test_one_log_likelihood_term_per_claim(claims, priors):
    m = estimator.build_model(claims, priors)
    terms = m.compile_fn(m.logp(vars=[m[N.CLAIMS]], sum=False)[0], inputs=m.value_vars, on_unused_input="ignore")
    out = terms(m.initial_point())
    assert out.shape == (len(claims),) and np.isfinite(out).all()


def _claim_logp_at(claims, claim_id, log_means, sigma=0.2):
    """Log-likelihood of one claim when the source's expected log figure is each of ``log_means``."""
    data = claim_data(claims)
    mu, sd = pt.dvector("mu"), pt.dvector("sd")
    f = pytensor.function(
        [mu, sd],
        claims_logp(
            pt.as_tensor(data[CLAIM_LOG_FIGURE]),
            mu,
            sd,
            pt.as_tensor(data[CLAIM_LOG_LOW]),
            pt.as_tensor(data[CLAIM_LOG_HIGH]),
            pt.as_tensor(data[CLAIM_FORM]),
        ),
    )
    i = list(claims.index).index(claim_id)
    out = []
    for v in log_means:
        m = np.zeros(len(claims))
        m[i] = v
        out.append(f(m, np.full(len(claims), sigma))[i])
    return np.array(out)


def test_more_than_claim_never_puts_mass_below_its_figure(claims, priors):
    """'More than 10,000': the likelihood falls as the source's expected figure drops below 10,000."""
    lp = _claim_logp_at(claims, "us-state-2024-02-23", np.log([2_000, 5_000, 9_000, 14_000]))
    assert lp[0] < lp[1] < lp[2] < lp[3]


def test_cumulative_containers_never_decrease(claims, priors):
    layout = ModelLayout(claims, priors, "2024-02-23")
    rates = np.random.default_rng(0).lognormal(3, 1, size=len(layout.months))
    curve = layout.exposure_edges @ rates
    assert np.all(np.diff(curve) >= 0)
    # Claim periods are counted in days: Sep 7 - Oct 1 2023 inclusive is 25 days.
    row = list(claims.index).index("us-nsc-2023-10-13")
    assert layout.exposure_claims[row].sum() == 25


def test_month_coordinates_are_the_first_days_of_the_months(claims, priors):
    """Months are datetime64 (not text), so xarray selects them by date; innovations start a month later."""
    m = estimator.build_model(claims, priors, dynamics="random_walk")
    months = np.array(m.coords[N.MONTH])
    assert months.dtype == np.dtype("datetime64[ns]")
    assert (
        months[0] == np.datetime64(priors.start_date[:7] + "-01")
        and (months.astype("datetime64[D]") == months.astype("datetime64[M]")).all()
    )
    edges = np.array(m.coords[N.MONTH_EDGE])
    assert (
        edges.dtype == months.dtype
        and (edges[:-1] == months).all()
        and edges[-1] == (months[-1].astype("datetime64[M]") + np.timedelta64(1, "M")).astype(months.dtype)
    )
    for step in (f"{N.RATE_INNOVATIONS}_step", f"{N.MISSILE_RATE_INNOVATIONS}_step"):
        assert (np.array(m.coords[step]) == months[1:]).all()


def test_as_of_before_start_is_refused(claims, priors):
    with pytest.raises(ValueError, match="before the start"):
        estimator.build_model(claims, priors, as_of="2023-01-01")


def test_about_claim_peaks_at_its_figure_and_launches_only_bound_below(claims):
    about = _claim_logp_at(claims, "kr-mnd-2024-02-26", np.log([3_000, 6_700, 15_000]))
    assert about[1] > about[0] and about[1] > about[2]
    launched = _claim_logp_at(claims, "ua-pgo-2024-02-16", np.log([5, 24, 500, 5_000]))
    assert launched[0] < launched[1] < launched[2] and launched[3] == pytest.approx(0.0, abs=1e-12)


def test_every_likelihood_form_matches_scipy_with_finite_gradients():
    """Each form against scipy, for expected log figures from deep below to far above the bounds.

    All four forms are evaluated for every claim (the form is data), so the
    gradient must stay finite for every claim whatever its form. Tolerance:
    1e-8 relative, float64 round-off on a handful of operations.
    """
    log_low, log_high = np.log(1_000.0), np.log(2_000.0)
    mus = np.log([10.0, 500.0, 1_400.0, 5_000.0, 1e9])
    sigma = 0.2
    rows = []  # (form, observed, low, high, scipy log-likelihood of mu)
    for mu in mus:
        rows.append((0, log_low, log_low, log_low + 1.0, stats.norm.logpdf(log_low, mu, sigma)))
        rows.append((1, log_low, log_low, log_low + 1.0, stats.norm.logsf(log_low, mu, sigma)))
        rows.append((2, log_high, log_high - 1.0, log_high, stats.norm.logcdf(log_high, mu, sigma)))
        a, b = (log_low - mu) / sigma, (log_high - mu) / sigma
        # Difference of CDFs on the side where it does not cancel; scipy underflows to 0 far out.
        with np.errstate(divide="ignore"):
            ref = (
                np.log(stats.norm.sf(a) - stats.norm.sf(b)) if a > 0 else np.log(stats.norm.cdf(b) - stats.norm.cdf(a))
            )
        rows.append((3, log_low, log_low, log_high, ref))
    form, obs, lo, hi, expected = (np.array(c) for c in zip(*rows))
    mu_all = np.repeat(mus, 4)
    mu = pt.dvector("mu")
    out = claims_logp(
        pt.as_tensor(obs),
        mu,
        pt.as_tensor(np.full(len(rows), sigma)),
        pt.as_tensor(lo),
        pt.as_tensor(hi),
        pt.as_tensor(form.astype("int64")),
    )
    f = pytensor.function([mu], [out, pytensor.grad(out.sum(), mu)])
    value, grad = f(mu_all)
    finite = np.isfinite(expected)
    assert finite.sum() >= len(rows) - 1  # scipy itself underflows at most for the deepest interval
    np.testing.assert_allclose(value[finite], expected[finite], rtol=1e-8)
    assert np.isfinite(value).all() and np.isfinite(grad).all()


def test_a_compiled_model_takes_a_ledger_whose_bound_changed_side(claims, priors):
    """Claim forms are data: setting another ledger's data equals building the model on it."""

    flipped = claims.copy()
    flipped.loc["ua-pgo-2024-02-16", ["qualifier", "low", "high"]] = ["up_to", -np.inf, 24.0]
    m = estimator.build_model(claims, priors)
    logp = m.compile_logp()
    point = m.initial_point()
    before = logp(point)
    with m:
        pm.set_data(claim_data(flipped))
    after = logp(point)
    rebuilt = estimator.build_model(flipped, priors)
    assert after != pytest.approx(before)
    assert after == pytest.approx(rebuilt.compile_logp()(rebuilt.initial_point()), rel=1e-12)


# ---------------------------------------------------------------- sampler coordinates


def _random_point(model, seed):
    rng = np.random.default_rng(seed)
    return {k: v + rng.normal(0.0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}


def test_sampler_coordinates_leave_the_model_unchanged(claims, priors):
    """The coupled transforms move the sampler, not the model.

    At random points of the sampler's space, the log density without
    Jacobian equals that of the same model with every value transform
    removed, evaluated at the parameters the point maps to; the Jacobian term
    of each coupled variable is the one its docstring states. Tolerance 1e-8:
    both are the same sums in float64.
    """

    model = build_model(claims, priors)
    kinds = {rv.name: type(t) for rv, t in model.rvs_to_transforms.items() if t is not None}
    assert kinds["container_rate_mean"] is LevelCoordinate and kinds["rate_innovations"] is PartialCentring
    plain = remove_value_transforms(model)
    # The parameters as functions of the sampler's values (what nutpie stores per draw).
    constrained = {v.name: v for v in model.unobserved_value_vars}
    names = [rv.name for rv in model.free_RVs]
    to_params = model.compile_fn([constrained[n] for n in names], inputs=model.value_vars, on_unused_input="ignore")
    logp = model.compile_logp(jacobian=False)
    plain_logp = plain.compile_logp()
    n_months = model.dim_lengths["month"].eval()
    for seed in range(3):
        point = _random_point(model, seed)
        params = dict(zip(names, to_params(point)))
        assert logp(point) == pytest.approx(
            plain_logp({plain.rvs_to_values[rv].name: params[rv.name] for rv in plain.free_RVs}), abs=1e-8
        )
        jacobian = model.compile_logp(vars=[model["container_rate_mean"], model["rate_innovations"]])(
            point
        ) - model.compile_logp(vars=[model["container_rate_mean"], model["rate_innovations"]], jacobian=False)(point)
        expected = np.log(params["container_rate_mean"]) - CENTRING_WEIGHT * n_months * np.log(
            params["container_rate_volatility"]
        )
        assert jacobian == pytest.approx(expected, abs=1e-8)


def test_sampler_coordinates_survive_cloning_and_rewrites(claims, priors):
    """A clone has the same log density, and rewriting a log-density graph in place (nutpie does) changes no later one."""

    model = build_model(claims, priors)
    point = _random_point(model, 7)
    before = model.compile_logp()(point)
    clone = clone_model(model)
    assert clone.compile_logp()(point) == pytest.approx(before, abs=1e-10)
    rewrite_graph(model.logp(), include=["canonicalize", "stabilize"], clone=False)
    assert model.compile_logp()(point) == pytest.approx(before, abs=1e-10)


def test_the_initial_point_does_not_depend_on_the_claims_or_the_call(claims, priors):
    """The initial point is the priors' support points, the same for two builds and two calls (no random coupling)."""
    flipped = claims.copy()
    flipped.loc["ua-pgo-2024-02-16", ["qualifier", "low", "high"]] = ["up_to", -np.inf, 24.0]
    a, b = build_model(claims, priors), build_model(flipped, priors)
    first, second, other = a.initial_point(), a.initial_point(), b.initial_point()
    for name, value in first.items():
        np.testing.assert_array_equal(value, second[name])
        np.testing.assert_array_equal(value, other[name])


# Restatements (estimator.model, "Restatements"): how a claim that repeats an earlier row's estimate counts.


@pytest.fixture(scope="module")
def restatement_models(claims, priors):
    """Per option: each claim's likelihood term, log mean and log sd at the model's initial point (and at e = 1 when shared)."""
    out = {}
    for mode in ("independent", "excluded", "shared"):
        m = build_model(claims, priors, restatements=mode)
        # Moments in the value variables: compiled as random variables they would be drawn afresh.
        moments = m.replace_rvs_by_values([m[N.CLAIM_LOG_MEAN], m[N.CLAIM_LOG_SD]])
        fn = m.compile_fn(
            [m.logp(vars=[m[N.CLAIMS]], sum=False)[0], *moments], inputs=m.value_vars, on_unused_input="ignore"
        )
        point = m.initial_point()
        out[mode] = {"model": m, "at": fn(point)}
        if mode == "shared":
            out[mode]["at_e1"] = fn({**point, "restatement_error": np.ones_like(point["restatement_error"])})
    return out


def test_an_excluded_restatement_adds_no_likelihood_and_leaves_every_other_term_as_it_was(claims, restatement_models):
    restated = (claims["restates"] != "").to_numpy()
    assert restated.sum() == 4
    excluded, independent = restatement_models["excluded"]["at"][0], restatement_models["independent"]["at"][0]
    assert (excluded[restated] == 0).all() and (independent[restated] != 0).all()
    np.testing.assert_array_equal(excluded[~restated], independent[~restated])


def test_shared_restatements_keep_each_claims_marginal_and_differ_only_by_the_retelling(claims, restatement_models):
    """With e_g the group's shared error: mu_i(e) = mu_i + sqrt(sigma_i^2 - r^2) e and sd r, so var over e is sigma_i^2 exactly.

    Tolerance 1e-12: the same float64 expressions evaluated twice.
    """
    shared = restatement_models["shared"]
    assert shared["model"].coords["restatement_group"] == (
        "us-wh-2024-01-04",
        "kr-mnd-2024-02-26",
        "kr-dia-2024-08-27",
        "ua-president-2024-10-28",
    )
    in_group = (
        claims.index.isin(list(shared["model"].coords["restatement_group"])) | (claims["restates"] != "").to_numpy()
    )
    assert in_group.sum() == 8
    _, mu_ind, sd_ind = restatement_models["independent"]["at"]
    _, mu0, sd0 = shared["at"]
    _, mu1, _ = shared["at_e1"]
    r = 0.05  # RETELLING_NOISE
    np.testing.assert_allclose(sd0[in_group], r, rtol=1e-12)
    np.testing.assert_allclose(mu0[in_group], mu_ind[in_group], rtol=1e-12)
    np.testing.assert_allclose(mu1[in_group] - mu0[in_group], np.sqrt(sd_ind[in_group] ** 2 - r**2), rtol=1e-12)
    np.testing.assert_allclose((mu1 - mu0)[in_group] ** 2 + sd0[in_group] ** 2, sd_ind[in_group] ** 2, rtol=1e-12)
    np.testing.assert_array_equal(mu0[~in_group], mu_ind[~in_group])
    np.testing.assert_array_equal(sd0[~in_group], sd_ind[~in_group])


def test_a_restatement_whose_original_is_left_out_counts_as_an_original(claims, priors):
    keep = [c for c in claims.index if c != "kr-dia-2024-08-27"]
    sub = estimator.claims.subset_claims(claims, keep)
    m = build_model(sub, priors, restatements="excluded")
    counted = m["claim_counted"].get_value()
    assert counted[list(sub.index).index("kr-nis-2024-10-18")] == 1 and counted.sum() == len(sub) - 3
    assert "restatement_group" not in build_model(sub, priors, restatements="independent").coords


def test_an_unknown_restatements_option_is_refused(claims, priors):
    with pytest.raises(ValueError, match="unknown restatements option 'dropped'; one of excluded, shared, independent"):
        build_model(claims, priors, restatements="dropped")
