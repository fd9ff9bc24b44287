r"""Leave-future-out backtest: what we believed at each vintage, and how well it forecast.

For each vintage :math:`V` (by default every month end from the first claim
to the last), the model is fitted on the claims said on or before :math:`V`
and every claim said after :math:`V`, up to a horizon, is scored against the
fit's predictive distribution of that claim's source estimate. That is
leave-future-out cross-validation (LFO-CV) for a time series of claims.

Scores, per (vintage, later claim) pair, with :math:`\mu_s, \sigma_s` the
predictive moments of the claim's log estimate in posterior draw :math:`s`
and :math:`w_s` normalised draw weights:

* ``lpd``: the log predictive density of the claim's *event*,
  :math:`\log \sum_s w_s\, p(y \mid \theta_s)`, with
  :math:`p(y \mid \theta)` the model's own likelihood term for the claim
  (:func:`estimator.likelihood.claim_loglik`): the probability of its interval or
  bound, or the density of a point's log figure. Higher is better.
* ``pit``: :math:`F(x)` at the figure for a point,
  :math:`F(x) = \sum_s w_s \Phi((\log x - \mu_s)/\sigma_s)`; for a bound
  or range, a uniform draw from :math:`[F(a), F(b)]` (the randomised PIT of
  a censored observation). Uniform on (0, 1) when the forecasts are
  calibrated.
* ``in_50`` / ``in_90``: the share of :math:`[F(a), F(b)]` inside the
  central 50% / 90% predictive interval (0 or 1 for a point); their means
  are the coverages, nominally 0.5 and 0.9.

Approximate LFO (Bürkner, Gabry & Vehtari 2020, "Approximate
leave-future-out cross-validation for Bayesian time series models", J. Stat.
Comput. Simul. 90(14)). Refitting at every vintage is exact but costs a fit
each. From the latest exact fit at vintage :math:`V_r`, the posterior at a
later vintage :math:`V` is its reweighting by the claims said in
:math:`(V_r, V]`: :math:`\log w_s = \sum_{j} \log p(y_j \mid \theta_s)`,
Pareto-smoothed (PSIS, :func:`estimator.reweighting.reweigh`, the decision
every what-if of stored draws takes). Where the Pareto :math:`\hat k`
of those weights exceeds :math:`\min(1 - 1/\log_{10} S, 0.7)`, the model is
refitted exactly at :math:`V`, which becomes the new :math:`V_r`. The
``method`` column says which gave each vintage. Every fit is the same
compiled model of the whole ledger, with each claim's weight in the
likelihood set to 1 if known at the vintage and 0 if not
(:mod:`estimator.model`), so a vintage costs a sampling run, not a compile.

Baselines, scored on the same pairs with the same scores:

* ``prior``: forward Monte Carlo from the same priors with no claim
  conditioning (what a Squiggle or Guesstimate model of the same quantities
  would say): the prior predictive of each claim.
* ``persistence``: the latest claim of the same quantity (and kind) known at
  :math:`V`, carried forward: the log estimate is normal about that claim's
  log figure (a point's figure; a bound's threshold; a range's geometric
  midpoint), with standard deviation the root mean square of the log changes
  between successive claims of the same quantity known at :math:`V`
  (:data:`PERSISTENCE_SD_DEFAULT` until two such changes are known). A claim
  with no earlier claim of its quantity is not scored by this baseline;
  comparisons of mean ``lpd`` use the pairs every method scores.

Outputs (``out``): ``backtest.csv`` and ``backtest.nc`` (one row per
vintage and scored claim), ``beliefs.csv`` (the headline quantities as of
each vintage, as believed then), ``summary.json``, one file per exact fit
under ``fits/`` (so a rerun resumes), and the figures of
:mod:`estimator.figures` drawn by the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from tqdm.auto import tqdm

from estimator import names as N
from estimator.claims import load_claims, read_claims_text
from estimator.errors import InputError, Problem
from estimator.files import NETCDF_ENGINE, atomic_path, write_text
from estimator.likelihood import DEFAULT_RESTATEMENTS, claim_data, claim_loglik, counted_claims
from estimator.priors import load_priors
from estimator.refit import RefitSpec, ResultFolder, refit, state_for
from estimator.reweighting import reweigh
from estimator.sampling import sampler_steps
from estimator.scoring import mixture_cdf, share_inside
from estimator.stats import quantile
from estimator.timeline import months_between, next_month
from estimator.workers import run_tasks

__all__ = [
    "BacktestResult",
    "run_backtest",
    "default_vintages",
    "backtest_summary",
    "METHODS",
    "PERSISTENCE_SD_DEFAULT",
    "DEFAULT_HORIZON_MONTHS",
    "BELIEF_QUANTITIES",
]

AUTO, EXACT = "auto", "exact"
METHODS = (AUTO, EXACT)
DEFAULT_HORIZON_MONTHS = 12
# A factor of about 1.65 either way: the spread given to "the last figure carried
# forward" until the ledger itself shows how much successive figures move.
PERSISTENCE_SD_DEFAULT = 0.5
BELIEF_QUANTITIES = (N.CONTAINERS, N.SHELLS_152MM, N.MISSILES_DELIVERED)
MANIFEST = "backtest-manifest.json"
MODEL, PRIOR, PERSISTENCE = "model", "prior", "persistence"
PRIOR_DRAWS = 4000
# Variables each exact fit keeps besides the headline quantities and claim moments:
# the rates and the shell load give the headline quantities at any vintage date.
_EXTRA_VARS = (N.CONTAINER_RATE, N.MISSILE_RATE, N.CARGO_MIX)


def _month_end(d: dt.date) -> dt.date:

    return next_month(d) - dt.timedelta(days=1)


def default_vintages(claims: pd.DataFrame) -> list[dt.date]:
    """Every month end from the first claim's month up to, not including, the month of the last claim.

    A vintage at or after the last claim has nothing left to forecast.
    """
    first, last = min(claims["date_said"]), max(claims["date_said"])
    out, v = [], _month_end(first)
    while v < last:
        out.append(v)
        v = _month_end(v + dt.timedelta(days=1))
    return out


@dataclass
class BacktestResult:
    """Scores per (vintage, claim), beliefs per vintage, and the summary."""

    scores: pd.DataFrame
    beliefs: pd.DataFrame
    summary: dict
    claims: pd.DataFrame = field(repr=False, default=None)

    def __str__(self) -> str:
        return self.summary_text()

    def summary_text(self) -> str:
        """What ``estimator backtest`` prints: coverage and mean log predictive density against the baselines."""
        s = self.summary
        lines = [
            f"Backtest ({s.get('dynamics')} rate dynamics, method {s.get('method')}): {s.get('vintages')} vintages, {s.get('exact_fits')} exact fits, "
            f"{s.get('pairs', 0)} (vintage, later claim) pairs over {s.get('claims_scored', 0)} claims, horizon {s.get('horizon_months')} months"
        ]
        if s.get("pairs"):
            lines += [
                f"Coverage of later claims: 50% interval {s['coverage_50']:.2f} (nominal 0.50), 90% interval {s['coverage_90']:.2f} (nominal 0.90)",
                f"Mean log predictive density per claim, on the {s['pairs_common']} pairs every method scores:",
                f"  model {s['model_lpd']:.3f}   prior only {s['prior_lpd']:.3f}   latest claim carried forward {s['persistence_lpd']:.3f}",
                f"  (over all {s['pairs']} pairs: model {s['model_lpd_all']:.3f}, prior only {s['prior_lpd_all']:.3f})",
            ]
        if s.get("fits_missing_diagnostics"):
            lines.append(
                f"WARNING: {s['fits_missing_diagnostics']} of {s['exact_fits']} exact fits missed a sampler diagnostic threshold (see beliefs.csv)."
            )
        return "\n".join(lines)


def _vintage_seed(seed: int, vintage: dt.date) -> int:
    return int(np.random.SeedSequence([int(seed), vintage.toordinal()]).generate_state(1)[0])


def fit_vintage(spec: RefitSpec, vintage: str, seed: int) -> tuple[str, dict, dict]:
    """Exact fit at one vintage (claims said after it weigh 0): ``(vintage, info row, arrays)``.

    The arrays are what scoring and beliefs need of the draws: each claim's
    predictive moments (claim x draw), the rates and the 152mm load.
    """
    day = dt.date.fromisoformat(vintage)
    known = (spec.claims["date_said"] <= day).to_numpy(float)
    r = refit(spec, claim_data(spec.claims, weight=known), seed, extra_vars=_EXTRA_VARS)
    arrays = {
        "mu": r.flat(N.CLAIM_LOG_MEAN).T,
        "sd": r.flat(N.CLAIM_LOG_SD).T,
        "container_rate": r.flat(N.CONTAINER_RATE),
        "missile_rate": r.flat(N.MISSILE_RATE),
        "shells_per_container": r.flat(N.SHELLS_PER_CONTAINER_152MM) * r.flat(N.CARGO_MIX)[:, 0],
    }
    info = {"vintage": vintage, "seed": seed, **r.diagnostics_row(), "wall_seconds": round(r.seconds, 3)}
    return vintage, info, arrays


def _score_rows(claims: pd.DataFrame, ids: list[str], mu, sd, log_w, rng) -> list[dict]:
    """Scores of ``ids`` under predictive moments (claim x draw) and normalised log weights."""
    sub = claims.loc[ids]
    ll = claim_loglik(sub, mu, sd)
    w = np.exp(log_w)
    rows = []
    for i, (cid, r) in enumerate(sub.iterrows()):
        lpd = float(np.logaddexp.reduce(log_w + ll[i]))
        lo, hi = float(r["low"]), float(r["high"])
        f_lo = mixture_cdf(lo, mu[i], sd[i], w)
        f_hi = f_lo if lo == hi else mixture_cdf(hi, mu[i], sd[i], w)
        pit = f_lo if lo == hi else float(rng.uniform(f_lo, f_hi))
        rows.append(
            {
                N.CLAIM: cid,
                "lpd": lpd,
                "pit_low": f_lo,
                "pit_high": f_hi,
                "pit": pit,
                "in_50": share_inside(f_lo, f_hi, 0.5),
                "in_90": share_inside(f_lo, f_hi, 0.9),
            }
        )
    return rows


def _centre(row) -> float:
    """Log of the figure a claim carries forward: a point's figure, a bound's threshold, a range's midpoint."""
    lo, hi = float(row["low"]), float(row["high"])
    if not np.isfinite(hi):
        return float(np.log(lo))
    if not np.isfinite(lo) or lo <= 0:
        return float(np.log(hi))
    return float((np.log(lo) + np.log(hi)) / 2)


