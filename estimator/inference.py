"""Fit the model, check the sampler, save and load a run.

A run is one netCDF file (an ArviZ DataTree): posterior, prior, posterior
predictive (each source's log estimate :math:`\\log \\hat S`, before its
qualifier censors it), sample statistics, pointwise log-likelihood (one term
per claim), log-prior, observed and constant data, with a manifest
in the root attributes: the claims ledger and prior file as loaded (verbatim
text), the as-of date, sampler settings, seed, package versions and a short
hash of all of that. :func:`load_result` re-validates the stored inputs and
reports when they differ from files the caller names.

Diagnostics (never hidden): maximum rank-normalised split R-hat, minimum
bulk and tail ESS over every sampled parameter and headline quantity (Vehtari
et al. 2021), the number of divergent transitions after warm-up, the share of
draws whose trajectory stopped at the maximum tree depth (worst chain) and the
E-BFMI of each chain (Betancourt 2016). Thresholds: R-hat <= 1.01, bulk and
tail ESS >= 400 (100 per chain for four chains), zero divergences, at most 5%
of a chain's draws at the maximum tree depth (PyMC's own rule), E-BFMI >= 0.3.
All statistics come from ArviZ (``arviz_stats``). :func:`fit` raises a
:class:`~estimator.errors.SamplingWarning` and logs to the ``estimator``
logger when any threshold is missed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from estimator import names as N
from estimator.cache import cache_dir, canonical_versions, digest, private_dir, run_versions, warn_unwritable
from estimator.claims import claims_from_frame, claims_known_by, load_claims, read_claims_text
from estimator.compiled import LOG_LIKELIHOOD_PREFIX, LOG_PRIOR_PREFIX, compile_model
from estimator.display import result_html, result_text
from estimator.errors import FitError, InputError, Problem, SamplingWarning
from estimator.formatting import vintage_label
from estimator.model import DEFAULT_DYNAMICS, DEFAULT_RESTATEMENTS, FORECAST_MONTHS, build_model, claim_capacity, claims_random, default_as_of, months_between
from estimator.prior_draws import PRIOR_DRAWS, PRIOR_SEED, sample_prior
from estimator.priors import PriorSet, load_priors, read_priors_text
from estimator.summaries import draws_table, headline_table
from estimator.workers import TARGET_ACCEPT, machine_cores, nutpie_sample

__all__ = [
    "FitResult",
    "Diagnostics",
    "fit",
    "sample_model",
    "load_result",
    "RHAT_MAX",
    "ESS_MIN",
    "TREEDEPTH_SHARE_MAX",
    "BFMI_MIN",
    "SAMPLERS",
    "DEFAULT_SAMPLER",
    "DEFAULT_DRAWS",
    "DEFAULT_TUNE",
    "sampler_steps",
    "input_hash",
    "resolve_as_of",
]

RHAT_MAX = 1.01
ESS_MIN = 400
# PyMC warns when more than 5% of a chain's draws stop at the maximum tree depth.
TREEDEPTH_SHARE_MAX = 0.05
# Betancourt (2016): E-BFMI below 0.3 means momentum resampling explores the energy poorly.
BFMI_MIN = 0.3
# Sample statistics as PyMC and nutpie name them.
_MAX_DEPTH_FLAGS = ("reached_max_treedepth", "maxdepth_reached")

log = logging.getLogger("estimator")
SAMPLERS = ("pymc", "nutpie")
# nutpie on the cached compiled model (estimator.compiled) is the fast route end to end;
# PyMC's own NUTS stays available (benchmarks/bench_fit.py measures both).
DEFAULT_SAMPLER = "nutpie"
# Draws and tuning steps per chain, 4 chains: with nutpie at 1,000 draws every parameter's
# R-hat stayed at or below 1.006 in the runs above at 0.97, every bulk ESS above 1,400 and
# every headline one above 2,500; PyMC needs 1,000 tuning steps.
DEFAULT_DRAWS = {"pymc": 1000, "nutpie": 1000}
DEFAULT_TUNE = {"pymc": 1000, "nutpie": 500}
RESULT_FILE = "result.nc"
# Every netCDF file the package writes or reads goes through netCDF4 (the C library):
# it wrote the default run's result.nc (about 220 variables in 9 groups) in 0.2-0.3 s,
# h5netcdf in 0.9-1.0 s, zarr in 2.3-2.5 s (README, Performance).
NETCDF_ENGINE = "netcdf4"


def sampler_steps(draws: int | None, tune: int | None, sampler: str = DEFAULT_SAMPLER) -> tuple[int, int]:
    """Draws and tuning steps per chain: those given, else the sampler's defaults (:data:`DEFAULT_DRAWS`, :data:`DEFAULT_TUNE`)."""
    return (DEFAULT_DRAWS[sampler] if draws is None else draws), (DEFAULT_TUNE[sampler] if tune is None else tune)


