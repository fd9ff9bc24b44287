"""NUTS for the package: the samplers, their settings, and the diagnostics every fit is held to.

Diagnostics (never hidden): maximum rank-normalised split R-hat, minimum
bulk and tail ESS over every sampled parameter and headline quantity (Vehtari
et al. 2021), the number of divergent transitions after warm-up, the share of
draws whose trajectory stopped at the maximum tree depth (worst chain) and the
E-BFMI of each chain (Betancourt 2016). Thresholds: R-hat <= 1.01, bulk and
tail ESS >= 400 (100 per chain for four chains), zero divergences, at most 5%
of a chain's draws at the maximum tree depth (PyMC's own rule), E-BFMI >= 0.3.
All statistics come from ArviZ (``arviz_stats``). :func:`warn_if_missed`
raises a :class:`~estimator.errors.SamplingWarning` and logs to the
``estimator`` logger when any threshold is missed.

:func:`sample_model` runs nutpie (the default: on the model compiled once per
graph, :mod:`estimator._compiled`) or PyMC's own NUTS and returns the DataTree
of a run; :func:`nutpie_sample` is the one call of nutpie, with the package's
settings, that fits and refits share.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr
from pymc.backends.arviz import patch_nutpie_idata

from estimator import names as N
from estimator._compiled import LOG_LIKELIHOOD_PREFIX, LOG_PRIOR_PREFIX, compile_model
from estimator.errors import FitError, SamplingWarning
from estimator.likelihood import claims_random

__all__ = [
    "Diagnostics",
    "diagnose",
    "warn_if_missed",
    "sample_model",
    "nutpie_sample",
    "machine_cores",
    "sampler_steps",
    "RHAT_MAX",
    "ESS_MIN",
    "TREEDEPTH_SHARE_MAX",
    "BFMI_MIN",
    "SAMPLERS",
    "DEFAULT_SAMPLER",
    "DEFAULT_DRAWS",
    "DEFAULT_TUNE",
    "TARGET_ACCEPT",
    "GROUPS",
]

log = logging.getLogger("estimator")


RHAT_MAX = 1.01
ESS_MIN = 400

# PyMC warns when more than 5% of a chain's draws stop at the maximum tree depth.
TREEDEPTH_SHARE_MAX = 0.05

# Betancourt (2016): E-BFMI below 0.3 means momentum resampling explores the energy poorly.
BFMI_MIN = 0.3

# Sample statistics as PyMC and nutpie name them.
_MAX_DEPTH_FLAGS = ("reached_max_treedepth", "maxdepth_reached")
SAMPLERS = ("pymc", "nutpie")

# nutpie on the cached compiled model (estimator._compiled) is the fast route end to end;
# PyMC's own NUTS stays available (benchmarks/bench_fit.py measures both).
DEFAULT_SAMPLER = "nutpie"

# Draws and tuning steps per chain, 4 chains: with nutpie at 1,000 draws every parameter's
# R-hat stayed at or below 1.006 in the runs above at 0.97, every bulk ESS above 1,400 and
# every headline one above 2,500; PyMC needs 1,000 tuning steps.
DEFAULT_DRAWS = {"pymc": 1000, "nutpie": 1000}
DEFAULT_TUNE = {"pymc": 1000, "nutpie": 500}


def sampler_steps(draws: int | None, tune: int | None, sampler: str = DEFAULT_SAMPLER) -> tuple[int, int]:
    """Draws and tuning steps per chain: those given, else the sampler's defaults (:data:`DEFAULT_DRAWS`, :data:`DEFAULT_TUNE`)."""
    return (DEFAULT_DRAWS[sampler] if draws is None else draws), (DEFAULT_TUNE[sampler] if tune is None else tune)