def _persistence_moments(claims: pd.DataFrame, known: list[str], cid: str):
    """(mu, sd) of the persistence baseline for claim ``cid`` given the ``known`` claims, or None."""
    row = claims.loc[cid]
    kin = claims.loc[known]
    same = kin[(kin["quantity"] == row["quantity"]) & (kin["kind"] == row["kind"])]
    if same.empty:
        return None
    latest = same.sort_values(["date_said", "period_end"]).iloc[-1]
    changes = []
    for _, grp in kin.groupby(["quantity", "kind"]):
        c = [_centre(r) for _, r in grp.sort_values(["date_said", "period_end"]).iterrows()]
        changes += list(np.diff(c))
    sd = float(np.sqrt(np.mean(np.square(changes)))) if len(changes) >= 2 else PERSISTENCE_SD_DEFAULT
    return _centre(latest), max(sd, 1e-3)


def _beliefs(state, fit: dict, log_w: np.ndarray, vintage: dt.date) -> dict:
    """Headline quantities as of the vintage date, as believed then (weighted quantiles)."""
    exposure = state.layout_for(vintage).exposure_as_of
    containers = (fit["container_rate"] * exposure).sum(axis=1)
    values = {
        N.CONTAINERS: containers,
        N.SHELLS_152MM: containers * fit["shells_per_container"],
        N.MISSILES_DELIVERED: (fit["missile_rate"] * exposure).sum(axis=1),
    }
    w = np.exp(log_w)
    row = {}
    for var, x in values.items():
        q05, q25, q50, q75, q95 = quantile(x, (0.05, 0.25, 0.5, 0.75, 0.95), weights=w)
        row.update({f"{var}_q05": q05, f"{var}_q25": q25, f"{var}_q50": q50, f"{var}_q75": q75, f"{var}_q95": q95})
    return row