def input_hash(claims_text: str, priors_text: str, settings: dict) -> str:
    """Short SHA-256 of the inputs and settings that determine a run."""
    h = hashlib.sha256()
    for part in (claims_text, priors_text, json.dumps(settings, sort_keys=True, default=str)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:12]


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
        return not self.problems()

    def problems(self) -> list[str]:
        """Plain-language list of thresholds missed (empty when all pass)."""
        out = []
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions (threshold 0): the posterior may be biased")
        if not self.max_rhat <= self.rhat_max:
            out.append(f"max R-hat {self.max_rhat:.3f} > {self.rhat_max} ({self.worst_rhat}): chains disagree")
        if not self.min_ess_bulk >= self.ess_min:
            out.append(f"min bulk ESS {self.min_ess_bulk:.0f} < {self.ess_min} ({self.worst_ess}): too few effective draws")
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
            out.append(f"E-BFMI below {self.bfmi_min} ({', '.join(low)}): the sampler explores the energy distribution poorly")
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
            rows.append(("draws at max tree depth (worst chain)", f"{100 * self.max_treedepth_share:.1f}%", f"≤ {100 * self.treedepth_share_max:.0f}%", ""))
        if self.bfmi:
            rows.append(("E-BFMI (lowest chain)", f"{self.min_bfmi:.2f}", f"≥ {self.bfmi_min}", ""))
        return rows

    def as_dict(self) -> dict:
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
    import arviz_stats as azs

    post = tree["posterior"].to_dataset()
    skip = {N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD, N.CONTAINERS_CUMULATIVE, N.MISSILES_CUMULATIVE, N.CONTAINER_RATE, N.MISSILE_RATE}
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
    message = "The sampler missed a diagnostic threshold; do not trust these numbers yet:\n" + "\n".join(f"  - {p}" for p in problems)
    log.warning(message)
    warnings.warn(message, SamplingWarning, stacklevel=stacklevel + 1)


def _plot_method(name: str, summary: str):
    """``FitResult.plot_<name>(ax=None)``: :meth:`FitResult.plot` of one standard figure."""

    def method(self, ax=None):
        return self.plot(name, ax)

    method.__name__, method.__qualname__ = f"plot_{name}", f"FitResult.plot_{name}"
    method.__doc__ = f"{summary}\n\nSee :meth:`FitResult.plot` (figure ``{name}``); returns the matplotlib Figure."
    return method


