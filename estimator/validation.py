r"""Validation: simulation-based calibration, a reference posterior, and scoring claims.

Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788)
    For simulation :math:`j`, draw every parameter from the prior,
    :math:`\theta^{(j)} \sim p(\theta)`, simulate a ledger of the default
    ledger's shape (same qualifiers, periods and sources;
    :mod:`estimator.simulate`), refit, and record for each headline quantity
    :math:`q` the rank :math:`r_j = \#\{s : q(\theta_s) < q(\theta^{(j)})\}`
    among :math:`L_j` posterior draws thinned to roughly independent ones
    (every :math:`\lceil S / \widehat{ESS}\rceil`-th of :math:`S` draws).
    If the fit is the exact posterior, :math:`r_j` is uniform on
    :math:`\{0, \dots, L_j\}`; with ties broken at random,
    :math:`u_j = (r_j + V_j) / (L_j + 1)`, :math:`V_j \sim U(0, 1)`, is
    uniform on :math:`(0, 1)` whatever :math:`L_j`. Uniformity of
    :math:`u_1..u_J` is tested per quantity with ArviZ's ``uniformity_test``
    (POT-C: pointwise Beta order-statistic tests combined by the Cauchy
    combination, Tesso & Vehtari 2025).

Reference posterior (self-normalised importance sampling from the prior)
    Draw :math:`\theta_i \sim p(\theta)`, :math:`i = 1..n`, with PreliZ (not
    PyMC) from each prior entry and :math:`N(0, 1)` for the rates' and families' standardised
    innovations; weight :math:`w_i \propto p(y \mid \theta_i)`, the model's
    own log-likelihood (one compiled, vectorised PyTensor function of the
    model without value transforms). Then
    :math:`\hat F(x) = \sum_i w_i\, 1[q(\theta_i) \le x] / \sum_i w_i`. It
    shares no code with any MCMC sampler. Its effective sample size is
    Kish's :math:`(\sum w)^2 / \sum w^2`; its reliability, the Pareto
    :math:`\hat k` of the weights (PSIS, Vehtari et al. 2024; reliable below
    0.7).

Scoring claims
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
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from estimator import claims as C
from estimator import names as N
from estimator.errors import InputError, Problem
from estimator.model import FORECAST_MONTHS, months_between
from estimator.stats import QUANTILES, SURPRISE_P, psis

__all__ = [
    "SBC_QUANTITIES",
    "sbc_seeds",
    "fractional_rank",
    "run_sbc",
    "sbc_summary",
    "reference_posterior",
    "compare_with_reference",
    "score_claims",
    "coverage_summary",
]

SBC_QUANTITIES = N.HEADLINE
REFERENCE_QUANTITIES = (N.CONTAINERS, N.SHELLS_152MM, N.VALUE_USD)
SBC_MANIFEST = "sbc-manifest.json"


# ---------------------------------------------------------------- SBC


def sbc_seeds(seed: int, index: int) -> tuple[int, int, int]:
    """Seeds of simulation ``index``: truth, simulated claims, sampler.

    A function of the SBC seed and the index alone, so results do not depend
    on the number of workers or on the order simulations finish in.
    """
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(3)
    return int(state[0]), int(state[1]), int(state[2])


def fractional_rank(draws: np.ndarray, truth: float, rng: np.random.Generator) -> tuple[int, int, float]:
    """Rank of ``truth`` among posterior draws thinned to about their ESS.

    Parameters
    ----------
    draws : ndarray (chain, draw)
    truth : float
    rng : Generator
        Breaks ties and spreads the rank over its bin.

    Returns
    -------
    rank, n_thinned, u
        :math:`r = \\#\\{s: x_s < q\\}` plus a random share of ties, the number
        :math:`L` of thinned draws, and :math:`u = (r + V)/(L + 1)`.
    """
    from arviz_stats.base import array_stats

    draws = np.asarray(draws, dtype=float)
    total = draws.size
    # Bulk ESS of the chains; ranks of autocorrelated draws are not uniform (Talts et al. sec. 5).
    ess = float(array_stats.ess(draws, chain_axis=0, draw_axis=1, method="bulk"))
    thin = max(1, math.ceil(total / max(ess, 1.0))) if np.isfinite(ess) else 1
    kept = draws[:, ::thin].ravel()
    below = int(np.sum(kept < truth))
    ties = int(np.sum(kept == truth))
    rank = below + int(rng.integers(0, ties + 1))
    u = (rank + rng.uniform()) / (kept.size + 1)
    return rank, int(kept.size), float(u)


def _sbc_payload(claims, priors, as_of, draws: int, tune: int, chains: int, dynamics: str | None = None) -> dict:
    """Worker payload (see :mod:`estimator.workers`); ``None`` paths mean the embedded inputs."""
    from estimator.model import DEFAULT_DYNAMICS

    paths = [None if p is None else str(Path(p).resolve()) for p in (claims, priors)]
    as_of = None if as_of is None else str(as_of)
    return {
        "source": "<sbc>",
        "claims_path": paths[0],
        "priors_path": paths[1],
        "as_of": as_of,
        "horizon": as_of,
        "dynamics": dynamics or DEFAULT_DYNAMICS,
        "draws": draws,
        "tune": tune,
        "chains": chains,
    }


def run_sbc_simulation(payload: dict, index: int, seed: int, out_dir: str) -> dict:
    """One SBC simulation: prior draw, simulated ledger, refit, ranks; written to ``sims/<index>.json``."""
    from estimator.compiled import with_data
    from estimator.inference import diagnose
    from estimator.model import claim_data
    from estimator.simulate import draw_truth, simulate_claims
    from estimator.workers import compiled_model, sample_compiled, worker_state, write_atomic

    t0 = time.perf_counter()
    truth_seed, claims_seed, sampler_seed = sbc_seeds(seed, index)
    state = worker_state(payload)
    # PyMC logs the variables of every prior draw: hundreds of identical lines in an SBC run.
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.WARNING)
    try:
        truth = draw_truth(state.model, seed=truth_seed)
    finally:
        pymc_log.setLevel(level)
    sim = simulate_claims(state.claims, truth, seed=claims_seed)
    compiled = with_data(compiled_model(state), **claim_data(sim))
    tree = sample_compiled(compiled, payload, sampler_seed)
    post = tree["posterior"].to_dataset()
    rng = np.random.default_rng(claims_seed)
    row = {"simulation": index, "seed": sampler_seed}
    for var in SBC_QUANTITIES:
        rank, n, u = fractional_rank(post[var].values, float(truth[var]), rng)
        row.update({f"{var}_truth": float(truth[var]), f"{var}_rank": rank, f"{var}_n": n, f"{var}_u": u})
    d = diagnose(tree, ess_min=100 * payload["chains"])
    row.update({"max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk, "divergences": d.divergences, "diagnostics_ok": d.ok})
    row["wall_seconds"] = round(time.perf_counter() - t0, 3)
    write_atomic(Path(out_dir) / "sims" / f"{index:05d}.json", row)
    return row


def run_sbc(
    simulations: int,
    out: str | Path,
    *,
    seed: int = 20240223,
    claims: str | Path | None = None,
    priors: str | Path | None = None,
    workers: int = 1,
    scheduler=None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    as_of=None,
    dynamics: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) simulation-based calibration of the model on a ledger's shape.

    Parameters
    ----------
    simulations : int
        Number of prior draws / simulated ledgers / refits.
    out : path
        Folder for ``sims/<index>.json`` (one per finished simulation; a
        rerun skips them) and ``sbc.csv``.
    seed : int
        SBC seed; simulation :math:`j` uses :func:`sbc_seeds` ``(seed, j)``.
    claims, priors : path, optional
        Ledger whose shape is simulated, and prior file (default: embedded).
    workers : int
        Local worker processes (forkserver), each compiling the model once.
    scheduler : str or distributed.Client, optional
        A Dask scheduler to run the simulations on instead.
    as_of : date or str, optional
        Date of the headline quantities ranked (default: the ledger's latest claim).
    dynamics : str, optional
        Rate dynamics (default: the model's default).
    draws, tune, chains : int
        Sampler settings of each refit (nutpie, low-rank adaptation; by
        default a default fit's, 4 chains x 1,000 draws + 500 tuning steps).

    Returns
    -------
    DataFrame
        One row per simulation: truth, rank, thinned draw count and
        fractional rank ``u`` of each quantity, and the refit's diagnostics.
    """
    from tqdm.auto import tqdm

    from estimator.inference import sampler_steps
    from estimator.simulate import SIMULATOR_VERSION, check_simulable
    from estimator.workers import claim_folder, run_tasks, worker_state

    draws, tune = sampler_steps(draws, tune, "nutpie")
    payload = _sbc_payload(claims, priors, as_of, draws, tune, chains, dynamics)
    # Bad input fails here, in this process, before any folder or worker exists; the
    # loaded inputs stay in this process's worker cache for in-process simulations.
    check_simulable(worker_state(payload).claims)
    out = Path(out)
    manifest = {"payload": payload, "seed": seed, "simulator": SIMULATOR_VERSION}
    claim_folder(out, SBC_MANIFEST, manifest, "holds an SBC run with other settings, seed or simulator version; choose another folder", "sims")
    rows = {}
    for f in (out / "sims").glob("*.json"):
        r = json.loads(f.read_text())
        if r["simulation"] < simulations:
            rows[r["simulation"]] = r
    todo = [i for i in range(simulations) if i not in rows]
    bar = tqdm(total=simulations, initial=len(rows), desc="SBC simulations", unit="sim", disable=not progress)

    def record(r):
        rows[r["simulation"]] = r
        bar.update(1)

    run_tasks(run_sbc_simulation, [(payload, i, seed, str(out)) for i in todo], workers=workers, scheduler=scheduler, on_result=record)
    bar.close()
    table = pd.DataFrame.from_records([rows[i] for i in sorted(rows)])
    table.to_csv(out / "sbc.csv", index=False)
    return table