@dataclass
class Diagnostics:
    """Sampler diagnostics and whether each meets its threshold.

    Fields that could not be computed (no sample statistics, a sampler that
    does not record them) are ``None`` and are not checked.
    """

    max_rhat: float
    min_ess_bulk: float
    divergences: int
    worst_rhat: str
    worst_ess: str
    rhat_max: float = RHAT_MAX
    ess_min: float = ESS_MIN
    min_ess_tail: float | None = None
    worst_ess_tail: str = ""
    max_treedepth_share: float | None = None
    bfmi: tuple[float, ...] | None = None
    treedepth_share_max: float = TREEDEPTH_SHARE_MAX
    bfmi_min: float = BFMI_MIN

    @property
    def min_bfmi(self) -> float | None:
        """The lowest E-BFMI of any chain."""
        return None if not self.bfmi else float(min(self.bfmi))

    @property
    def ok(self) -> bool:
        """Whether every diagnostic meets its threshold."""
        return not self.problems()

    def problems(self) -> list[str]:
        """Plain-language list of thresholds missed (empty when all pass)."""
        out = []
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions (threshold 0): the posterior may be biased")
        if not self.max_rhat <= self.rhat_max:
            out.append(f"max R-hat {self.max_rhat:.3f} > {self.rhat_max} ({self.worst_rhat}): chains disagree")
        if not self.min_ess_bulk >= self.ess_min:
            out.append(
                f"min bulk ESS {self.min_ess_bulk:.0f} < {self.ess_min} ({self.worst_ess}): too few effective draws"
            )
        if self.min_ess_tail is not None and not self.min_ess_tail >= self.ess_min:
            out.append(
                f"min tail ESS {self.min_ess_tail:.0f} < {self.ess_min} ({self.worst_ess_tail}): the 5% and 95% quantiles rest on too few effective draws"
            )
        if self.max_treedepth_share is not None and self.max_treedepth_share > self.treedepth_share_max:
            out.append(
                f"{100 * self.max_treedepth_share:.0f}% of a chain's draws stopped at the maximum tree depth "
                f"(threshold {100 * self.treedepth_share_max:.0f}%): trajectories were cut short, exploration is slow"
            )
        low = [f"chain {i}: {b:.2f}" for i, b in enumerate(self.bfmi or ()) if not b >= self.bfmi_min]
        if low:
            out.append(
                f"E-BFMI below {self.bfmi_min} ({', '.join(low)}): the sampler explores the energy distribution poorly"
            )
        return out

    def checks(self) -> list[tuple[str, str, str, str]]:
        """Each check as text: (check, value, threshold, worst variable); uncomputed ones left out."""
        rows = [
            ("max R-hat", f"{self.max_rhat:.3f}", f"≤ {self.rhat_max}", self.worst_rhat),
            ("min bulk ESS", f"{self.min_ess_bulk:,.0f}", f"≥ {self.ess_min:,}", self.worst_ess),
        ]
        if self.min_ess_tail is not None:
            rows.append(("min tail ESS", f"{self.min_ess_tail:,.0f}", f"≥ {self.ess_min:,}", self.worst_ess_tail))
        rows.append(("divergent transitions", str(self.divergences), "0", ""))
        if self.max_treedepth_share is not None:
            rows.append(
                (
                    "draws at max tree depth (worst chain)",
                    f"{100 * self.max_treedepth_share:.1f}%",
                    f"≤ {100 * self.treedepth_share_max:.0f}%",
                    "",
                )
            )
        if self.bfmi:
            rows.append(("E-BFMI (lowest chain)", f"{self.min_bfmi:.2f}", f"≥ {self.bfmi_min}", ""))
        return rows

    def as_dict(self) -> dict:
        """The diagnostics as plain data (a run's manifest stores them)."""
        return {
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "divergences": self.divergences,
            "worst_rhat": self.worst_rhat,
            "worst_ess": self.worst_ess,
            "rhat_threshold": self.rhat_max,
            "ess_threshold": self.ess_min,
            "ok": self.ok,
            "min_ess_tail": self.min_ess_tail,
            "worst_ess_tail": self.worst_ess_tail,
            "max_treedepth_share": self.max_treedepth_share,
            "treedepth_share_threshold": self.treedepth_share_max,
            "bfmi": None if self.bfmi is None else list(self.bfmi),
            "min_bfmi": self.min_bfmi,
            "bfmi_threshold": self.bfmi_min,
        }