@dataclass
class FitResult:
    """A fitted run: the DataTree plus the inputs that produced it.

    Attributes
    ----------
    tree : xarray.DataTree
        The groups in :data:`GROUPS`; the ``claim`` dimension carries each
        claim's id and, as coordinates, its quantity, qualifier, source
        family and date.
    claims : DataFrame
        The ledger as loaded.
    priors : PriorSet
        The priors as loaded.
    manifest : dict
        Seed, sampler settings, versions, input hash, wall time.
    """

    tree: object
    claims: pd.DataFrame
    priors: PriorSet
    manifest: dict = field(default_factory=dict)
    # Whether the prior draws may be read from and stored in the cache (estimator.cache).
    cache: bool = field(default=True, repr=False, compare=False)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior as an xarray Dataset."""
        return self.tree["posterior"].to_dataset()

    @property
    def family_labels(self) -> dict[str, str]:
        """Label of each source family of the fitted model, in its order."""
        return {str(f): self.priors.family_label(str(f)) for f in self.posterior[N.FAMILY].values}

    @cached_property
    def diagnostics(self) -> Diagnostics:
        """Sampler diagnostics of the run (computed once: ArviZ takes about a second)."""
        return diagnose(self.tree)

    def summary(self) -> pd.DataFrame:
        """Headline table (see :func:`estimator.summaries.headline_table`)."""

        return headline_table(self)

    def draws(self, var_names=None) -> pd.DataFrame:
        """Posterior draws as a tidy DataFrame (see :func:`estimator.summaries.draws_table`).

        Parameters
        ----------
        var_names : str or list of str, optional
            Posterior variables (default: the headline quantities).

        Returns
        -------
        DataFrame
            Columns ``variable``, ``chain``, ``draw``, one per other dimension, ``value``.
        """

        return draws_table(self, var_names)

    @cached_property
    def prior(self) -> xr.Dataset:
        """Draws from the run's prior (see :func:`estimator.prior_draws.sample_prior`).

        A saved run holds them in its ``prior`` group. Otherwise they are drawn
        once with the fixed seed on first use and kept (a few seconds, so a fit
        does not pay for them until a figure or :meth:`save` needs them).
        """
        if "prior" in self.tree.children:
            return self.tree["prior"].to_dataset()
        return with_claim_coords(_cached_prior(self), self.claims)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"FitResult({len(self.claims)} claims, {vintage_label(m)}, {m.get('chains')} chains x "
            f"{m.get('draws')} draws, seed {m.get('seed')}, run {m.get('input_hash')})"
        )

    def __str__(self) -> str:
        return result_text(self)

    def summary_text(self, wall: float | None = None) -> str:
        """The plain-text summary ``estimator fit`` prints (:func:`estimator.display.result_text`)."""
        return result_text(self, wall)

    def _repr_html_(self) -> str:

        return result_html(self)

    # Plot methods: one per standard figure (:data:`estimator.figures.STANDARD`).
    # Each returns the matplotlib Figure, which Jupyter draws inline when it is
    # the cell's last value.

    def plot(self, name: str, ax=None):
        """Draw one standard figure of the run.

        Parameters
        ----------
        name : str
            A figure name, :data:`estimator.figures.FIGURES`.
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.figure.Figure
        """
        # The figures load matplotlib: only when a figure is drawn, so `import estimator` and the
        # command line's summaries stay free of it.
        from estimator.figures import draw

        return _inline(draw(name, self, ax=ax), ax)

    plot_containers_over_time = _plot_method("containers_over_time", "Cumulative containers over time, with every claim at the end of the period it counts.")
    plot_delivered_152mm = _plot_method("delivered_152mm", "152mm shells and all artillery rounds delivered: prior against posterior (two Axes).")
    plot_value = _plot_method("value", "Implied value of deliveries and its parts.")
    plot_loads_and_mix = _plot_method("loads_and_mix", "152mm shells per container and the cargo mix: prior against posterior (two Axes).")
    plot_claim_check = _plot_method("claim_check", "Each claim against what the fitted model predicts its source would say.")
    plot_family_bias = _plot_method("family_bias", "Each source family's multiplicative bias: prior against posterior.")

    def standard_figures(self) -> dict:
        """Every standard figure, drawn but not saved.

        Returns
        -------
        dict
            Figure name (:data:`estimator.figures.FIGURES`) -> Figure.
        """
        from estimator.figures import standard_figures  # matplotlib, only when drawing (see plot)

        return {name: _inline(drawn, None) for name, drawn in standard_figures(self).items()}

    def save(self, path: str | Path) -> Path:
        """Write the run to one netCDF file (atomically: temp file, then rename).

        Every group listed in :data:`GROUPS` is written; the prior draws are
        drawn first if nothing has asked for them yet.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tree = self.tree.copy()
        if "prior" not in tree.children:
            tree["prior"] = xr.DataTree(self.prior)
        tree.attrs = {**tree.attrs, "estimator_manifest": json.dumps(self.manifest, default=str)}
        tmp = path.with_name(path.name + ".tmp")
        tree.to_netcdf(tmp, engine=NETCDF_ENGINE)
        tmp.replace(path)
        return path


def _cached_prior(result: FitResult) -> xr.Dataset:
    """The run's prior draws (:func:`estimator.figures.sample_prior`), from the cache when drawn before.

    They depend only on the ledger, the fitted priors, the as-of date, the
    dynamics and the fixed seed and number of draws (not on the sampler), so
    a repeated run reads them back (``prior/<key>.nc`` in the cache
    directory) instead of drawing 4,000 times through PyMC again.
    """

    if not result.cache:
        return sample_prior(result)
    m = result.manifest
    key = digest(
        "prior",
        result.claims.attrs.get("text", ""),
        ",".join(map(str, result.claims.index)),
        json.dumps(result.priors.fitted_params(), sort_keys=True),
        m.get("as_of"),
        m.get("known_by"),
        m.get("dynamics"),
        m.get("restatements"),
        PRIOR_DRAWS,
        PRIOR_SEED,
        canonical_versions(),
    )
    path = cache_dir() / "prior" / f"{key[:32]}.nc"
    try:
        with xr.open_dataset(path, engine=NETCDF_ENGINE) as ds:
            if ds.attrs.get("estimator_cache_key") == key:
                return ds.load()
    except (OSError, ValueError, KeyError, TypeError):
        pass
    prior = sample_prior(result)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    stored = prior.copy()
    stored.attrs = {**stored.attrs, "estimator_cache_key": key}
    try:
        private_dir(path.parent)
        stored.to_netcdf(tmp, engine=NETCDF_ENGINE)
        os.replace(tmp, path)
    except OSError as exc:
        warn_unwritable(path, exc)
    return prior