def run_backtest(
    out: str | Path,
    *,
    claims=None,
    priors=None,
    vintages=None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    dynamics: str | None = None,
    restatements: str | None = None,
    method: str = AUTO,
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    seed: int = 20240223,
    workers: int = 1,
    scheduler=None,
    progress: bool = True,
) -> BacktestResult:
    r"""Run (or resume) the leave-future-out backtest of a ledger (module docstring).

    Parameters
    ----------
    out : path
        Output folder; a rerun with the same settings resumes from its ``fits/``.
    claims, priors : path or None
        Ledger and prior file (default: the embedded ones).
    vintages : list of date or str, optional
        Vintage dates (default :func:`default_vintages`).
    horizon_months : int
        Score a later claim only if it speaks of a date at most this many
        calendar months past the vintage.
    dynamics : str, optional
        Rate dynamics (default: the model's default).
    restatements : str, optional
        How restatements enter the likelihood (default: the model's default,
        :mod:`estimator.model`); an excluded one adds nothing to the PSIS weights either.
    method : {"auto", "exact"}
        ``auto``: PSIS from the latest exact fit where :math:`\hat k`
        allows (:func:`estimator.stats.reweighting_holds`), else an exact
        refit (sequential by construction); ``exact``: refit at every vintage
        (independent: parallel).
    draws, tune, chains, seed : int
        Sampler settings of each exact fit (nutpie; by default a default
        fit's: 4 chains x 1,000 draws + 500 tuning steps, with which the
        exact fits of the default ledger's backtest kept R-hat below 1.007,
        where 2 chains x 1,000 + 1,000 left it above 1.01 in three of five);
        vintage seeds derive from ``seed`` and the vintage date.
    workers, scheduler
        Local worker processes, or a Dask scheduler (:func:`estimator.workers.run_tasks`).

    Returns
    -------
    BacktestResult
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    draws, tune = sampler_steps(draws, tune, "nutpie")
    spec, vintages = _inputs(
        claims, priors, vintages, dynamics, restatements or DEFAULT_RESTATEMENTS, draws, tune, chains
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # The run keeps the ledger it scored; the manifest compares texts, not paths.
    write_text(out / "ledger.csv", spec.claims_text)
    manifest = {"spec": spec.identity(), "seed": seed, "method": method, "horizon_months": horizon_months}
    refusal = "holds a backtest with another ledger, priors, dynamics, sampler settings, seed or method; choose another folder"
    fits = _ExactFits(
        ResultFolder(out, MANIFEST, manifest, refusal, "fits"),
        spec,
        {v: _vintage_seed(seed, v) for v in vintages},
        workers,
        scheduler,
    )
    if method == EXACT:
        fits.ensure(vintages)
    scores, beliefs = _walk_vintages(spec, vintages, fits, horizon_months, seed, progress)
    summary = backtest_summary(scores)
    summary.update(
        {
            "dynamics": spec.dynamics,
            "restatements": spec.restatements,
            "method": method,
            "vintages": len(vintages),
            "exact_fits": len(fits.fits),
            "horizon_months": horizon_months,
            "fits_missing_diagnostics": int(sum(not f["info"]["diagnostics_ok"] for f in fits.fits.values())),
        }
    )
    _write_outputs(out, scores, beliefs, summary)
    return BacktestResult(scores, beliefs, summary, spec.claims)


def _inputs(claims, priors, vintages, dynamics, restatements, draws, tune, chains) -> tuple[RefitSpec, list[dt.date]]:
    """Step 1: the ledger, priors and vintages, validated once; the spec every exact fit refits."""
    name, text = read_claims_text(claims)
    ledger = load_claims(text=text, name=name)
    vintages = default_vintages(ledger) if vintages is None else vintages
    vintages = sorted({v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in vintages})
    first = min(ledger["date_said"])
    early = [v for v in vintages if v < first]
    if early or not vintages:
        what = "no vintages" if not vintages else f"{early[0]} is before the first claim ({first})"
        raise InputError([Problem(name, "--vintages", "vintages", f"{what}: a vintage needs at least one known claim")])
    # One model of the whole ledger; a vintage sets the weights of the claims not yet said to 0.
    horizon = max([*ledger["period_end"], *ledger["date_said"]])
    spec = RefitSpec.from_inputs(
        ledger,
        load_priors(priors),
        as_of=None,
        horizon=horizon,
        dynamics=dynamics,
        restatements=restatements,
        draws=draws,
        tune=tune,
        chains=chains,
        source="<backtest>",
    )
    return spec, vintages


class _ExactFits:
    """Step 2: the exact fits, by vintage: read from the folder when done, else refitted through the executor."""

    def __init__(self, folder: ResultFolder, spec: RefitSpec, seeds: dict, workers, scheduler):
        self.folder, self.spec, self.seeds, self.workers, self.scheduler = folder, spec, seeds, workers, scheduler
        self.fits: dict[dt.date, dict] = {}
        for v in seeds:
            done = folder.done(str(v))
            if done is not None:
                self.fits[v] = {**done.pop("arrays"), "info": done}

    def ensure(self, vintages) -> None:
        """Fit every vintage of ``vintages`` not fitted yet (in parallel when the executor has workers)."""

        def record(result):
            vintage, info, arrays = result
            self.folder.write(vintage, info, arrays)
            self.fits[dt.date.fromisoformat(vintage)] = {**arrays, "info": info}

        todo = [(self.spec, str(v), self.seeds[v]) for v in vintages if v not in self.fits]
        run_tasks(fit_vintage, todo, workers=self.workers, scheduler=self.scheduler, on_result=record)


def _walk_vintages(spec: RefitSpec, vintages, fits: _ExactFits, horizon_months: int, seed: int, progress: bool):
    """Step 3: at each vintage, the posterior (an exact fit, or PSIS from the latest one), its beliefs and its scores."""
    claims_df = spec.claims
    state = state_for(spec)
    rng = np.random.default_rng(seed)
    known_at = {v: [c for c, d in claims_df["date_said"].items() if d <= v] for v in vintages}
    # A restatement the likelihood leaves out reweights nothing either.
    counted = dict(zip(claims_df.index, counted_claims(claims_df, spec.restatements)))
    rows, beliefs = [], []
    reference = None
    bar = tqdm(total=len(vintages), desc=f"backtest vintages ({spec.dynamics})", unit="vintage", disable=not progress)
    for v in vintages:
        used, khat, log_w = "exact", np.nan, None
        if v in fits.fits:
            reference = v
        elif reference is not None:
            added = [c for c in known_at[v] if c not in known_at[reference] and counted[c]]
            ref = fits.fits[reference]
            if added:
                idx = [claims_df.index.get_loc(c) for c in added]
                log_ratio = claim_loglik(claims_df.loc[added], ref["mu"][idx], ref["sd"][idx]).sum(axis=0)
                # The one decision every what-if of stored draws takes (estimator.reweighting).
                weights = reweigh(log_ratio)
                log_w, khat = weights.log_weights, weights.khat
                if weights.holds:
                    used = "psis"
                else:
                    fits.ensure([v])
                    reference, log_w, used = v, None, f"exact (k-hat {khat:.2f})"
            else:
                khat, used = 0.0, "psis (no new claims)"
        else:
            fits.ensure([v])
            reference = v
        fit = fits.fits[reference]
        n_draws = fit["mu"].shape[1]
        if log_w is None:
            log_w = np.full(n_draws, -np.log(n_draws))
        info = fit["info"]
        beliefs.append(
            {
                "vintage": v,
                "method": used,
                "khat": khat,
                "reference": reference,
                "claims_known": len(known_at[v]),
                **_beliefs(state, fit, log_w, v),
                "diagnostics_ok": info["diagnostics_ok"],
                "divergences": info["divergences"],
                "max_rhat": info["max_rhat"],
            }
        )
        later = [
            c
            for c, r in claims_df.iterrows()
            if r["date_said"] > v and months_between(v, max(r["period_end"], r["date_said"])) <= horizon_months
        ]
        rows += _scored_pairs(claims_df, later, fit, log_w, v, used, khat, rng)
        bar.update(1)
    bar.close()
    scores = pd.DataFrame(rows)
    if not scores.empty:
        scores = _add_baselines(scores, claims_df, state, known_at, seed, rng)
    return scores, pd.DataFrame(beliefs)


def _scored_pairs(claims_df, later: list[str], fit: dict, log_w, vintage, used: str, khat: float, rng) -> list[dict]:
    """The rows of ``backtest.csv`` for one vintage: each later claim, scored under the vintage's posterior."""
    if not later:
        return []
    idx = [claims_df.index.get_loc(c) for c in later]
    rows = []
    for r in _score_rows(claims_df, later, fit["mu"][idx], fit["sd"][idx], log_w, rng):
        cid = r[N.CLAIM]
        row = claims_df.loc[cid]
        rows.append(
            {
                "vintage": vintage,
                N.CLAIM: cid,
                "method": used,
                "khat": khat,
                "date_said": row["date_said"],
                "period_end": row["period_end"],
                "months_ahead": months_between(vintage, row["period_end"]),
                "quantity": row["quantity"],
                "kind": row["kind"],
                "source_family": row["source_family"],
                "qualifier": row["qualifier"],
                "figure": row["figure"],
                **{k: val for k, val in r.items() if k != N.CLAIM},
            }
        )
    return rows


