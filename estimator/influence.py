r"""What the answer hinges on (2): the influence of each claim and source family, and the reconciliation of the evidence.

Influence of a claim or a source family
    Leaving out the claims :math:`S` turns the posterior into
    :math:`p_{-S}(\theta) \propto p(\theta \mid y) / \prod_{i \in S} p(y_i \mid \theta)`.
    Each posterior draw gets the importance ratio
    :math:`r_s = \exp(-\sum_{i \in S} \ell_{is})` from the pointwise
    log-likelihood :math:`\ell_{is}`; the ratios are Pareto-smoothed (PSIS,
    Vehtari et al. 2024) and the left-out posterior's median and 5%/95%
    quantiles are the weighted quantiles of the draws (the inverse of the
    weighted empirical CDF, :func:`estimator.stats.quantile`). PSIS is trusted while
    the Pareto shape estimate :math:`\hat k` is at most
    :math:`\min(1 - 1/\log_{10} S, 0.7)` for :math:`S` draws (0.7 from about
    2,200 draws up; ArviZ's rule); above it the model is refitted without
    :math:`S` (an exact refit). A refit samples the run's own model of the
    whole ledger with the weight :math:`w_i` of each left-out claim set to 0
    (the likelihood is :math:`\sum_i w_i \log p(y_i \mid \theta)`,
    :mod:`estimator.model`), so every refit shares one compiled model per
    process, and the refits run through :func:`estimator.workers.run_tasks`
    (in this process, local workers or Dask), each seeded from the run's seed
    and the claims it leaves out. When the left-out log-likelihood is constant
    over the draws (spread at most :data:`FLAT_TOL`), the weights are uniform and
    nothing moves; :math:`\hat k` is then undefined and reported as NaN.

Reconciliation
    Shells implied by the count x capacity chain alone (container counts and
    capacity conversions), by the direct estimates alone (counts of 152mm
    shells or of all artillery rounds), and by both, each obtained by leaving
    the other claims out as above. Their conflict is the overlap coefficient of
    the two one-source posteriors, :math:`\mathrm{OVL} = \int \min(f_1, f_2)`
    (1: identical, 0: disjoint), estimated by weighted Gaussian kernel
    densities of :math:`\log_{10}` shells (the overlap is unchanged by a
    monotone transformation, and the log scale suits the kernel).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import gaussian_kde
from tqdm.auto import tqdm

from estimator import claims as C
from estimator import names as N
from estimator.likelihood import DEFAULT_RESTATEMENTS, claim_data
from estimator.model import RANDOM_WALK
from estimator.refit import RefitSpec, refit
from estimator.stats import QUANTILES, khat_threshold, psis, quantile, reweighting_holds
from estimator.workers import run_tasks

__all__ = [
    "INFLUENCE_QUANTITIES",
    "PSIS",
    "REFIT",
    "FLAT",
    "METHODS",
    "RefitSettings",
    "LeftOut",
    "leave_out",
    "refit_left_out",
    "influence_table",
    "reconciliation_table",
    "overlap_coefficient",
    "conflict_in_words",
]

log = logging.getLogger("estimator")


PSIS, REFIT, FLAT = N.PSIS, N.REFIT, N.FLAT
INFLUENCE_QUANTITIES = N.INFLUENCE_QUANTITIES

# "auto": PSIS where k-hat allows, refit elsewhere; "psis": never refit (rows
# above the k-hat threshold are flagged unreliable); "refit": always refit.
METHODS = ("auto", PSIS, REFIT)

# Spread of the left-out log-likelihood below which all weights are equal to
# within a relative 1e-8: reweighting cannot move any quantile.
FLAT_TOL = 1e-8
CHAIN, DIRECT, BOTH, FULL = "count x capacity chain", "direct estimates", "chain and direct together", "full ledger"


@dataclass(frozen=True)
class RefitSettings:
    """Sampler settings of an exact refit (nutpie's NUTS; its chains on every core when refits run in this process, one in a worker process).

    ``seed=None``: the run's own seed. Each refit's seed derives from this seed
    and the claims it leaves out, so a refit does not depend on the order or
    the worker it ran in.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int | None = None


@dataclass
class LeftOut:
    r"""The posterior with some claims left out, as draws and weights.

    Attributes
    ----------
    claims : tuple of str
        Claims left out.
    method : str
        :data:`PSIS`, :data:`REFIT` or :data:`FLAT`.
    khat : float
        Pareto shape estimate of the importance ratios (NaN when flat).
    threshold : float
        Largest trusted :math:`\hat k` for the run's number of draws.
    draws : dict of str -> ndarray
        Draws of each requested quantity (refit draws after a refit).
    weights : ndarray
        Normalised weight of each draw (uniform after a refit).
    diagnostics : dict or None
        An exact refit's diagnostics (:meth:`estimator.refit.Refit.diagnostics_row`).
    """

    claims: tuple
    method: str
    khat: float
    threshold: float
    draws: dict
    weights: np.ndarray
    diagnostics: dict | None = None

    @property
    def diagnostics_ok(self) -> bool:
        """False when the exact refit missed a sampler threshold (always True for reweighted draws)."""
        return self.diagnostics is None or bool(self.diagnostics["diagnostics_ok"])

    @property
    def reliable(self) -> bool:
        r"""False when PSIS was used although :math:`\hat k` exceeds its threshold, or a refit missed a diagnostic threshold."""
        return (self.method != PSIS or reweighting_holds(self.khat, self.weights.size)) and self.diagnostics_ok

    def quantiles(self, var: str, q=QUANTILES) -> np.ndarray:
        """Weighted quantiles of ``var`` under the left-out posterior."""
        return quantile(self.draws[var], q, self.weights)


def _flat_draws(result, var) -> np.ndarray:
    return result.posterior[var].transpose(*N.SAMPLE_DIMS).values.ravel()


def _log_lik(result):
    return result.tree["log_likelihood"][N.CLAIMS]


def _r_eff(result) -> float:
    """Relative efficiency of the draws: mean ESS of the sampled parameters over the draw count."""
    post = result.posterior
    free = [v for v in result.tree["log_prior"].to_dataset().data_vars if v in post]
    ess = post[free].azstats.ess(method="mean")
    n = post.sizes["chain"] * post.sizes["draw"]
    return float(np.mean(np.hstack([ess[v].values.ravel() for v in ess.data_vars])) / n)


def _refit_seed(seed: int, ids) -> int:
    """Seed of the refit leaving out ``ids``: from the base seed and the claims, never from order or worker."""
    digest = hashlib.sha256("\0".join(sorted(ids)).encode("utf-8")).digest()
    return int(np.random.SeedSequence([int(seed), int.from_bytes(digest[:8], "little")]).generate_state(1)[0])


def _refit_spec(result, settings: RefitSettings) -> RefitSpec:
    """The run's model of its whole ledger, as loaded (its claims and fitted priors, no files), with the refits' settings."""
    m = result.manifest
    return RefitSpec.from_inputs(
        result.claims,
        result.priors,
        as_of=str(m["as_of"]),
        # Runs are fitted with no months past the as-of date: the same model.
        horizon=None,
        # Runs from before the dynamics were a choice had a random walk.
        dynamics=m.get("dynamics", RANDOM_WALK),
        restatements=m.get("restatements", DEFAULT_RESTATEMENTS),
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        source="<sensitivity>",
    )


def refit_left_out(spec: RefitSpec, left_out: tuple, seed: int, quantities: tuple) -> tuple:
    """One exact refit (a worker task): the spec's compiled model with the ``left_out`` claims weighted 0.

    Returns ``(left_out, {quantity: flat draws}, diagnostics row)``.
    """
    weight = (~spec.claims.index.isin(list(left_out))).astype(float)
    r = refit(spec, claim_data(spec.claims, weight=weight), seed, extra_vars=quantities)
    return tuple(left_out), {v: r.flat(v).ravel() for v in quantities}, r.diagnostics_row()


def _refits(
    result, left_outs, quantities, settings: RefitSettings, *, workers=None, scheduler=None, on_result=None
) -> dict[tuple, tuple]:
    """Exact refits leaving out each of ``left_outs`` (tuples of claim ids): ids -> ({quantity: draws}, diagnostics)."""
    left_outs = [tuple(ids) for ids in left_outs]
    if not left_outs:
        return {}
    base = settings.seed if settings.seed is not None else int(result.manifest.get("seed", 0))
    spec = _refit_spec(result, settings)
    tasks = [(spec, ids, _refit_seed(base, ids), tuple(quantities)) for ids in left_outs]
    done = run_tasks(refit_left_out, tasks, workers=workers, scheduler=scheduler, on_result=on_result)
    return {ids: (draws, diagnostics) for ids, draws, diagnostics in done}


def leave_out(
    result, claim_ids, *, quantities=INFLUENCE_QUANTITIES, method="auto", refit=RefitSettings(), r_eff=None
) -> LeftOut:
    r"""The posterior without some claims: PSIS where :math:`\hat k` allows, else an exact refit.

    Parameters
    ----------
    result : FitResult
        A fitted run with a ``log_likelihood`` group (one term per claim).
    claim_ids : iterable of str
        Claims to leave out (at least one; not all).
    quantities : sequence of str
        Posterior variables whose draws to keep.
    method : {"auto", "psis", "refit"}
        "auto" refits only when :math:`\hat k` exceeds :func:`khat_threshold`.
    refit : RefitSettings
        Sampler settings of an exact refit.
    r_eff : float, optional
        Relative efficiency of the draws (computed when not given).

    Returns
    -------
    LeftOut
    """
    lo = _reweighted(result, claim_ids, quantities, method, r_eff)
    if lo.draws is None:
        _finish_refits([lo], result, quantities, refit)
    return lo


def _reweighted(result, claim_ids, quantities, method, r_eff) -> LeftOut:
    """:func:`leave_out` short of the exact refit: a refit still to run is a :data:`REFIT` row with ``draws=None``."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; one of {', '.join(METHODS)}")
    ids = tuple(str(c) for c in claim_ids)
    all_ids = [str(c) for c in result.claims.index]
    unknown = [c for c in ids if c not in all_ids]
    if unknown:
        raise KeyError(f"no claim named {', '.join(unknown)} in this run")
    keep = [c for c in all_ids if c not in ids]
    if not ids or not keep:
        raise ValueError("leave out at least one claim and keep at least one")

    ll = _log_lik(result).sel({N.CLAIM: list(ids)}).sum(N.CLAIM).transpose(*N.SAMPLE_DIMS).values.ravel()
    n = ll.size
    threshold = khat_threshold(n)
    if np.ptp(ll) <= FLAT_TOL:
        return LeftOut(
            ids, FLAT, np.nan, threshold, {v: _flat_draws(result, v) for v in quantities}, np.full(n, 1.0 / n)
        )
    # Leaving claims out divides each draw's density by their likelihood: log ratio -ll.
    log_w, khat = psis(-ll, r_eff=_r_eff(result) if r_eff is None else r_eff)
    if method == REFIT or (method == "auto" and not reweighting_holds(khat, n)):
        return LeftOut(ids, REFIT, khat, threshold, None, None)
    return LeftOut(ids, PSIS, khat, threshold, {v: _flat_draws(result, v) for v in quantities}, np.exp(log_w))


def _finish_refits(
    pending: list[LeftOut], result, quantities, settings: RefitSettings, *, workers=None, scheduler=None, on_result=None
) -> None:
    """Run the exact refits of ``pending`` (all at once, through the executor) and fill in their draws."""
    done = _refits(
        result,
        [lo.claims for lo in pending],
        quantities,
        settings,
        workers=workers,
        scheduler=scheduler,
        on_result=on_result,
    )
    for lo in pending:
        lo.draws, lo.diagnostics = done[lo.claims]
        m = len(next(iter(lo.draws.values())))
        lo.weights = np.full(m, 1.0 / m)


def _influence_rows(result, label, level, lo: LeftOut, base: dict) -> list[dict]:
    rows = []
    for var in base:
        q05, med, q95 = lo.quantiles(var)
        b05, bmed, b95 = base[var]
        rows.append(
            {
                "left_out": label,
                "level": level,
                "n_claims": len(lo.claims),
                "quantity": var,
                "median": med,
                "q05": q05,
                "q95": q95,
                "shift_median": med - bmed,
                "shift_median_pct": 100.0 * (med - bmed) / bmed,
                "shift_q05": q05 - b05,
                "shift_q95": q95 - b95,
                "method": lo.method,
                "khat": lo.khat,
                "khat_threshold": lo.threshold,
                "diagnostics_ok": lo.diagnostics_ok,
                "reliable": lo.reliable,
            }
        )
    return rows


def influence_table(
    result,
    *,
    quantities=INFLUENCE_QUANTITIES,
    method="auto",
    refit=RefitSettings(),
    families=True,
    progress: bool = True,
    workers: int | None = None,
    scheduler=None,
) -> pd.DataFrame:
    """How median and 90% interval move when each claim, and each source family, is left out.

    Parameters
    ----------
    result : FitResult
    quantities : sequence of str
        Headline quantities (default: 152mm shells, containers, value).
    method : {"auto", "psis", "refit"}
        See :func:`leave_out`.
    refit : RefitSettings
        Sampler settings of exact refits.
    families : bool
        Also leave out every claim of each source family at once.
    progress : bool
        Show a progress bar over the left-out claims and families (exact refits take seconds each).
    workers, scheduler
        Local worker processes, or a Dask scheduler, for the exact refits
        (:func:`estimator.workers.run_tasks`); the table does not depend on
        them. Workers receive the run's claims and priors themselves
        (:class:`estimator.refit.RefitSpec`), not paths to files.

    Returns
    -------
    DataFrame
        One row per left-out claim or family and quantity: ``left_out``
        (claim id or family key), ``label`` (claim id or the family's display
        label), ``level`` ("claim" or "family"), ``n_claims``, ``quantity``,
        ``median``, ``q05``, ``q95`` without it, their shifts from the full
        posterior (``shift_median``, ``shift_median_pct``, ``shift_q05``,
        ``shift_q95``), ``method`` used, ``khat``, ``khat_threshold``,
        ``diagnostics_ok`` (False when the exact refit missed a sampler
        threshold) and ``reliable`` (False for PSIS above the k-hat threshold
        or a refit that missed a diagnostic threshold).

    Notes
    -----
    A refit carries its own Monte Carlo error: with the default
    :class:`RefitSettings` (2 chains x 1,000 draws) the standard error of a
    median is about 1% of it on the default run, so refit shifts within about
    2% are noise. PSIS rows reuse the run's draws and share their error.
    """
    n = _log_lik(result).sizes["chain"] * _log_lik(result).sizes["draw"]
    uniform = np.full(n, 1.0 / n)
    # The baseline uses the same quantile rule as the left-out posteriors, so
    # an ignored claim shifts nothing by construction of the estimator.
    base = {v: quantile(_flat_draws(result, v), QUANTILES, uniform) for v in quantities}
    r_eff = _r_eff(result)
    targets = [(str(c), "claim", [str(c)]) for c in result.claims.index]
    if families:
        fam = result.claims["source_family"]
        targets += [(f, "family", [str(c) for c in fam.index[fam == f]]) for f in dict.fromkeys(fam)]
    done: dict[frozenset, LeftOut] = {}
    for _, _, ids in targets:
        key = frozenset(ids)
        if key not in done:
            done[key] = _reweighted(result, ids, quantities, method, r_eff)
    pending = [lo for lo in done.values() if lo.draws is None]
    bar = tqdm(total=len(done), desc="leave-one-out posteriors", unit="left out", disable=not progress)
    bar.update(len(done) - len(pending))
    _finish_refits(
        pending, result, quantities, refit, workers=workers, scheduler=scheduler, on_result=lambda _: bar.update(1)
    )
    bar.close()
    rows = []
    for label, level, ids in targets:
        rows += _influence_rows(result, label, level, done[frozenset(ids)], base)
    df = pd.DataFrame(rows)
    # Families by the prior file's display label ("US government"), claims by their id.
    names = result.family_labels
    df["label"] = [names.get(n, n) if lvl == "family" else n for n, lvl in zip(df["left_out"], df["level"])]
    return df


def _evidence_sets(claims: pd.DataFrame) -> dict[str, list[str]]:
    is_count = claims["kind"] == C.COUNT
    chain = claims.index[(is_count & (claims["quantity"] == C.CONTAINERS)) | (claims["kind"] == C.CAPACITY)]
    direct = claims.index[is_count & claims["quantity"].isin([C.SHELLS_152MM, C.ARTILLERY_ROUNDS])]
    return {CHAIN: list(chain), DIRECT: list(direct), BOTH: [*chain, *direct]}


def overlap_coefficient(x1, w1, x2, w2, grid_size: int = 512) -> float:
    r"""Overlap :math:`\int \min(f_1, f_2)` of two weighted samples' densities.

    Densities are weighted Gaussian kernel estimates (Scott's bandwidth on the
    effective sample size), integrated by the trapezoid rule on a common grid
    extending three bandwidths past the pooled range. Pass positive quantities
    on a log scale.
    """
    k1 = gaussian_kde(np.asarray(x1, float), weights=w1)
    k2 = gaussian_kde(np.asarray(x2, float), weights=w2)
    pad = 3 * max(np.sqrt(k1.covariance[0, 0]), np.sqrt(k2.covariance[0, 0]))
    lo = min(np.min(x1), np.min(x2)) - pad
    hi = max(np.max(x1), np.max(x2)) + pad
    grid = np.linspace(lo, hi, grid_size)
    return float(np.clip(np.trapezoid(np.minimum(k1(grid), k2(grid)), grid), 0.0, 1.0))


def conflict_in_words(overlap: float, median_chain: float, median_direct: float) -> str:
    """The overlap of the two one-source posteriors, said in words."""
    ratio = median_chain / median_direct
    direction = f"the chain's median is {ratio:.2f} times the direct estimates' median"
    # Cut-offs are a reading aid, not a test: two broad posteriors whose
    # medians differ by half still overlap by about 60%.
    if overlap >= 0.7:
        verdict = "The two sources largely agree"
    elif overlap >= 0.4:
        verdict = "The two sources partly agree: there is some tension between them"
    elif overlap >= 0.1:
        verdict = "The two sources barely overlap: a clear conflict, and the combined answer is a compromise neither supports well"
    else:
        verdict = "The two sources do not overlap: under this model they contradict each other"
    return f"{verdict} (overlap {100 * overlap:.0f}%; {direction})."


def reconciliation_table(
    result,
    *,
    quantity=N.SHELLS_152MM,
    method="auto",
    refit=RefitSettings(),
    progress: bool = True,
    workers: int | None = None,
    scheduler=None,
) -> pd.DataFrame:
    """Shells from the count x capacity chain alone, the direct estimates alone, both, and the full ledger.

    Parameters
    ----------
    result : FitResult
    quantity : str
        Posterior variable compared (default 152mm shells delivered).
    method : {"auto", "psis", "refit"}
        See :func:`leave_out`.
    refit : RefitSettings
    progress : bool
        Show a progress bar over the exact refits.
    workers, scheduler
        As in :func:`influence_table`.

    Returns
    -------
    DataFrame
        Index: evidence set; columns ``claims`` (ids used), ``n_claims``,
        ``median``, ``q05``, ``q95``, ``method``, ``khat``, ``reliable``.
        ``attrs["overlap"]`` holds the overlap coefficient of the chain-alone
        and direct-alone posteriors and ``attrs["conflict"]`` says it in words.
    """
    sets = _evidence_sets(result.claims)
    empty = [k for k in (CHAIN, DIRECT) if not sets[k]]
    if empty:
        raise ValueError(f"the ledger has no claims for: {', '.join(empty)}")
    all_ids = [str(c) for c in result.claims.index]
    r_eff = _r_eff(result)
    left = {}
    for label, ids in sets.items():
        out = [c for c in all_ids if c not in ids]
        if out:
            left[label] = _reweighted(result, out, [quantity], method, r_eff)
        else:
            n = _log_lik(result).size // len(all_ids)
            left[label] = LeftOut(
                (), "none", np.nan, khat_threshold(n), {quantity: _flat_draws(result, quantity)}, np.full(n, 1.0 / n)
            )
    # The three evidence sets leave out three different sets of claims (chain and direct claims are disjoint).
    pending = [lo for lo in left.values() if lo.draws is None]
    if pending:
        with tqdm(total=len(pending), desc="reconciliation refits", unit="refit", disable=not progress) as bar:
            _finish_refits(
                pending,
                result,
                [quantity],
                refit,
                workers=workers,
                scheduler=scheduler,
                on_result=lambda _: bar.update(1),
            )
    rows = []
    for label, ids in sets.items():
        lo = left[label]
        q05, med, q95 = lo.quantiles(quantity)
        rows.append(
            {
                "evidence": label,
                "claims": ", ".join(ids),
                "n_claims": len(ids),
                "median": med,
                "q05": q05,
                "q95": q95,
                "method": lo.method,
                "khat": lo.khat,
                "diagnostics_ok": lo.diagnostics_ok,
                "reliable": lo.reliable,
            }
        )
    x = _flat_draws(result, quantity)
    q05, med, q95 = quantile(x)
    rows.append(
        {
            "evidence": FULL,
            "claims": ", ".join(all_ids),
            "n_claims": len(all_ids),
            "median": med,
            "q05": q05,
            "q95": q95,
            "method": "none",
            "khat": np.nan,
            "diagnostics_ok": True,
            "reliable": True,
        }
    )
    df = pd.DataFrame(rows).set_index("evidence")
    a, b = left[CHAIN], left[DIRECT]
    ovl = overlap_coefficient(np.log10(a.draws[quantity]), a.weights, np.log10(b.draws[quantity]), b.weights)
    df.attrs["overlap"] = ovl
    df.attrs["conflict"] = conflict_in_words(ovl, df.loc[CHAIN, "median"], df.loc[DIRECT, "median"])
    return df