def _inline(drawn, ax):
    """The Figure of a ``(fig, ax)`` pair, ready to be a notebook cell's value.

    A figure the plot function created is released from pyplot: Jupyter's
    inline backend draws every figure pyplot still holds at the end of a
    cell, so a returned figure it also held would appear twice. A figure the
    caller passed Axes of stays the caller's.
    """
    fig, _ = drawn
    if ax is None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return fig


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
# Ledger columns carried on the claim dimension as non-index coordinates.
CLAIM_COORDS = ("quantity", "qualifier", "source_family", "date_said")


def _clean_tree(tree):
    """Keep the groups a run needs; drop object-typed stats netCDF cannot store."""
    import xarray as xr

    keep = {}
    for name in GROUPS:
        if name in tree.children:
            ds = tree[name].to_dataset()
            ds = ds.drop_vars([v for v, da in ds.data_vars.items() if da.dtype == object])
            keep[name] = ds
    return xr.DataTree.from_dict(keep)


def with_claim_coords(ds: xr.Dataset, claims: pd.DataFrame) -> xr.Dataset:
    """``ds`` with each claim's quantity, qualifier, source family and date as coordinates on ``claim``."""
    if N.CLAIM not in ds.dims:
        return ds
    rows = claims.loc[[str(c) for c in ds[N.CLAIM].values]]
    coords = {c: (N.CLAIM, np.asarray(rows[c].astype(str).to_numpy(), dtype=str)) for c in CLAIM_COORDS if c != "date_said"}
    coords["date_said"] = (N.CLAIM, pd.to_datetime(rows["date_said"]).to_numpy(dtype="datetime64[ns]"))
    return ds.assign_coords(coords)


def _without_padding(tree, n_claims: int):
    """Every group of ``tree`` restricted to the first ``n_claims`` claims (the ledger's own)."""
    groups = {}
    for name in tree.children:
        ds = tree[name].to_dataset()
        groups[name] = ds.isel({N.CLAIM: slice(0, n_claims)}) if N.CLAIM in ds.dims else ds
    return xr.DataTree.from_dict(groups)


def _label_claims(tree, claims):
    """Every group of ``tree`` with the claim metadata coordinates (see :func:`with_claim_coords`)."""
    import xarray as xr

    return xr.DataTree.from_dict({name: with_claim_coords(tree[name].to_dataset(), claims) for name in tree.children})


