r"""Validation: simulation-based calibration and a reference posterior.

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

Scoring claims against a fit lives in :mod:`estimator.scoring`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from estimator import names as N
from estimator.files import atomic_path
from estimator.likelihood import claim_data
from estimator.refit import RefitSpec, ResultFolder, refit, state_for
from estimator.sampling import sampler_steps
from estimator.scoring import batched_function, unconstrained_model
from estimator.simulate import SIMULATOR_VERSION, check_simulable, draw_truth, simulate_claims
from estimator.stats import QUANTILES, psis, quantile
from estimator.workers import run_tasks

__all__ = [
    "SBC_QUANTITIES",
    "sbc_seeds",
    "fractional_rank",
    "run_sbc",
    "sbc_summary",
    "reference_posterior",
    "compare_with_reference",
]

SBC_QUANTITIES = N.SBC_QUANTITIES
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
    r"""Rank of ``truth`` among posterior draws thinned to about their ESS.

    Parameters
    ----------
    draws : ndarray (chain, draw)
    truth : float
    rng : Generator
        Breaks ties and spreads the rank over its bin.

    Returns
    -------
    rank, n_thinned, u
        :math:`r = \#\{s: x_s < q\}` plus a random share of ties, the number
        :math:`L` of thinned draws, and :math:`u = (r + V)/(L + 1)`.
    """
    from arviz_stats.base import array_stats  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

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


def run_sbc_simulation(spec: RefitSpec, index: int, seed: int) -> dict:
    """One SBC simulation (a worker task): prior draw, simulated ledger, refit, ranks and the refit's diagnostics."""
    truth_seed, claims_seed, sampler_seed = sbc_seeds(seed, index)
    # PyMC logs the variables of every prior draw: hundreds of identical lines in an SBC run.
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.WARNING)
    try:
        truth = draw_truth(state_for(spec).model, seed=truth_seed)
    finally:
        pymc_log.setLevel(level)
    sim = simulate_claims(spec.claims, truth, seed=claims_seed)
    r = refit(spec, claim_data(sim), sampler_seed)
    post = r.posterior
    rng = np.random.default_rng(claims_seed)
    row = {"simulation": index, "seed": sampler_seed}
    for var in SBC_QUANTITIES:
        rank, n, u = fractional_rank(post[var].values, float(truth[var]), rng)
        row.update({f"{var}_truth": float(truth[var]), f"{var}_rank": rank, f"{var}_n": n, f"{var}_u": u})
    row.update(r.diagnostics_row())
    row["wall_seconds"] = round(r.seconds, 3)
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
    draws, tune = sampler_steps(draws, tune, "nutpie")
    # Bad input fails here, in this process, before any folder or worker exists.
    spec = RefitSpec.from_inputs(
        claims,
        priors,
        as_of=as_of,
        horizon=as_of,
        dynamics=dynamics,
        draws=draws,
        tune=tune,
        chains=chains,
        source="<sbc>",
    )
    check_simulable(spec.claims)
    manifest = {"spec": spec.identity(), "seed": seed, "simulator": SIMULATOR_VERSION}
    folder = ResultFolder(
        out,
        SBC_MANIFEST,
        manifest,
        "holds an SBC run with other settings, seed or simulator version; choose another folder",
        "sims",
    )
    rows = {i: r for i in range(simulations) if (r := folder.done(_sim_name(i))) is not None}
    todo = [i for i in range(simulations) if i not in rows]
    bar = tqdm(total=simulations, initial=len(rows), desc="SBC simulations", unit="sim", disable=not progress)

    def record(r):
        folder.write(_sim_name(r["simulation"]), r)
        rows[r["simulation"]] = r
        bar.update(1)

    run_tasks(
        run_sbc_simulation, [(spec, i, seed) for i in todo], workers=workers, scheduler=scheduler, on_result=record
    )
    bar.close()
    table = pd.DataFrame.from_records([rows[i] for i in sorted(rows)])
    with atomic_path(Path(out) / "sbc.csv") as tmp:
        table.to_csv(tmp, index=False)
    return table


def _sim_name(index: int) -> str:
    return f"{index:05d}"


def sbc_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: simulations, uniformity p-value (POT-C), mean fractional rank, thinned draws.

    A mean of ``u`` above 0.5 means the truth tends to sit above the
    posterior (the fit underestimates); below 0.5, it overestimates.
    """
    from arviz_stats.base import array_stats  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

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
    restatements=None,
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
    as_of, dynamics, restatements
        The run's model options, as for :func:`estimator.fit` (``None``: the defaults).
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
    model = unconstrained_model(claims, priors, as_of, dynamics=dynamics, restatements=restatements)
    loglik = model.logp(vars=model.observed_RVs, sum=True)
    # Numba: the vectorised graph runs about 20x faster than in the default C mode.
    fn, names = batched_function(model, [loglik, *(model[q] for q in quantities)], mode="NUMBA")
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
    from arviz_stats.base import array_stats  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

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
            rows.append(
                {
                    "quantity": q,
                    "p": p,
                    "mcmc": mcmc,
                    "reference": ref_q,
                    "ref_cdf_at_mcmc": f_ref,
                    "se": se,
                    "z_score": zs,
                    "agrees": abs(zs) <= z,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- scoring claims