def _write_outputs(out: Path, scores: pd.DataFrame, beliefs: pd.DataFrame, summary: dict) -> None:
    """Step 4: the tables and the summary, each file written whole."""
    with atomic_path(out / "backtest.csv") as tmp:
        scores.to_csv(tmp, index=False)
    with atomic_path(out / "beliefs.csv") as tmp:
        beliefs.to_csv(tmp, index=False)
    _to_netcdf(scores, out / "backtest.nc", summary)
    write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


def _add_baselines(scores: pd.DataFrame, claims_df, state, known_at, seed: int, rng) -> pd.DataFrame:
    """Score the same (vintage, claim) pairs under the prior and persistence baselines."""
    with state.model:
        prior = pm.sample_prior_predictive(
            draws=PRIOR_DRAWS, var_names=[N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD], random_seed=seed, compile_kwargs={}
        )
    pg = prior["prior"].to_dataset() if hasattr(prior["prior"], "to_dataset") else prior["prior"]
    mu_p = pg[N.CLAIM_LOG_MEAN].stack(s=("chain", "draw")).transpose(N.CLAIM, "s").values
    sd_p = pg[N.CLAIM_LOG_SD].stack(s=("chain", "draw")).transpose(N.CLAIM, "s").values
    uniform = np.full(mu_p.shape[1], -np.log(mu_p.shape[1]))
    cache = {}
    extra = []
    for _, r in scores.iterrows():
        cid = r[N.CLAIM]
        if cid not in cache:
            i = claims_df.index.get_loc(cid)
            cache[cid] = _score_rows(claims_df, [cid], mu_p[[i]], sd_p[[i]], uniform, rng)[0]
        pr = cache[cid]
        moments = _persistence_moments(claims_df, known_at[r["vintage"]], cid)
        if moments is None:
            ps = {"lpd": np.nan, "in_50": np.nan, "in_90": np.nan, "pit": np.nan}
        else:
            ps = _score_rows(claims_df, [cid], np.array([[moments[0]]]), np.array([[moments[1]]]), np.zeros(1), rng)[0]
        extra.append(
            {
                "prior_lpd": pr["lpd"],
                "prior_pit": pr["pit"],
                "prior_in_50": pr["in_50"],
                "prior_in_90": pr["in_90"],
                "persistence_lpd": ps["lpd"],
                "persistence_pit": ps["pit"],
                "persistence_in_50": ps["in_50"],
                "persistence_in_90": ps["in_90"],
            }
        )
    return pd.concat([scores.reset_index(drop=True), pd.DataFrame(extra)], axis=1)


