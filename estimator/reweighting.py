r"""What-ifs of a fitted run answered from its draws: importance ratios, the k-hat decision, the reweighted posterior.

A what-if changes a run's ledger (claims appended, removed or edited) or its
priors (a parameter moved) and asks for the posterior it would have. With the
run's draws :math:`\theta_s \sim p_{old}(\theta \mid y)`, the new posterior is
reached by importance sampling with log ratios

.. math::

    \log r_s = \sum_{i \in A \cup E} w_i^{new} \log p(y_i^{new} \mid \theta_s)
             - \sum_{i \in R \cup E} w_i^{old} \log p(y_i^{old} \mid \theta_s)
             + \sum_{j} \left[\log p_j^{new}(\theta_{j,s}) - \log p_j^{old}(\theta_{j,s})\right]

over the appended (:math:`A`), removed (:math:`R`) and edited (:math:`E`) claims,
each with its likelihood weight :math:`w_i` (0 for a restatement left out,
:func:`estimator.likelihood.counted_claims`), and over the prior entries
:math:`j` whose fitted parameters changed. A claim's term is the model's own
(:func:`estimator.likelihood.claim_loglik`) at its predictive moments: stored in
the run for its own claims, computed for the new ledger by the compiled model
(:func:`estimator.scoring.ledger_moments`, the code scoring uses). The ratios are
Pareto-smoothed (:func:`estimator.stats.psis`) and the one k-hat rule
(:func:`estimator.stats.reweighting_holds`) decides: at or below
:func:`estimator.stats.khat_threshold` the weights stand for an exact refit
(:func:`reweigh`, also what sweeps and ``estimator score`` ask), above it the
what-if is refitted exactly.

Some what-ifs change the model's shape, not only its densities: a claim from a
family the run did not fit, a family left without claims, claims reaching
months the run did not model, a prior's distribution family or start date, or
edited claims under ``shared`` restatements (whose errors are parameters of the
run). :func:`structural_changes` names them; they are always refitted exactly.

The reweighted posterior (:func:`reweighted_groups`) is a resample of the run's
draws, not a weighted set: systematic resampling (Kitagawa 1996) with a fixed
seed keeps the chain x draw shape, so every summary, figure and table reads it
unchanged, by the one unweighted quantile rule. It adds little error: systematic
resampling's variance is at most multinomial resampling's, so a quantile of the
resample has at most the Monte Carlo error of :math:`N_{eff}` independent draws
plus that of :math:`S` draws, where :math:`N_{eff} = 1/\sum_s \tilde w_s^2` is the
weights' effective sample size (reported with :math:`\hat k`). Draws keep their
order, so repeated draws read as autocorrelation and ArviZ's ESS and MCSE of the
resample account for the weights' loss of information.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from estimator import names as N
from estimator.formatting import fmt_number
from estimator.likelihood import (
    CLAIM_LOG_FIGURE,
    DEFAULT_RESTATEMENTS,
    SHARED,
    claim_data,
    claim_design,
    claim_loglik,
    claims_random,
    counted_claims,
)
from estimator.model import EXPOSURE_AS_OF, prior_data_name
from estimator.priors import PriorSet
from estimator.scoring import ledger_moments
from estimator.stats import khat_threshold, psis, reweighting_holds
from estimator.timeline import ModelLayout

__all__ = [
    "Reweighting",
    "reweigh",
    "prior_logpdf",
    "prior_changes",
    "prior_log_ratio",
    "ledger_diff",
    "LedgerDiff",
    "ledger_log_ratio",
    "structural_changes",
    "absorption",
    "systematic_resample",
    "reweighted_groups",
    "PSIS",
    "NUTS",
]

PSIS, NUTS = "psis", "nuts"

# The ledger columns a claim's likelihood term depends on: an edit of any other (a note, a
# URL) changes the ledger's text but not the posterior.
LIKELIHOOD_COLUMNS = (
    "date_said",
    "source_family",
    "quantity",
    "kind",
    "qualifier",
    "low",
    "high",
    "period_start",
    "period_end",
)


@dataclass(frozen=True)
class Reweighting:
    r"""Pareto-smoothed importance weights of a run's draws for a what-if, and the k-hat rule's verdict.

    Attributes
    ----------
    log_weights : ndarray
        Normalised log weights, one per draw (chains flattened, chain-major); they log-sum-exp to 0.
    khat : float
        Pareto :math:`\hat k` of the smoothing (0 when every ratio is equal: nothing changed).
    """

    log_weights: np.ndarray
    khat: float

    @property
    def n_draws(self) -> int:
        """Number of draws weighted."""
        return int(self.log_weights.size)

    @property
    def weights(self) -> np.ndarray:
        """Normalised weights (sum 1)."""
        return np.exp(self.log_weights)

    @property
    def threshold(self) -> float:
        """The largest trusted k-hat at this many draws (:func:`estimator.stats.khat_threshold`)."""
        return khat_threshold(self.n_draws)

    @property
    def holds(self) -> bool:
        """Whether the weights may stand for an exact refit (:func:`estimator.stats.reweighting_holds`)."""
        return reweighting_holds(self.khat, self.n_draws)

    @property
    def ess(self) -> float:
        r"""Effective sample size of the weights, :math:`1 / \sum_s \tilde w_s^2` (Kish)."""
        return float(1.0 / np.sum(self.weights**2))

    def describe(self) -> str:
        """``k-hat 0.12 ≤ 0.70, ESS 2,900`` when the weights hold, ``k-hat 1.30 > 0.70`` when they do not."""
        if self.holds:
            return f"k-hat {self.khat:.2f} ≤ {self.threshold:.2f}, ESS {fmt_number(round(self.ess), 'compact')}"
        return f"k-hat {self.khat:.2f} > {self.threshold:.2f}"


def reweigh(log_ratio) -> Reweighting:
    """The decision every what-if of stored draws goes through: PSIS of the log ratios, and k-hat.

    A what-if whose ratios are all equal changes nothing: uniform weights, k-hat 0.
    ``holds`` of the result is the rule (:func:`estimator.stats.reweighting_holds`).
    """
    log_ratio = np.asarray(log_ratio, dtype=float).ravel()
    if np.all(log_ratio == log_ratio[0]):
        return Reweighting(np.full(log_ratio.size, -np.log(log_ratio.size)), 0.0)
    log_weights, khat = psis(log_ratio)
    return Reweighting(log_weights, khat)


# ---------------------------------------------------------------- priors


def prior_logpdf(spec, x) -> np.ndarray:
    """Log density of a prior entry (:class:`~estimator.priors.PriorSpec`) at draws ``x`` (PreliZ; Dirichlet by row)."""
    d = spec.preliz()
    if spec.distribution == "Dirichlet":
        return np.asarray([d.logpdf(row) for row in x])
    return np.asarray(d.logpdf(x), dtype=float)


def prior_changes(old: PriorSet, new: PriorSet) -> list[str]:
    """The prior entries whose fitted parameters differ between ``old`` and ``new``."""
    a, b = old.fitted_params(), new.fitted_params()
    return [var for var in b if a.get(var) != b[var]]


def _flat(posterior: xr.Dataset, var: str) -> np.ndarray:
    """Draws of ``var`` with chains and draws flattened into the first axis (chain-major)."""
    x = np.asarray(posterior[var].transpose(*N.SAMPLE_DIMS, ...).values, dtype=float)
    return x.reshape(-1, *x.shape[2:])


def prior_log_ratio(posterior: xr.Dataset, old: PriorSet, new: PriorSet) -> dict[str, np.ndarray]:
    r"""Per changed prior entry, :math:`\log p^{new}_j(\theta_{j,s}) - \log p^{old}_j(\theta_{j,s})` at each draw.

    Densities of the model's own variables: their transforms' Jacobians cancel in the difference.
    """
    old_specs, new_specs = old.all_specs(), new.all_specs()
    out = {}
    for var in prior_changes(old, new):
        x = _flat(posterior, var)
        out[var] = prior_logpdf(new_specs[var], x) - prior_logpdf(old_specs[var], x)
    return out


# ---------------------------------------------------------------- claims


@dataclass(frozen=True)
class LedgerDiff:
    """Claims appended, removed and edited (their likelihood columns or weight changed) between two ledgers."""

    added: list
    removed: list
    edited: list

    @property
    def any(self) -> bool:
        """Whether any claim's likelihood term changes."""
        return bool(self.added or self.removed or self.edited)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as text, every missing value (None, NaN, NA: a ledger's columns hold any of them) as ""."""
    return frame.map(lambda v: "" if v is None or (np.ndim(v) == 0 and pd.isna(v)) else str(v))


def ledger_diff(old: pd.DataFrame, new: pd.DataFrame, restatements: str = DEFAULT_RESTATEMENTS) -> LedgerDiff:
    """What changed from ``old`` to ``new``, by claim id (a restatement whose original comes or goes is edited)."""
    w_old = pd.Series(counted_claims(old, restatements), index=old.index)
    w_new = pd.Series(counted_claims(new, restatements), index=new.index)
    added = [c for c in new.index if c not in w_old.index]
    removed = [c for c in old.index if c not in w_new.index]
    common = [c for c in new.index if c in w_old.index]
    cols = [c for c in LIKELIHOOD_COLUMNS if c in old.columns and c in new.columns]
    a, b = _as_text(old.loc[common, cols]), _as_text(new.loc[common, cols])
    differs = (a != b).any(axis=1) | (w_old[common] != w_new[common])
    return LedgerDiff(added, removed, [c for c in common if differs[c]])


def ledger_log_ratio(result, ledger: pd.DataFrame, *, horizon=None, seed: int = 0, layout: ModelLayout | None = None):
    r"""Per draw, the change of the log-likelihood from the run's ledger to ``ledger``; and ``ledger``'s moments.

    :math:`\sum_{A \cup E} w^{new} \log p(y^{new} \mid \theta_s) - \sum_{R \cup E} w^{old} \log p(y^{old} \mid \theta_s)`
    (module docstring). The run's own claims are read at their stored moments
    (``claim_log_mean``, ``claim_log_sd``); ``ledger``'s are evaluated by
    :func:`estimator.scoring.ledger_moments` (up to ``horizon``: later months continue
    the run's rate dynamics from each draw, with ``seed``; ``layout``: ``ledger``'s
    time grid, when the caller has it).

    Returns
    -------
    (ndarray, ndarray, ndarray, LedgerDiff)
        The log ratio per draw (chain-major), ``ledger``'s ``mu`` and ``sd``
        (claim x draw), and the diff.
    """
    old = result.claims
    restatements = result.manifest.get("restatements") or DEFAULT_RESTATEMENTS
    diff = ledger_diff(old, ledger, restatements)
    post = result.posterior
    n = post.sizes["chain"] * post.sizes["draw"]
    log_ratio = np.zeros(n)
    if not diff.any and list(ledger.index) == list(old.index):
        # Nothing of the likelihood changed: the run's own moments stand.
        return log_ratio, _flat(post, N.CLAIM_LOG_MEAN).T, _flat(post, N.CLAIM_LOG_SD).T, diff
    mu, sd, _, _ = ledger_moments(result, ledger, horizon, seed, layout=layout)
    new_ids = diff.added + diff.edited
    if new_ids:
        rows = [ledger.index.get_loc(c) for c in new_ids]
        w = counted_claims(ledger, restatements)[rows]
        log_ratio += (w[:, None] * claim_loglik(ledger.loc[new_ids], mu[rows], sd[rows])).sum(axis=0)
    old_ids = diff.removed + diff.edited
    if old_ids:
        rows = [old.index.get_loc(c) for c in old_ids]
        w = counted_claims(old, restatements)[rows]
        mu_old = _flat(post, N.CLAIM_LOG_MEAN).T[rows]
        sd_old = _flat(post, N.CLAIM_LOG_SD).T[rows]
        log_ratio -= (w[:, None] * claim_loglik(old.loc[old_ids], mu_old, sd_old)).sum(axis=0)
    return log_ratio, mu, sd, diff


def absorption(result, new_claims: pd.DataFrame, *, horizon=None, seed: int = 0) -> Reweighting | None:
    """Whether the run's draws could absorb ``new_claims`` by reweighting: the decision of appending them.

    The claims whose ids the run's ledger lacks are appended to it and the log
    ratio of :func:`ledger_log_ratio` decided by :func:`reweigh`: ``holds`` says
    whether :meth:`estimator.FitResult.update` with them would reweight (k-hat at
    most the threshold) or refit. Claims dated past the fitted months are read at
    the months' continuation under the run's dynamics up to ``horizon`` (as
    scoring reads them), a family the run did not fit at draws from the fitted
    population: the importance ratio of the extended parameters is then the new
    claims' likelihood alone, as their proposal is their prior given the run's.
    (A what-if that changes the model's shape so is still refitted by ``update``,
    which keeps the months and families of the run.) ``None`` when no claim is new,
    or under ``shared`` restatements, whose shared errors a new claim may need.
    """
    restatements = result.manifest.get("restatements") or DEFAULT_RESTATEMENTS
    fresh = [c for c in new_claims.index if c not in result.claims.index]
    if not fresh or restatements == SHARED:
        return None
    ledger = pd.concat([result.claims, new_claims.loc[fresh]])
    log_ratio, _, _, _ = ledger_log_ratio(result, ledger, horizon=horizon, seed=seed)
    return reweigh(log_ratio)


def structural_changes(result, ledger: pd.DataFrame, priors: PriorSet, layout: ModelLayout | None = None) -> list[str]:
    """Why ``ledger`` and ``priors`` need another model than the run's (empty: reweighting may answer).

    Reweighting moves the weight of the run's draws; it cannot add a parameter the
    run did not sample (a new family's bias, a later month's rate, a new restatement
    group's shared error) or drop one, nor change a prior's family. ``layout`` is
    ``ledger``'s time grid at the run's as-of date, when the caller has it.
    """
    reasons = []
    m = result.manifest
    if priors.start_date != result.priors.start_date:
        reasons.append(f"the start date moved ({result.priors.start_date} to {priors.start_date})")
    old_specs = result.priors.all_specs()
    changed_family = [
        v for v, s in priors.all_specs().items() if v not in old_specs or old_specs[v].distribution != s.distribution
    ]
    if changed_family:
        reasons.append(f"a prior's distribution changed ({', '.join(changed_family)})")
    fitted = [str(f) for f in result.posterior[N.FAMILY].values]
    families = priors.model_families(ledger["source_family"])
    if families != fitted:
        new = [f for f in families if f not in fitted]
        gone = [f for f in fitted if f not in families]
        said = ([f"claims from a family the run did not fit ({', '.join(new)})"] if new else []) + (
            [f"no claim left from {', '.join(gone)}"] if gone else []
        )
        reasons.append("; ".join(said) or "the families' order changed")
    if not reasons:
        months = (layout or ModelLayout(ledger, priors, m["as_of"])).months
        fitted_months = pd.to_datetime(result.posterior[N.MONTH].values)
        if not pd.DatetimeIndex(np.array(months, dtype="datetime64[ns]")).equals(fitted_months):
            reasons.append("the claims span other months than the run modelled")
    restatements = m.get("restatements") or DEFAULT_RESTATEMENTS
    if restatements == SHARED and ledger_diff(result.claims, ledger, restatements).any:
        reasons.append("restatements share their errors (parameters of the run) and the claims changed")
    return reasons


# ---------------------------------------------------------------- the reweighted posterior


def systematic_resample(weights, seed: int) -> np.ndarray:
    r"""Indices of ``weights.size`` draws by systematic resampling (Kitagawa 1996), in increasing order.

    One uniform offset :math:`u \sim U(0, 1/S)` and the points :math:`u + k/S`
    against the cumulative weights: draw :math:`s` is kept about :math:`S w_s`
    times (the floor or the ceiling), the least variable of the standard schemes.
    """
    w = np.asarray(weights, dtype=float).ravel()
    n = w.size
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    points = (np.random.default_rng(seed).uniform() + np.arange(n)) / n
    return np.minimum(np.searchsorted(cdf, points, side="right"), n - 1)


def _resampled(ds: xr.Dataset, idx: np.ndarray, skip=()) -> xr.Dataset:
    """Every variable of ``ds`` with its (chain, draw) draws replaced by the flattened draws ``idx``."""
    shape = (ds.sizes["chain"], ds.sizes["draw"])
    out = {}
    for name in ds.data_vars:
        if name in skip:
            continue
        # The Variable, not a DataArray: a what-if resamples some 45 of them, and DataArrays cost.
        v = ds.variables[name].transpose(*N.SAMPLE_DIMS, ...)
        out[name] = xr.Variable(v.dims, v.values.reshape(-1, *v.shape[2:])[idx].reshape(*shape, *v.shape[2:]))
    return xr.Dataset(out, coords={k: v for k, v in ds.coords.items() if N.CLAIM not in v.dims}, attrs=ds.attrs)


def _ledger_loglik(result, ledger: pd.DataFrame, mu: np.ndarray, sd: np.ndarray, restatements: str) -> np.ndarray:
    """Each of ``ledger``'s claims' likelihood term per draw (claim x draw), as the model weighs it.

    Claims the run fitted unchanged keep their stored terms (``log_likelihood``); the
    others are computed (:func:`estimator.likelihood.claim_loglik`) at ``mu``, ``sd``.
    """
    diff = ledger_diff(result.claims, ledger, restatements)
    fresh = set(diff.added) | set(diff.edited)
    stored = result.tree["log_likelihood"].to_dataset() if "log_likelihood" in result.tree.children else None
    if stored is None or N.CLAIMS not in stored:
        fresh = set(ledger.index)
    out = np.empty(mu.shape)
    new_rows = [i for i, c in enumerate(ledger.index) if c in fresh]
    if new_rows:
        ids = [ledger.index[i] for i in new_rows]
        weight = counted_claims(ledger, restatements)[new_rows][:, None]
        out[new_rows] = weight * claim_loglik(ledger.loc[ids], mu[new_rows], sd[new_rows])
    old_rows = [i for i, c in enumerate(ledger.index) if c not in fresh]
    if old_rows:
        v = stored.variables[N.CLAIMS].transpose(*N.SAMPLE_DIMS, N.CLAIM)
        flat = v.values.reshape(-1, v.shape[-1]).T
        at = [result.claims.index.get_loc(ledger.index[i]) for i in old_rows]
        out[old_rows] = flat[at]
    return out


def reweighted_groups(
    result,
    ledger: pd.DataFrame,
    priors: PriorSet,
    idx: np.ndarray,
    mu: np.ndarray,
    sd: np.ndarray,
    prior_deltas: Mapping[str, np.ndarray],
    seed: int,
    layout: ModelLayout | None = None,
) -> dict[str, xr.Dataset]:
    """The groups of the reweighted run: the run's draws ``idx``, with ``ledger``'s claims and ``priors``.

    * ``posterior``: every variable at the resampled draws; ``claim_log_mean`` and
      ``claim_log_sd`` are ``ledger``'s (``mu``, ``sd``: claim x draw, all draws);
    * ``log_likelihood``: each of ``ledger``'s claims' term (weighted as the model weighs it);
    * ``log_prior``: the run's, plus ``prior_deltas`` (the changed entries' log density ratios);
    * ``posterior_predictive``: one draw of each source's log estimate per draw
      (:func:`estimator.likelihood.claims_random`, ``seed``);
    * ``sample_stats``: the run's, as its sampler left them (they describe the draws'
      sampler, not the resample: divergences and E-BFMI are those of the run);
    * ``observed_data``, ``constant_data``: ``ledger``'s claims and ``priors``' parameters.

    The claim dimension is ``ledger``'s ids, without the metadata coordinates
    (:func:`estimator.inference.with_claim_coords` adds them). ``layout`` is
    ``ledger``'s time grid at the run's as-of date, when the caller has it.
    """
    tree = result.tree
    post = tree["posterior"].to_dataset()
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    restatements = result.manifest.get("restatements") or DEFAULT_RESTATEMENTS
    ids = np.asarray(ledger.index, dtype=object)
    sample = {"chain": post["chain"].values, "draw": post["draw"].values}

    def per_claim(x: np.ndarray) -> tuple:
        """(claim, all draws) -> (chain, draw, claim) at the resampled draws."""
        return (("chain", "draw", N.CLAIM), x[:, idx].T.reshape(chains, draws, -1))

    claim_coords = {**sample, N.CLAIM: ids}
    posterior = _resampled(post, idx, skip=(N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD))
    posterior = posterior.assign({N.CLAIM_LOG_MEAN: per_claim(mu), N.CLAIM_LOG_SD: per_claim(sd)})
    posterior = posterior.assign_coords({N.CLAIM: ids})
    loglik = _ledger_loglik(result, ledger, mu, sd, restatements)
    groups = {
        "posterior": posterior,
        "log_likelihood": xr.Dataset({N.CLAIMS: per_claim(loglik)}, coords=claim_coords),
    }
    if "log_prior" in tree.children:
        log_prior = _resampled(tree["log_prior"].to_dataset(), idx)
        for var, delta in prior_deltas.items():
            if var in log_prior:
                d = np.asarray(delta)[idx].reshape(chains, draws)
                extra = log_prior[var].ndim - 2
                log_prior[var] = log_prior[var] + d.reshape(chains, draws, *([1] * extra))
        groups["log_prior"] = log_prior
    mu_draws, sd_draws = per_claim(mu)[1], per_claim(sd)[1]
    predictive = claims_random(mu_draws, sd_draws, None, None, None, None, rng=np.random.default_rng(seed))
    groups["posterior_predictive"] = xr.Dataset(
        {N.CLAIMS: (("chain", "draw", N.CLAIM), predictive)}, coords=claim_coords
    )
    if "sample_stats" in tree.children:
        groups["sample_stats"] = tree["sample_stats"].to_dataset()
    data = claim_data(ledger)
    groups["observed_data"] = xr.Dataset({N.CLAIMS: (N.CLAIM, data[CLAIM_LOG_FIGURE])}, coords={N.CLAIM: ids})
    if "constant_data" in tree.children:
        layout = layout or ModelLayout(ledger, priors, result.manifest["as_of"])
        groups["constant_data"] = _constant_data(
            tree["constant_data"].to_dataset(), result, ledger, priors, data, layout
        )
    return groups


def _constant_data(
    old: xr.Dataset, result, ledger: pd.DataFrame, priors: PriorSet, data: dict, layout: ModelLayout
) -> xr.Dataset:
    """The run's ``pm.Data`` values with ``ledger``'s claims and ``priors``' parameters (the same names as the model's)."""
    restatements = result.manifest.get("restatements") or DEFAULT_RESTATEMENTS
    families = priors.model_families(ledger["source_family"])
    design = claim_design(ledger, families, layout, None, restatements)
    values = {}
    for var, spec in priors.all_specs().items():
        for p, v in spec.params.items():
            name = prior_data_name(var, p)
            if name in old:
                values[name] = (old[name].dims, np.asarray(v, dtype=old[name].dtype))
    if EXPOSURE_AS_OF in old:
        values[EXPOSURE_AS_OF] = (old[EXPOSURE_AS_OF].dims, layout.exposure_as_of)
    for name, v in {**design, **data}.items():
        if name in old:
            values[name] = ((N.CLAIM, N.MONTH) if np.ndim(v) == 2 else (N.CLAIM,), np.asarray(v))
    kept = {name: da.variable for name, da in old.data_vars.items() if name not in values and N.CLAIM not in da.dims}
    coords = {k: v for k, v in old.coords.items() if N.CLAIM not in v.dims}
    coords[N.CLAIM] = np.asarray(ledger.index, dtype=object)
    return xr.Dataset({**kept, **values}, coords=coords, attrs=old.attrs)
