r"""Scoring claims against a fit: the posterior predictive distribution of each source's estimate.

Under the posterior, a claim's source estimate has the predictive
distribution :math:`F(x) = \frac1S \sum_s \Phi((\log x - \mu_s)/\sigma_s)`
(a mixture over posterior draws :math:`s`; :mod:`estimator.model` gives
:math:`\mu, \sigma`), evaluated exactly rather than by simulation. For
dates after the fitted months, each monthly log rate (containers and
missiles) continues the run's own rate dynamics from each draw's last
fitted month (:func:`estimator.model.forecast_log_rates`: a random walk
:math:`\log r_{M+k} = \log r_{M+k-1} + \tau z`, or the AR(1)
:math:`x_{M+k} = \phi x_{M+k-1} + \tau z` about the long-run level),
:math:`z \sim N(0, 1)`: the posterior of the fitted months is kept as it
is (a refit with a longer horizon would re-centre a random walk on more
months and so change the model). A claim from a family the fit never saw
draws that family's bias and noise from the fitted population. Reported per claim: ``p_figure`` (for "more than"
/ "at least": :math:`1 - F(\text{figure})`; "up to":
:math:`F(\text{figure})`; a range: :math:`F(b) - F(a)`; a point: the
two-sided tail probability :math:`2 \min(F, 1 - F)`), and ``in_50`` /
``in_90``, the probability that the source's estimate lies inside the
central 50% / 90% predictive interval given what the claim says of it
(0 or 1 for a point; for a bound or range, the share of
:math:`[F(a), F(b)]` inside :math:`[0.25, 0.75]` or :math:`[0.05, 0.95]`).
For calibrated predictions their averages are 0.5 and 0.9.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
from pymc.model.transform.conditioning import remove_value_transforms
from pytensor.graph.replace import graph_replace, vectorize_graph
from pytensor.graph.traversal import ancestors
from scipy.optimize import brentq
from scipy.special import ndtr

from estimator import claims as C
from estimator import names as N
from estimator.errors import InputError, Problem
from estimator.likelihood import DEFAULT_RESTATEMENTS
from estimator.model import DEFAULT_DYNAMICS, RANDOM_WALK, build_model, forecast_log_rates
from estimator.stats import SURPRISE_P
from estimator.timeline import FORECAST_MONTHS, add_months, months_between

__all__ = ["score_claims", "coverage_summary", "mixture_cdf", "share_inside", "unconstrained_model", "batched_function"]


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def unconstrained_model(claims, priors, as_of, horizon=None, dynamics=None, restatements=None):
    """The model with value transforms removed: its value variables are the parameters themselves."""
    options = {"dynamics": dynamics or DEFAULT_DYNAMICS, "restatements": restatements or DEFAULT_RESTATEMENTS}
    return remove_value_transforms(build_model(claims, priors, as_of=as_of, horizon=horizon, **options))


def batched_function(model, outputs, replace=None, mode=None):
    """Compile ``outputs`` as a function of a batch of parameter values (leading draw axis).

    ``replace`` maps model variables to new unbatched inputs of the same
    shape (e.g. a variable's draws fed in directly). Returns ``(fn, names)``:
    call ``fn(*arrays)`` with one batched array per name, then one per
    ``replace`` entry, in order.
    """
    extra = list((replace or {}).values())
    if replace:
        outputs = graph_replace(outputs, replace, strict=False)
    outputs = model.replace_rvs_by_values(outputs)
    used = set(ancestors(outputs))
    core = [v for v in (model.rvs_to_values[rv] for rv in model.free_RVs) if v in used] + extra
    batched = [pt.tensor(name=v.name, shape=(None,) * (v.ndim + 1), dtype=v.dtype) for v in core]
    out = vectorize_graph(outputs, dict(zip(core, batched)))
    fn = pytensor.function(batched, out, mode=mode)
    return fn, [v.name for v in core[: len(core) - len(extra)]]


def _predictive_moments(result, new_claims: pd.DataFrame, horizon: dt.date, seed: int):
    r"""Per claim and posterior draw, :math:`\mu` and :math:`\sigma` of the log estimate.

    The claims are appended to the fitted ledger, the model is built up to
    ``horizon`` (a family the fit never saw draws its bias and noise from the
    fitted population, draw by draw), and its monthly rates (containers
    and missiles) are replaced by the fitted months' posterior rates followed
    by each draw's continuation under the run's own rate dynamics
    (:func:`estimator.model.forecast_log_rates`). Returns ``(mu, sigma,
    months, fitted)`` with ``mu``, ``sigma`` of shape (claim, draw).
    """
    post = result.posterior
    dynamics = result.manifest.get("dynamics", RANDOM_WALK)
    combined = pd.concat([result.claims, new_claims])
    # Internal ids: a scored claim may repeat a fitted one.
    combined.index = [f"row{i}" for i in range(len(combined))]
    model = unconstrained_model(
        combined, result.priors, result.manifest["as_of"], horizon, dynamics, result.manifest.get("restatements")
    )
    # Month starts as dates (a run saved when months were "YYYY-MM" text reads the same).
    months = pd.DatetimeIndex(model.coords[N.MONTH])
    fitted = pd.to_datetime(post[N.MONTH].values)
    if not months[: len(fitted)].equals(fitted):
        raise ValueError("the run's months do not start the scoring model's months")

    def stacked(name):
        x = post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
        return np.asarray(x, dtype=float)

    rng = np.random.default_rng(seed)
    extra = len(months) - len(fitted)
    rates = {}
    for prefix, var in (("container", N.CONTAINER_RATE), ("missile", N.MISSILE_RATE)):
        rate = stacked(var)
        if extra:
            phi = stacked(f"{prefix}_rate_persistence") if dynamics != RANDOM_WALK else None
            ahead = forecast_log_rates(
                dynamics,
                np.log(rate[:, -1]),
                np.log(stacked(f"{prefix}_rate_mean")),
                stacked(f"{prefix}_rate_volatility"),
                phi,
                extra,
                rng,
            )
            rate = np.concatenate([rate, np.exp(ahead)], axis=1)
        rates[var] = rate
    # A family the fit never saw (a new kind of source) is a draw from the population.
    families, fitted_families = list(model.coords[N.FAMILY]), [str(f) for f in post[N.FAMILY].values]

    def values(name):
        x = stacked(name)
        if name not in (N.FAMILY_BIAS_Z, N.FAMILY_NOISE_Z):
            return x
        out = rng.standard_normal((x.shape[0], len(families)))
        for j, fam in enumerate(families):
            if fam in fitted_families:
                out[:, j] = x[:, fitted_families.index(fam)]
        return out

    inputs = {model[var]: pt.vector(f"{var}_draw") for var in rates}
    fn, names = batched_function(model, [model[N.CLAIM_LOG_MEAN], model[N.CLAIM_LOG_SD]], replace=inputs)
    mu, sd = fn(*(values(name) for name in names), *rates.values())
    n_new = len(new_claims)
    return mu[:, -n_new:].T, sd[:, -n_new:].T, months, fitted


def mixture_cdf(x, mu, sd, weights=None):
    r""":math:`F(x) = \sum_s w_s\, \Phi((\log x - \mu_s)/\sigma_s)` (equal weights by default); 0 at 0, 1 at infinity."""
    if x <= 0:
        return 0.0
    if not np.isfinite(x):
        return 1.0
    return float(np.average(ndtr((math.log(x) - mu) / sd), weights=weights))


def _mixture_quantile(p, mu, sd):

    lo, hi = float(np.min(mu - 12 * sd)), float(np.max(mu + 12 * sd))
    return math.exp(brentq(lambda y: float(np.mean(ndtr((y - mu) / sd))) - p, lo, hi, xtol=1e-10))


def share_inside(a: float, b: float, level: float) -> float:
    """Share of the PIT range [a, b] inside the central ``level`` interval (a point when a == b)."""
    lo, hi = (1 - level) / 2, (1 + level) / 2
    if b - a <= 1e-12:
        mid = (a + b) / 2
        return float(lo <= mid <= hi)
    return max(0.0, min(b, hi) - max(a, lo)) / (b - a)


def score_claims(result, new_claims: pd.DataFrame, *, horizon=None, seed: int = 0) -> pd.DataFrame:
    """Score claims against the posterior predictive of a fitted run.

    Parameters
    ----------
    result : FitResult
    new_claims : DataFrame
        A validated ledger (:func:`estimator.load_claims`); its claims may be
        the fitted ones (a posterior predictive check) or new ones, dated up
        to ``horizon``.
    horizon : date or str, optional
        Latest date a claim may speak of; default: 24 months after the run's
        last fitted month.
    seed : int
        Seed of the random-walk continuation (used only past the fitted months).

    Returns
    -------
    DataFrame
        Per claim: ``pred_q05 .. pred_q95`` (5/25/50/75/95% predictive
        quantiles, in the claim's model units), ``pit_low``/``pit_high``
        (:math:`F` at the claim's bounds), ``p_figure``, ``p_meaning``,
        ``in_50``, ``in_90``, ``months_extrapolated`` (months of the random
        walk's continuation a container-based count relies on). ``attrs`` hold the
        last fitted month and the horizon.
    """
    last_fitted = pd.Timestamp(result.posterior[N.MONTH].values[-1]).date()
    horizon = (
        _as_date(horizon)
        if horizon is not None
        else add_months(last_fitted, FORECAST_MONTHS + 1) - dt.timedelta(days=1)
    )
    late = [
        Problem(
            new_claims.attrs.get("source", "<claims>"),
            f"claim '{cid}'",
            "period_end",
            f"{r['period_end']} is after the forecast horizon {horizon}",
        )
        for cid, r in new_claims.iterrows()
        if r["period_end"] > horizon or r["date_said"] > horizon
    ]
    if late:
        raise InputError(late)
    mu, sd, _, _ = _predictive_moments(result, new_claims, horizon, seed)
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    rows = []
    for i, (cid, r) in enumerate(new_claims.iterrows()):
        lo, hi = float(r["low"]), float(r["high"])
        f_lo, f_hi = mixture_cdf(lo, mu[i], sd[i]), mixture_cdf(hi, mu[i], sd[i])
        q = [_mixture_quantile(p, mu[i], sd[i]) for p in levels]
        if lo == hi:
            p_fig, meaning = 2 * min(f_lo, 1 - f_lo), "two-sided tail probability of the figure"
        elif r["qualifier"] in (C.MORE_THAN, C.AT_LEAST):
            p_fig, meaning = 1 - f_lo, "P(estimate exceeds the figure)"
        elif not np.isfinite(lo):
            p_fig, meaning = f_hi, "P(estimate at most the figure)"
        else:
            p_fig, meaning = f_hi - f_lo, "P(estimate inside the range)"
        # Capacities have no date: only counts (of containers or missiles) extrapolate.
        dated = r["kind"] != C.CAPACITY
        end_month = months_between(last_fitted, r["period_end"]) if dated else 0
        rows.append(
            {
                N.CLAIM: cid,
                "date_said": r["date_said"],
                "period_end": r["period_end"],
                "source_family": r["source_family"],
                "quantity": r["quantity"],
                "kind": r["kind"],
                "qualifier": r["qualifier"],
                "low": lo,
                "high": hi,
                **{f"pred_q{round(100 * p):02d}": v for p, v in zip(levels, q)},
                "pit_low": f_lo,
                "pit_high": f_hi,
                "p_figure": p_fig,
                "p_meaning": meaning,
                "in_50": share_inside(f_lo, f_hi, 0.5),
                "in_90": share_inside(f_lo, f_hi, 0.9),
                "months_extrapolated": max(0, end_month),
            }
        )
    table = pd.DataFrame(rows).set_index(N.CLAIM)
    table.attrs.update(last_fitted_month=last_fitted.strftime("%Y-%m"), horizon=str(horizon))
    return table


def coverage_summary(scores: pd.DataFrame, surprise: float = SURPRISE_P) -> dict:
    """Coverage of the 50% and 90% predictive intervals, surprising claims, extrapolation.

    ``coverage_50`` / ``coverage_90`` are the means of ``in_50`` / ``in_90``
    (nominal 0.5 / 0.9); ``surprising`` lists claims with ``p_figure`` below
    ``surprise``.
    """
    return {
        "claims": int(len(scores)),
        "coverage_50": float(scores["in_50"].mean()),
        "coverage_90": float(scores["in_90"].mean()),
        "nominal_50": 0.5,
        "nominal_90": 0.9,
        "surprising": [str(c) for c in scores.index[scores["p_figure"] < surprise]],
        "surprise_threshold": surprise,
        "last_fitted_month": scores.attrs.get("last_fitted_month"),
        "horizon": scores.attrs.get("horizon"),
        "max_months_extrapolated": int(scores["months_extrapolated"].max()) if len(scores) else 0,
    }