def backtest_summary(scores: pd.DataFrame) -> dict:
    """Coverage, mean log predictive density per claim of the model and both baselines.

    Mean ``lpd`` is compared on the pairs every method scores (the
    persistence baseline cannot score a claim with no earlier claim of its
    quantity); ``model_lpd_all`` and ``prior_lpd_all`` are over every pair.
    """
    if scores.empty:
        return {"pairs": 0}
    common = scores.dropna(subset=["persistence_lpd"])
    return {
        "pairs": int(len(scores)),
        "claims_scored": int(scores[N.CLAIM].nunique()),
        "coverage_50": float(scores["in_50"].mean()),
        "coverage_90": float(scores["in_90"].mean()),
        "pairs_common": int(len(common)),
        "model_lpd": float(common["lpd"].mean()) if len(common) else np.nan,
        "prior_lpd": float(common["prior_lpd"].mean()) if len(common) else np.nan,
        "persistence_lpd": float(common["persistence_lpd"].mean()) if len(common) else np.nan,
        "model_lpd_all": float(scores["lpd"].mean()),
        "prior_lpd_all": float(scores["prior_lpd"].mean()),
        "prior_coverage_90": float(scores["prior_in_90"].mean()),
        "persistence_coverage_90": float(common["persistence_in_90"].mean()) if len(common) else np.nan,
        "psis_pairs": int(scores["method"].str.startswith("psis").sum()),
    }


def _to_netcdf(scores: pd.DataFrame, path: Path, summary: dict) -> None:
    """The scores as an xarray Dataset with dimensions (vintage, claim)."""
    if scores.empty:
        ds = xr.Dataset()
    else:
        numeric = [
            c for c in scores.columns if c not in ("vintage", N.CLAIM) and pd.api.types.is_numeric_dtype(scores[c])
        ]
        df = scores.assign(vintage=pd.to_datetime(scores["vintage"])).set_index(["vintage", N.CLAIM])[numeric]
        ds = xr.Dataset.from_dataframe(df)
        ds = ds.assign(
            method=xr.DataArray(
                scores.assign(vintage=pd.to_datetime(scores["vintage"]))
                .set_index(["vintage", N.CLAIM])["method"]
                .to_xarray()
                .astype(str)
            )
        )
    ds.attrs.update(
        {
            k: json.dumps(v, default=str) if not isinstance(v, (int, float, str)) else v
            for k, v in summary.items()
            if v is not None and not (isinstance(v, float) and np.isnan(v))
        }
    )
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=NETCDF_ENGINE)