def diagnose(tree, ess_min: float = ESS_MIN) -> Diagnostics:
    """R-hat, bulk and tail ESS, divergences, tree depth and E-BFMI of a sampled DataTree (ArviZ).

    ``ess_min`` defaults to 400 (four chains x 100); runs with fewer chains
    may pass ``100 * chains``. Reads the sample statistics of PyMC and of
    nutpie (which names the tree-depth flag ``maxdepth_reached``).
    """
    import arviz_stats as azs  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    post = tree["posterior"].to_dataset()
    skip = {
        N.CLAIM_LOG_MEAN,
        N.CLAIM_LOG_SD,
        N.CONTAINERS_CUMULATIVE,
        N.MISSILES_CUMULATIVE,
        N.CONTAINER_RATE,
        N.MISSILE_RATE,
    }
    names = [v for v in post.data_vars if v not in skip]
    # Constant draws (a fixed prior, a 1-draw run) give NaN and a RuntimeWarning, not an error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = azs.rhat(post[names])
        ess = azs.ess(post[names], method="bulk")
        ess_tail = azs.ess(post[names], method="tail")

    def extreme(ds, pick):
        best_name, best_val = "", None
        for name, da in ds.data_vars.items():
            vals = np.asarray(da.values, dtype=float).ravel()
            vals = vals[np.isfinite(vals)]
            if not vals.size:
                continue
            v = float(pick(vals))
            if best_val is None or pick([v, best_val]) == v:
                best_name, best_val = name, v
        return best_name, (np.nan if best_val is None else best_val)

    worst_rhat, max_rhat = extreme(rhat, np.max)
    worst_ess, min_ess = extreme(ess, np.min)
    worst_tail, min_tail = extreme(ess_tail, np.min)
    div, depth_share, bfmi = 0, None, None
    if "sample_stats" in tree.children:
        stats = tree["sample_stats"].to_dataset()
        if "diverging" in stats:
            div = int(stats["diverging"].sum())
        flag = next((stats[f] for f in _MAX_DEPTH_FLAGS if f in stats), None)
        if flag is not None:
            depth_share = float(flag.astype(float).mean("draw").max())
        if "energy" in stats and stats.sizes.get("draw", 0) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                values = azs.bfmi(stats["energy"])
            bfmi = tuple(float(b) for b in np.atleast_1d(np.asarray(values, dtype=float)))
    return Diagnostics(
        max_rhat,
        min_ess,
        div,
        worst_rhat,
        worst_ess,
        ess_min=ess_min,
        min_ess_tail=min_tail,
        worst_ess_tail=worst_tail,
        max_treedepth_share=depth_share,
        bfmi=bfmi,
    )


def warn_if_missed(diagnostics: Diagnostics, stacklevel: int = 2) -> None:
    """Warn (:class:`~estimator.errors.SamplingWarning`) and log each threshold missed."""
    problems = diagnostics.problems()
    if not problems:
        return
    message = "The sampler missed a diagnostic threshold; do not trust these numbers yet:\n" + "\n".join(
        f"  - {p}" for p in problems
    )
    log.warning(message)
    warnings.warn(message, SamplingWarning, stacklevel=stacklevel + 1)


# The groups of a saved run, in ArviZ's names.
GROUPS = (
    "posterior",
    "prior",
    "posterior_predictive",
    "sample_stats",
    "log_likelihood",
    "log_prior",
    "observed_data",
    "constant_data",
)


def _clean_tree(tree):
    """Keep the groups a run needs; drop object-typed stats netCDF cannot store."""
    keep = {}
    for name in GROUPS:
        if name in tree.children:
            ds = tree[name].to_dataset()
            ds = ds.drop_vars([v for v, da in ds.data_vars.items() if da.dtype == object])
            keep[name] = ds
    return xr.DataTree.from_dict(keep)


