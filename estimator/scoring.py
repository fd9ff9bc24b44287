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
import json
import math
from dataclasses import dataclass

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
from estimator.cache import remember
from estimator.errors import InputError, Problem
from estimator.likelihood import DEFAULT_RESTATEMENTS, SHARED, claim_capacity, claim_design
from estimator.model import DEFAULT_DYNAMICS, RANDOM_WALK, build_model, forecast_log_rates
from estimator.stats import SURPRISE_P
from estimator.timeline import FORECAST_MONTHS, ModelLayout, add_months, months_between

__all__ = [
    "score_claims",
    "coverage_summary",
    "ledger_moments",
    "mixture_cdf",
    "share_inside",
    "unconstrained_model",
    "batched_function",
]


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def unconstrained_model(claims, priors, as_of, horizon=None, dynamics=None, restatements=None, capacity=None):
    """The model with value transforms removed: its value variables are the parameters themselves."""
    options = {"dynamics": dynamics or DEFAULT_DYNAMICS, "restatements": restatements or DEFAULT_RESTATEMENTS}
    model = build_model(claims, priors, as_of=as_of, horizon=horizon, capacity=capacity, **options)
    return remove_value_transforms(model)


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


@dataclass
class _MomentsFunction:
    """A compiled map from parameter draws to every claim's moments, for one model structure.

    The claims' design is ``pm.Data`` (:func:`estimator.likelihood.claim_design`), so one compiled
    function serves every ledger of up to ``capacity`` claims over the same months, families and
    restatement groups: a ledger is swapped in by setting the design's shared values.
    """

    model: object
    fn: object
    names: list
    rates: tuple
    capacity: int


# Compiled moment functions by model structure (a few; each holds a compiled PyTensor function).
_MOMENTS: dict[str, _MomentsFunction] = {}
_MOMENTS_KEEP = 4


def _moments_function(
    result, ledger: pd.DataFrame, horizon, layout: ModelLayout | None = None
) -> tuple[_MomentsFunction, list[str], ModelLayout]:
    """The compiled moments of ``ledger``'s model structure (built on first use), its families and its layout.

    Building and compiling the model takes about half a second; a what-if of a run
    (:mod:`estimator.reweighting`) asks for the moments of many ledgers of one structure.
    """
    m = result.manifest
    dynamics = m.get("dynamics", RANDOM_WALK)
    restatements = m.get("restatements") or DEFAULT_RESTATEMENTS
    if layout is None:
        layout = ModelLayout(ledger, result.priors, m["as_of"], horizon)
    families = result.priors.model_families(ledger["source_family"])
    heads = C.restatement_groups(ledger)[1] if restatements == SHARED else []
    capacity = claim_capacity(len(ledger))
    key = json.dumps(
        [
            result.priors.start_date,
            {v: s.distribution for v, s in result.priors.all_specs().items()},
            [str(d) for d in layout.months],
            families,
            heads,
            str(m["as_of"]),
            dynamics,
            restatements,
            capacity,
        ]
    )
    entry = _MOMENTS.get(key)
    if entry is None:
        model = unconstrained_model(
            ledger, result.priors, m["as_of"], horizon, dynamics, restatements, capacity=capacity
        )
        rates = (N.CONTAINER_RATE, N.MISSILE_RATE)
        inputs = {model[var]: pt.vector(f"{var}_draw") for var in rates}
        fn, names = batched_function(model, [model[N.CLAIM_LOG_MEAN], model[N.CLAIM_LOG_SD]], replace=inputs)
        entry = remember(_MOMENTS, key, _MomentsFunction(model, fn, names, rates, capacity), _MOMENTS_KEEP)
    # The ledger's own design in the compiled function's shared data (padded to its capacity).
    for name, value in claim_design(ledger, families, layout, entry.capacity, restatements).items():
        shared = entry.model[name]
        shared.set_value(np.asarray(value, dtype=shared.type.dtype))
    return entry, families, layout


def ledger_moments(result, ledger: pd.DataFrame, horizon=None, seed: int = 0, *, layout: ModelLayout | None = None):
    r"""Per claim of ``ledger`` and posterior draw, :math:`\mu` and :math:`\sigma` of the source's log estimate.

    The model of ``ledger`` is built up to ``horizon`` (``None``: its claims and the
    run's as-of date), with the run's priors, as-of date, dynamics and restatements;
    a family the fit never saw draws its bias and noise from the fitted population,
    draw by draw, and the monthly rates (containers and missiles) are the fitted
    months' posterior rates followed by each draw's continuation under the run's own
    rate dynamics (:func:`estimator.model.forecast_log_rates`). The model's
    ``claim_log_mean`` and ``claim_log_sd`` are evaluated at every draw: the
    model's own expressions, compiled once per model structure (:func:`_moments_function`).
    ``layout`` is ``ledger``'s :class:`~estimator.timeline.ModelLayout` up to
    ``horizon`` when the caller has it.

    Returns
    -------
    (ndarray, ndarray, DatetimeIndex, DatetimeIndex)
        ``mu``, ``sd`` of shape (claim, draw), draws in chain-major order; the
        model's months and the run's fitted months.
    """
    post = result.posterior
    dynamics = result.manifest.get("dynamics", RANDOM_WALK)
    # Internal ids: a ledger may repeat a claim's id (a scored claim repeating a fitted one). A
    # ``restates`` then names no row, so no claim is a restatement here: under ``excluded`` and
    # ``independent`` a restatement's moments are an original's anyway (only its weight differs).
    ledger = ledger.copy()
    ledger.index = [f"row{i}" for i in range(len(ledger))]
    entry, families, layout = _moments_function(result, ledger, horizon, layout)
    # Month starts as dates (a run saved when months were "YYYY-MM" text reads the same).
    months = pd.DatetimeIndex(np.array(layout.months, dtype="datetime64[ns]"))
    fitted = pd.to_datetime(post[N.MONTH].values)
    if not months[: len(fitted)].equals(fitted):
        raise ValueError("the run's months do not start the scoring model's months")

    def stacked(name):
        # Chains then draws, flattened (chain-major): numpy's reshape, as xarray's stack orders them.
        x = np.asarray(post[name].transpose(*N.SAMPLE_DIMS, ...).values, dtype=float)
        return x.reshape(-1, *x.shape[2:])

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
    fitted_families = [str(f) for f in post[N.FAMILY].values]

    def values(name):
        x = stacked(name)
        if name not in (N.FAMILY_BIAS_Z, N.FAMILY_NOISE_Z):
            return x
        out = rng.standard_normal((x.shape[0], len(families)))
        for j, fam in enumerate(families):
            if fam in fitted_families:
                out[:, j] = x[:, fitted_families.index(fam)]
        return out

    mu, sd = entry.fn(*(values(name) for name in entry.names), *(rates[v] for v in entry.rates))
    n = len(ledger)
    return mu[:, :n].T, sd[:, :n].T, months, fitted


def _predictive_moments(result, new_claims: pd.DataFrame, horizon: dt.date, seed: int):
    r"""Per claim and posterior draw, :math:`\mu` and :math:`\sigma` of the log estimate.

    The claims are appended to the fitted ledger (so the model spans the fitted
    months and families) and :func:`ledger_moments` evaluated up to ``horizon``.
    Returns ``(mu, sd, months, fitted)`` with ``mu``, ``sd`` of shape (claim, draw).
    """
    mu, sd, months, fitted = ledger_moments(result, pd.concat([result.claims, new_claims]), horizon, seed)
    n_new = len(new_claims)
    return mu[-n_new:], sd[-n_new:], months, fitted


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