def sample_model(model, *, draws, tune, chains, seed, sampler, progress=True, cores=None, predictive=False, cache=True):
    """Sample a built model with the chosen NUTS implementation; return a DataTree.

    With ``predictive``, the ``posterior_predictive`` group holds one draw of
    each source's log estimate per posterior draw (see
    :func:`estimator.model.claims_random`).

    With nutpie the model is compiled once per graph (:mod:`estimator.compiled`:
    kept in this process and, unless ``cache`` is false, on disk), and the
    pointwise log-likelihood and log-prior are computed by the compiled
    expansion during sampling. With PyMC they are computed afterwards.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler '{sampler}'; one of {', '.join(SAMPLERS)}")
    cores = cores or min(chains, machine_cores())
    if sampler == "nutpie":
        return _sample_nutpie(model, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress, cores=cores, predictive=predictive, cache=cache)
    import pymc as pm

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
            pm.sample_posterior_predictive(tree, model=model, var_names=[N.CLAIMS], extend_inferencedata=True, random_seed=seed, progressbar=False)
    return _clean_tree(tree)


def _sample_nutpie(model, *, draws, tune, chains, seed, progress, cores, predictive, cache):
    """nutpie on the model compiled once per graph; log densities come from the compiled expansion."""
    from pymc.backends.arviz import patch_nutpie_idata

    try:
        compiled = compile_model(model, cache=cache, log_densities=True)
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
    """One draw of each source's log estimate per posterior draw (:func:`estimator.model.claims_random`).

    The log estimate is normal with the claim's predictive moments, which the
    posterior already holds, so no PyTensor function is compiled for it.
    """

    mu, sigma = post[N.CLAIM_LOG_MEAN], post[N.CLAIM_LOG_SD]
    # The model's own draw; its bounds, forms and weights are unused by it.
    draws = claims_random(mu.values, sigma.values, None, None, None, None, rng=np.random.default_rng(seed))
    return xr.Dataset({N.CLAIMS: (mu.dims, draws)}, coords={d: mu[d] for d in mu.dims})


def resolve_as_of(claims: pd.DataFrame, as_of=None, *, horizon_months: int = FORECAST_MONTHS, source: str = "--as-of"):
    """The as-of date of a fit and the months it extrapolates past the last claim.

    ``None`` means the latest claim's date said. A date after every claim is
    a forecast, allowed up to ``horizon_months`` calendar months past the
    month of the latest date any claim speaks of (said or counted to).

    Returns
    -------
    (datetime.date, int)
        The date and the months of extrapolation (0 within the claims).

    Raises
    ------
    InputError
        A date that is not a date, or past the horizon.
    """
    import datetime as dt

    if as_of is None:
        return default_as_of(claims), 0
    try:
        day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise InputError([Problem(source, source, "as_of", f"'{as_of}' is not a date (use YYYY-MM-DD)")]) from None
    last = max([*claims["date_said"], *claims["period_end"]])
    months = max(0, months_between(last, day))
    if months > horizon_months:
        raise InputError(
            [Problem(source, source, "as_of", f"{day} is {months} months past the latest claim ({last}); forecasts reach at most {horizon_months} months")]
        )
    return day, months


def fit(
    claims=None,
    priors=None,
    *,
    as_of=None,
    known_by=None,
    dynamics: str = DEFAULT_DYNAMICS,
    restatements: str = DEFAULT_RESTATEMENTS,
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    seed: int = 20240223,
    sampler: str = DEFAULT_SAMPLER,
    progress: bool = True,
    cache: bool = True,
) -> FitResult:
    """Fit the reconciliation model.

    Parameters
    ----------
    claims : path, DataFrame or None
        Claims ledger (``None``: the embedded ledger). A DataFrame
        is validated as a file is (:func:`estimator.claims.claims_from_frame`),
        so edits to a loaded ledger take effect and bad cells raise
        :class:`~estimator.errors.InputError`.
    priors : path, PriorSet or None
        Prior file (``None``: the embedded default priors).
    as_of : date or str, optional
        Date of the headline quantities; default the latest claim's date
        said. A later date is a forecast, allowed up to
        :data:`estimator.model.FORECAST_MONTHS` months past the claims
        (:func:`resolve_as_of`); the manifest records the months extrapolated.
    known_by : date or str, optional
        Use only the claims said on or before this date (a vintage: what
        could be known then). Families with no claim by then are left out.
    dynamics : {"ar1", "random_walk"}
        Rate dynamics of the container and missile flows (:mod:`estimator.model`).
    restatements : {"excluded", "shared", "independent"}
        How a claim that restates another enters the likelihood
        (:mod:`estimator.model`, "Restatements").
    draws, tune, chains, seed : int
        Sampler settings; the seed fixes the result. ``draws`` and ``tune``
        default to :data:`DEFAULT_DRAWS` and :data:`DEFAULT_TUNE` of the
        sampler (1,000 draws with either; 1,000 tuning steps with PyMC, 500
        with nutpie): enough for R-hat <= 1.01 and a bulk ESS above 1,000 for
        every headline quantity.
    sampler : {"pymc", "nutpie"}
        NUTS implementation.
    progress : bool
        Show a progress bar while sampling.
    cache : bool
        Reuse what earlier runs computed (:mod:`estimator.cache`): the
        elicited prior parameters and, with nutpie, the compiled model (in
        this process and on disk). ``False`` recomputes both and stores
        nothing; the draws are the same either way.

    Returns
    -------
    FitResult
    """
    if sampler in DEFAULT_DRAWS:
        draws, tune = sampler_steps(draws, tune, sampler)
    if not isinstance(priors, PriorSet):
        priors = load_priors(priors, cache=cache)
    if isinstance(claims, pd.DataFrame):
        # Validated again and its bounds rebuilt: a loaded ledger may have been edited since.
        claims = claims_from_frame(claims)
    else:
        claims = load_claims(claims)
    if known_by is not None:
        claims = claims_known_by(claims, known_by)
        priors = priors.restricted_to(set(claims["source_family"]))
    as_of, extrapolated = resolve_as_of(claims, as_of)
    settings = {
        "as_of": str(as_of),
        "known_by": None if known_by is None else str(known_by),
        "dynamics": dynamics,
        "restatements": restatements,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "seed": seed,
        "sampler": sampler,
        "target_accept": TARGET_ACCEPT.get(sampler),
        "prior_overrides": priors.overrides,
    }
    t0 = time.perf_counter()
    run_hash = input_hash(claims.attrs.get("text", ""), priors.text, settings)
    # nutpie's compiled model is reused across ledgers of up to the padded claim count.
    capacity = claim_capacity(len(claims)) if sampler == "nutpie" else None
    model = build_model(claims, priors, as_of=as_of, dynamics=dynamics, capacity=capacity, restatements=restatements)
    # Whatever fails past the input's validation ends as one FitError that says what failed,
    # for which inputs and whether the cache was involved; the original is chained.
    try:
        tree = sample_model(model, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, progress=progress, predictive=True, cache=cache)
    except FitError as exc:
        raise exc.with_context(input_hash=run_hash, cache=cache and sampler == "nutpie") from exc.cause
    except (InputError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise FitError(f"sampling with {sampler}", exc, input_hash=run_hash, cache=cache and sampler == "nutpie") from exc
    tree = _label_claims(_without_padding(tree, len(claims)), claims)
    wall = time.perf_counter() - t0
    manifest = {
        **settings,
        "months_extrapolated": extrapolated,
        "claims_source": claims.attrs.get("source", ""),
        "claims_text": claims.attrs.get("text", ""),
        "priors_source": priors.source,
        "priors_text": priors.text,
        "priors_families": list(priors.families),
        # The fitted distributions, so loading does not depend on the PreliZ installed then.
        "prior_params": priors.fitted_params(),
        "versions": run_versions(),
        "input_hash": run_hash,
        "sampling_seconds": round(wall, 3),
    }
    result = FitResult(tree, claims, priors, manifest, cache=cache)
    warn_if_missed(result.diagnostics, stacklevel=2)
    return result


def load_result(path: str | Path, *, claims=None, priors=None) -> FitResult:
    """Load a saved run; rebuild its inputs from the manifest.

    When ``claims`` or ``priors`` paths are given, their text is compared with
    the stored inputs and a ``UserWarning`` names each that differs.

    Raises
    ------
    InputError
        When the file is missing, is not netCDF, or is not an estimator run.
    """

    path = Path(path)

    def refuse(message):
        return InputError([Problem(str(path), "file", "-", message)])

    if not path.is_file():
        raise refuse("file not found (give the result.nc that 'estimator fit' wrote)")
    try:
        tree = xr.open_datatree(path, engine=NETCDF_ENGINE).load()
        tree.close()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise refuse(f"not a readable netCDF run ({type(exc).__name__}: {exc})") from None
    try:
        manifest = json.loads(tree.attrs.get("estimator_manifest", "{}"))
    except (TypeError, ValueError):
        raise refuse("its estimator manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or not manifest:
        raise refuse("not an estimator run (no manifest in its attributes)")
    missing = [k for k in ("claims_text", "priors_text") if k not in manifest] + [g for g in ("posterior",) if g not in tree.children]
    if missing:
        raise refuse(f"an incomplete estimator run (missing {', '.join(missing)})")
    pri = load_priors(text=manifest["priors_text"], name=manifest.get("priors_source", "<stored priors>"), fitted=manifest.get("prior_params"))
    overrides = manifest.get("prior_overrides") or {}
    if overrides:
        pri = pri.with_params(overrides)
    if "priors_families" in manifest:
        pri = pri.restricted_to(set(manifest["priors_families"]))
    cl = load_claims(text=manifest["claims_text"], name=manifest.get("claims_source", "<stored claims>"))

    for given, reader, key in ((claims, read_claims_text, "claims_text"), (priors, read_priors_text, "priors_text")):
        if given is not None:
            name, text = reader(given)
            if text != manifest[key]:
                warnings.warn(f"{name} differs from the {key.split('_')[0]} stored in {path}: the run used the stored version", UserWarning, stacklevel=2)
    return FitResult(tree, cl, pri, manifest)