def sample_model(
    model, *, draws, tune, chains, seed, sampler, recipe=None, progress=True, cores=None, predictive=False, cache=True
):
    """Sample a built model with the chosen NUTS implementation; return a DataTree.

    With ``predictive``, the ``posterior_predictive`` group holds one draw of
    each source's log estimate per posterior draw (see
    :func:`estimator.likelihood.claims_random`).

    With nutpie the model is compiled once per graph (:mod:`estimator._compiled`:
    kept in this process and, unless ``cache`` is false, on disk), and the
    pointwise log-likelihood and log-prior are computed by the compiled
    expansion during sampling. With PyMC they are computed afterwards.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler '{sampler}'; one of {', '.join(SAMPLERS)}")
    cores = cores or min(chains, machine_cores())
    if sampler == "nutpie":
        return _sample_nutpie(
            model,
            recipe,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress=progress,
            cores=cores,
            predictive=predictive,
            cache=cache,
        )

    tree = pm.sample(
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        random_seed=seed,
        progressbar=progress,
        nuts_sampler="pymc",
        target_accept=TARGET_ACCEPT["pymc"],
        compute_convergence_checks=False,
        model=model,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pm.compute_log_likelihood(tree, model=model, extend_inferencedata=True, progressbar=False)
        pm.stats.compute_log_prior(tree, model=model, extend_inferencedata=True, progressbar=False)
    if predictive:
        with warnings.catch_warnings():
            # The draw is one numpy call per claim: PyTensor's note that it runs it in Python is no news.
            warnings.filterwarnings("ignore", message="Numba will use object mode", category=UserWarning)
            pm.sample_posterior_predictive(
                tree, model=model, var_names=[N.CLAIMS], extend_inferencedata=True, random_seed=seed, progressbar=False
            )
    return _clean_tree(tree)


def _sample_nutpie(model, recipe, *, draws, tune, chains, seed, progress, cores, predictive, cache):
    """Sample with nutpie on the model compiled once per graph; log densities come from the compiled expansion."""
    try:
        compiled = compile_model(model, recipe=recipe, cache=cache, log_densities=True)
    except Exception as exc:
        raise FitError("compiling the model for nutpie", exc) from exc
    try:
        tree = nutpie_sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, progress=progress)
    except Exception as exc:
        raise FitError("sampling with nutpie", exc) from exc
    # nutpie leaves out the observed and constant data; PyMC's own helper adds them.
    patch_nutpie_idata(tree, model, 0.0)
    post = tree["posterior"].to_dataset()
    groups = {}
    for group, prefix in (("log_likelihood", LOG_LIKELIHOOD_PREFIX), ("log_prior", LOG_PRIOR_PREFIX)):
        names = [v for v in post.data_vars if str(v).startswith(prefix)]
        groups[group] = post[names].rename({v: str(v)[len(prefix) :] for v in names})
        post = post.drop_vars(names)
    tree["posterior"] = xr.DataTree(post)
    for group, ds in groups.items():
        tree[group] = xr.DataTree(ds)
    if predictive:
        tree["posterior_predictive"] = xr.DataTree(_predictive_draws(post, seed))
    return _clean_tree(tree)


def _predictive_draws(post: xr.Dataset, seed: int) -> xr.Dataset:
    """One draw of each source's log estimate per posterior draw (:func:`estimator.likelihood.claims_random`).

    The log estimate is normal with the claim's predictive moments, which the
    posterior already holds, so no PyTensor function is compiled for it.
    """
    mu, sigma = post[N.CLAIM_LOG_MEAN], post[N.CLAIM_LOG_SD]
    # The model's own draw; its bounds, forms and weights are unused by it.
    draws = claims_random(mu.values, sigma.values, None, None, None, None, rng=np.random.default_rng(seed))
    return xr.Dataset({N.CLAIMS: (mu.dims, draws)}, coords={d: mu[d] for d in mu.dims})


# Measured with nutpie's low-rank mass matrix (diagonal adaptation diverged more at every
# setting), ar1 dynamics. In the model's own coordinates 0.9-0.97 left 0-5 divergent
# transitions per run on the default ledger and only 0.99 none. In the sampler
# coordinates of estimator.coordinates (level and partially centred innovations) 0.95 left one
# in 1 of 16 runs on the default ledger and in 2 of 5 on the seed era's 14 claims; 0.97
# none in 5 and 10, at about 30 gradient evaluations a draw against 40-47 (README,
# Performance). PyMC's NUTS keeps 0.99.
TARGET_ACCEPT = {"pymc": 0.99, "nutpie": 0.97}


def nutpie_sample(compiled, *, draws: int, tune: int, chains: int, cores: int, seed: int, progress: bool = False):
    """Sample with nutpie's NUTS and the package's settings: low-rank mass matrix, its target acceptance, no warm-up kept."""
    import nutpie  # noqa: PLC0415 - nutpie loads numba and matplotlib; only when sampling

    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=seed,
        progress_bar=progress,
        target_accept=TARGET_ACCEPT["nutpie"],
        adaptation="low_rank",
        save_warmup=False,
    )


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
