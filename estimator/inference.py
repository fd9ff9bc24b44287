"""Fit the model, check the sampler, save and load a run.

A run is one netCDF file (an ArviZ DataTree): posterior, sample statistics,
pointwise log-likelihood (one term per claim) and log-prior, with a manifest
in the root attributes: the claims ledger and prior file as loaded (verbatim
text), the as-of date, sampler settings, seed, package versions and a short
hash of all of that. :func:`load_result` re-validates the stored inputs and
reports when they differ from files the caller names.

Diagnostics (never hidden): maximum rank-normalised split R-hat, minimum
bulk ESS over every sampled parameter and headline quantity, and the number of
divergent transitions after warm-up. Thresholds: R-hat <= 1.01, bulk ESS >=
400 (100 per chain for four chains; Vehtari et al. 2021), zero divergences.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from estimator import names as N
from estimator.claims import load_claims
from estimator.model import DEFAULT_AS_OF, build_model
from estimator.priors import PriorSet, load_priors

__all__ = [
    "FitResult",
    "Diagnostics",
    "fit",
    "sample_model",
    "load_result",
    "RHAT_MAX",
    "ESS_MIN",
    "SAMPLERS",
    "DEFAULT_SAMPLER",
    "input_hash",
]

RHAT_MAX = 1.01
ESS_MIN = 400
SAMPLERS = ("pymc", "nutpie")
# Chosen by benchmarks/bench_fit.py: whole-process wall time of the default fit.
DEFAULT_SAMPLER = "pymc"
# Measured on the default ledger (4 seeds each): with diagonal adaptation,
# target_accept 0.9-0.95 left 2-14 divergences per run where the product
# containers x share x shells-per-container bends against the simplex and
# logit transforms; 0.99 (PyMC) or 0.95 with nutpie's low-rank mass matrix left
# none.
TARGET_ACCEPT = {"pymc": 0.99, "nutpie": 0.95}
RESULT_FILE = "result.nc"
_PACKAGES = ("estimator", "pymc", "pytensor", "arviz", "nutpie", "preliz", "numpy", "scipy", "xarray", "pandas")


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def input_hash(claims_text: str, priors_text: str, settings: dict) -> str:
    """Short SHA-256 of the inputs and settings that determine a run."""
    h = hashlib.sha256()
    for part in (claims_text, priors_text, json.dumps(settings, sort_keys=True, default=str)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:12]


@dataclass
class Diagnostics:
    """Sampler diagnostics and whether each meets its threshold."""

    max_rhat: float
    min_ess_bulk: float
    divergences: int
    worst_rhat: str
    worst_ess: str
    rhat_max: float = RHAT_MAX
    ess_min: float = ESS_MIN

    @property
    def ok(self) -> bool:
        return self.max_rhat <= self.rhat_max and self.min_ess_bulk >= self.ess_min and self.divergences == 0

    def problems(self) -> list[str]:
        """Plain-language list of thresholds missed (empty when all pass)."""
        out = []
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions (threshold 0): the posterior may be biased")
        if not self.max_rhat <= self.rhat_max:
            out.append(f"max R-hat {self.max_rhat:.3f} > {self.rhat_max} ({self.worst_rhat}): chains disagree")
        if not self.min_ess_bulk >= self.ess_min:
            out.append(f"min bulk ESS {self.min_ess_bulk:.0f} < {self.ess_min} ({self.worst_ess}): too few effective draws")
        return out

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
        }


def diagnose(tree, ess_min: float = ESS_MIN) -> Diagnostics:
    """R-hat, bulk ESS (ArviZ) and divergences of a sampled DataTree.

    ``ess_min`` defaults to 400 (four chains x 100); runs with fewer chains
    may pass ``100 * chains``.
    """
    import arviz as az

    post = tree["posterior"].to_dataset()
    skip = {N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD, "containers_cumulative", N.CONTAINER_RATE}
    names = [v for v in post.data_vars if v not in skip]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(post[names])
        ess = az.ess(post[names], method="bulk")

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
    div = int(tree["sample_stats"]["diverging"].sum()) if "sample_stats" in tree.children else 0
    return Diagnostics(max_rhat, min_ess, div, worst_rhat, worst_ess, ess_min=ess_min)


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
        ``posterior``, ``sample_stats``, ``log_likelihood``, ``log_prior``.
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

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior as an xarray Dataset."""
        return self.tree["posterior"].to_dataset()

    @property
    def diagnostics(self) -> Diagnostics:
        return diagnose(self.tree)

    def summary(self) -> pd.DataFrame:
        """Headline table (see :func:`estimator.summaries.headline_table`)."""
        from estimator.summaries import headline_table

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
        from estimator.summaries import draws_table

        return draws_table(self, var_names)

    @cached_property
    def prior(self) -> xr.Dataset:
        """Draws from the run's prior (see :func:`estimator.prior_draws.sample_prior`).

        Drawn once with the fixed seed on first use and kept, so the plots that
        show prior against posterior do not sample the prior again each time.
        """
        from estimator.prior_draws import sample_prior

        return sample_prior(self)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"FitResult({len(self.claims)} claims, as of {m.get('as_of')}, {m.get('chains')} chains x "
            f"{m.get('draws')} draws, seed {m.get('seed')}, run {m.get('input_hash')})"
        )

    def _repr_html_(self) -> str:
        from estimator.display import result_html

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
        from estimator.figures import draw

        return _inline(draw(name, self, ax=ax), ax)

    plot_containers_over_time = _plot_method("containers_over_time", "Cumulative containers over time, with every claim at the end of the period it counts.")
    plot_delivered_152mm = _plot_method("delivered_152mm", "152mm shells and all artillery rounds delivered: prior against posterior (two Axes).")
    plot_value = _plot_method("value", "Implied value of deliveries and its parts.")
    plot_loads_and_mix = _plot_method("loads_and_mix", "152mm shells per container and the cargo mix: prior against posterior (two Axes).")
    plot_claim_check = _plot_method("claim_check", "Each claim against what the fitted model predicts its source would say.")
    plot_family_bias = _plot_method("family_bias", "Each source family's multiplicative bias: prior against posterior.")
    # Earlier names of the same methods.
    plot_containers = plot_containers_over_time
    plot_delivered = plot_delivered_152mm
    plot_loads = plot_loads_and_mix
    plot_claim_checks = plot_claim_check
    plot_family_biases = plot_family_bias

    def standard_figures(self) -> dict:
        """Every standard figure, drawn but not saved.

        Returns
        -------
        dict
            Figure name (:data:`estimator.figures.FIGURES`) -> Figure.
        """
        from estimator import figures as F

        return {name: _inline(drawn, None) for name, drawn in F.standard_figures(self).items()}

    def save(self, path: str | Path) -> Path:
        """Write the run to one netCDF file (atomically: temp file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tree = self.tree.copy()
        tree.attrs = {**tree.attrs, "estimator_manifest": json.dumps(self.manifest, default=str)}
        tmp = path.with_name(path.name + ".tmp")
        tree.to_netcdf(tmp, engine="h5netcdf")
        tmp.replace(path)
        return path


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


def _clean_tree(tree):
    """Keep the groups a run needs; drop object-typed stats netCDF cannot store."""
    import xarray as xr

    keep = {}
    for name in ("posterior", "sample_stats", "log_likelihood", "log_prior", "observed_data"):
        if name in tree.children:
            ds = tree[name].to_dataset()
            ds = ds.drop_vars([v for v, da in ds.data_vars.items() if da.dtype == object])
            keep[name] = ds
    return xr.DataTree.from_dict(keep)


def sample_model(model, *, draws, tune, chains, seed, sampler, progress=True, cores=None):
    """Sample a built model with the chosen NUTS implementation; return a DataTree."""
    import pymc as pm

    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler '{sampler}'; one of {', '.join(SAMPLERS)}")
    cores = cores or min(chains, 2)
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
        tree = nutpie.sample(
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
    else:
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
    return _clean_tree(tree)


def fit(
    claims=None,
    priors=None,
    *,
    as_of=DEFAULT_AS_OF,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 20240223,
    sampler: str = DEFAULT_SAMPLER,
    progress: bool = True,
) -> FitResult:
    """Fit the reconciliation model.

    Parameters
    ----------
    claims : path, DataFrame or None
        Claims ledger (``None``: the embedded 2023-2024 ledger).
    priors : path, PriorSet or None
        Prior file (``None``: the embedded default priors).
    as_of : date or str
        Date of the headline quantities.
    draws, tune, chains, seed : int
        Sampler settings; the seed fixes the result.
    sampler : {"pymc", "nutpie"}
        NUTS implementation.
    progress : bool
        Show a progress bar while sampling.

    Returns
    -------
    FitResult
    """
    if not isinstance(priors, PriorSet):
        priors = load_priors(priors)
    if not isinstance(claims, pd.DataFrame):
        claims = load_claims(claims, families=set(priors.families))
    settings = {
        "as_of": str(as_of),
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "seed": seed,
        "sampler": sampler,
        "target_accept": TARGET_ACCEPT.get(sampler),
        "prior_overrides": priors.overrides,
    }
    t0 = time.perf_counter()
    model = build_model(claims, priors, as_of=as_of)
    tree = sample_model(model, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, progress=progress)
    wall = time.perf_counter() - t0
    manifest = {
        **settings,
        "claims_source": claims.attrs.get("source", ""),
        "claims_text": claims.attrs.get("text", ""),
        "priors_source": priors.source,
        "priors_text": priors.text,
        "versions": _versions(),
        "input_hash": input_hash(claims.attrs.get("text", ""), priors.text, settings),
        "sampling_seconds": round(wall, 3),
    }
    return FitResult(tree, claims, priors, manifest)


def load_result(path: str | Path, *, claims=None, priors=None) -> FitResult:
    """Load a saved run; rebuild its inputs from the manifest.

    When ``claims`` or ``priors`` paths are given, their text is compared with
    the stored inputs and a ``UserWarning`` names each that differs.
    """
    path = Path(path)
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tree.close()
    manifest = json.loads(tree.attrs.get("estimator_manifest", "{}"))
    if not manifest:
        raise ValueError(f"{path}: not an estimator run (no manifest in its attributes)")
    pri = load_priors(text=manifest["priors_text"], name=manifest.get("priors_source", "<stored priors>"))
    overrides = manifest.get("prior_overrides") or {}
    if overrides:
        pri = pri.with_params(overrides)
    cl = load_claims(text=manifest["claims_text"], name=manifest.get("claims_source", "<stored claims>"), families=set(pri.families))
    from estimator.claims import read_claims_text
    from estimator.priors import read_priors_text

    for given, reader, key in ((claims, read_claims_text, "claims_text"), (priors, read_priors_text, "priors_text")):
        if given is not None:
            name, text = reader(given)
            if text != manifest[key]:
                warnings.warn(f"{name} differs from the {key.split('_')[0]} stored in {path}: the run used the stored version", UserWarning, stacklevel=2)
    return FitResult(tree, cl, pri, manifest)