def sbc_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: simulations, uniformity p-value (POT-C), mean fractional rank, thinned draws.

    A mean of ``u`` above 0.5 means the truth tends to sit above the
    posterior (the fit underestimates); below 0.5, it overestimates.
    """
    from arviz_stats.base import array_stats

    rows = []
    for var in SBC_QUANTITIES:
        u = table[f"{var}_u"].to_numpy(float)
        p, _, _ = array_stats.uniformity_test(u, axis=-1, method="pot_c")
        rows.append(
            {
                "quantity": var,
                "label": N.LABELS[var].strip(),
                "simulations": int(u.size),
                "uniformity_p": float(p),
                "mean_u": float(u.mean()),
                "median_thinned_draws": float(table[f"{var}_n"].median()),
            }
        )
    return pd.DataFrame(rows).set_index("quantity")


# ---------------------------------------------------------------- reference posterior


def _unconstrained_model(claims, priors, as_of, horizon=None, dynamics=None):
    """The model with value transforms removed: its value variables are the parameters themselves."""
    from pymc.model.transform.conditioning import remove_value_transforms

    from estimator.model import DEFAULT_DYNAMICS, build_model

    return remove_value_transforms(build_model(claims, priors, as_of=as_of, horizon=horizon, dynamics=dynamics or DEFAULT_DYNAMICS))


def _batched_function(model, outputs, replace=None, mode=None):
    """Compile ``outputs`` as a function of a batch of parameter values (leading draw axis).

    ``replace`` maps model variables to new unbatched inputs of the same
    shape (e.g. a variable's draws fed in directly). Returns ``(fn, names)``:
    call ``fn(*arrays)`` with one batched array per name, then one per
    ``replace`` entry, in order.
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace, vectorize_graph
    from pytensor.graph.traversal import ancestors

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


def _prior_draws(model, priors, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` independent prior draws of every free parameter, from PreliZ (no PyMC sampling)."""
    specs = priors.all_specs()
    point = model.initial_point()
    out = {}
    for rv in model.free_RVs:
        shape = np.shape(point[model.rvs_to_values[rv].name])
        if rv.name in specs:
            x = specs[rv.name].preliz().rvs(n, random_state=rng)
        elif rv.name in N.STANDARD_NORMAL:
            x = rng.standard_normal((n, *shape))
        else:  # pragma: no cover - every other parameter has a prior entry (checked on load)
            raise KeyError(rv.name)
        out[rv.name] = np.asarray(x, dtype=float).reshape((n, *shape))
    return out


def reference_posterior(
    claims,
    priors,
    *,
    as_of=None,
    dynamics=None,
    draws: int = 2_000_000,
    seed: int = 20240223,
    chunk: int = 250_000,
    quantities=REFERENCE_QUANTITIES,
    progress: bool = True,
) -> dict:
    """Posterior of headline quantities by self-normalised importance sampling from the prior.

    Parameters
    ----------
    claims, priors
        As for :func:`estimator.fit`.
    draws : int
        Prior draws (in chunks of ``chunk``).
    seed : int
    quantities : sequence of str
        Headline quantities to keep.
    progress : bool
        Show a progress bar over the prior draws, advanced a chunk at a time.

    Returns
    -------
    dict
        ``values`` (quantity -> draws with non-negligible weight),
        ``weights`` (normalised), ``ess`` (Kish), ``khat`` (Pareto k of the
        weights), ``draws``.
    """
    from tqdm.auto import tqdm

    model = _unconstrained_model(claims, priors, as_of, dynamics=dynamics)
    loglik = model.logp(vars=model.observed_RVs, sum=True)
    # Numba: the vectorised graph runs about 20x faster than in the default C mode.
    fn, names = _batched_function(model, [loglik, *(model[q] for q in quantities)], mode="NUMBA")
    rng = np.random.default_rng(seed)
    kept_lw, kept_q = [], {q: [] for q in quantities}
    all_lw = np.empty(draws)
    best = -np.inf
    done = 0
    bar = tqdm(total=draws, desc="reference prior draws", unit="draw", unit_scale=True, disable=not progress)
    while done < draws:
        n = min(chunk, draws - done)
        theta = _prior_draws(model, priors, n, rng)
        ll, *qs = fn(*(theta[name] for name in names))
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        all_lw[done : done + n] = ll
        best = max(best, float(ll.max()))
        # Draws more than e^-40 below the best weight so far add nothing to any quantile.
        keep = ll > best - 40.0
        kept_lw.append(ll[keep])
        for q, x in zip(quantities, qs):
            kept_q[q].append(np.asarray(x)[keep])
        done += n
        bar.update(n)
    bar.close()
    lw = np.concatenate(kept_lw)
    keep = lw > best - 40.0
    w = np.exp(lw[keep] - best)
    w /= w.sum()
    w_all = np.exp(all_lw - best)
    ess = float(w_all.sum() ** 2 / np.sum(w_all**2))
    _, khat = psis(all_lw)
    values = {q: np.concatenate(kept_q[q])[keep] for q in quantities}
    return {"values": values, "weights": w, "ess": ess, "khat": float(khat), "draws": draws}


def compare_with_reference(result, reference: dict, *, z: float = 4.0) -> pd.DataFrame:
    r"""MCMC quantiles of a run against the reference posterior, on the probability scale.

    For each quantity and level :math:`p`, the MCMC quantile :math:`\hat q_p`
    should satisfy :math:`\hat F_{ref}(\hat q_p) \approx p`. Both estimates
    carry Monte Carlo error; on the probability scale its standard error is
    :math:`\sqrt{p(1-p)\,(1/ESS_{MCMC,p} + 1/ESS_{IS})}`, with
    :math:`ESS_{MCMC,p}` ArviZ's quantile ESS and :math:`ESS_{IS}` Kish's.
    A row agrees when the gap is within ``z`` standard errors (default 4:
    nine comparisons, each failing by chance with probability 6e-5).

    Returns
    -------
    DataFrame
        quantity, p, mcmc, reference (weighted quantile), ref_cdf_at_mcmc,
        se, z_score, agrees.
    """
    from arviz_stats.base import array_stats

    from estimator.stats import quantile

    rows = []
    w = reference["weights"]
    for q, x_ref in reference["values"].items():
        chains = result.posterior[q].values
        for p in QUANTILES:
            mcmc = float(np.quantile(chains.ravel(), p))
            ess_p = float(array_stats.ess(chains, chain_axis=0, draw_axis=1, method="quantile", prob=p))
            ref_q = float(quantile(x_ref, p, w))
            f_ref = float(np.sum(w[x_ref <= mcmc]))
            se = math.sqrt(p * (1 - p) * (1 / ess_p + 1 / reference["ess"]))
            zs = (f_ref - p) / se
            rows.append({"quantity": q, "p": p, "mcmc": mcmc, "reference": ref_q, "ref_cdf_at_mcmc": f_ref, "se": se, "z_score": zs, "agrees": abs(zs) <= z})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- scoring claims


def _predictive_moments(result, new_claims: pd.DataFrame, horizon: dt.date, seed: int):
    """Per claim and posterior draw, :math:`\\mu` and :math:`\\sigma` of the log estimate.

    The claims are appended to the fitted ledger, the model is built up to
    ``horizon`` (a family the fit never saw draws its bias and noise from the
    fitted population, draw by draw), and its monthly rates (containers
    and missiles) are replaced by the fitted months' posterior rates followed
    by each draw's continuation under the run's own rate dynamics
    (:func:`estimator.model.forecast_log_rates`). Returns ``(mu, sigma,
    months, fitted)`` with ``mu``, ``sigma`` of shape (claim, draw).
    """
    import pytensor.tensor as pt

    from estimator.model import RANDOM_WALK, forecast_log_rates

    post = result.posterior
    dynamics = result.manifest.get("dynamics", RANDOM_WALK)
    combined = pd.concat([result.claims, new_claims])
    # Internal ids: a scored claim may repeat a fitted one.
    combined.index = [f"row{i}" for i in range(len(combined))]
    model = _unconstrained_model(combined, result.priors, result.manifest["as_of"], horizon, dynamics)
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
                dynamics, np.log(rate[:, -1]), np.log(stacked(f"{prefix}_rate_mean")), stacked(f"{prefix}_rate_volatility"), phi, extra, rng
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
    fn, names = _batched_function(model, [model[N.CLAIM_LOG_MEAN], model[N.CLAIM_LOG_SD]], replace=inputs)
    mu, sd = fn(*(values(name) for name in names), *rates.values())
    n_new = len(new_claims)
    return mu[:, -n_new:].T, sd[:, -n_new:].T, months, fitted


def mixture_cdf(x, mu, sd, weights=None):
    """:math:`F(x) = \\sum_s w_s\\, \\Phi((\\log x - \\mu_s)/\\sigma_s)` (equal weights by default); 0 at 0, 1 at infinity."""
    if x <= 0:
        return 0.0
    if not np.isfinite(x):
        return 1.0
    return float(np.average(ndtr((math.log(x) - mu) / sd), weights=weights))


def _mixture_quantile(p, mu, sd):
    from scipy.optimize import brentq

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
    horizon = _as_date(horizon) if horizon is not None else _add_months(last_fitted, FORECAST_MONTHS + 1) - dt.timedelta(days=1)
    late = [
        Problem(new_claims.attrs.get("source", "<claims>"), f"claim '{cid}'", "period_end", f"{r['period_end']} is after the forecast horizon {horizon}")
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


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)
