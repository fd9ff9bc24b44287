r"""Fit the model, check the sampler, save and load a run.

A run is one netCDF file (an ArviZ DataTree): posterior, prior, posterior
predictive (each source's log estimate :math:`\log \hat S`, before its
qualifier censors it), sample statistics, pointwise log-likelihood (one term
per claim), log-prior, observed and constant data, with a manifest
in the root attributes: the claims ledger and prior file as loaded (verbatim
text), the as-of date, sampler settings, seed, package versions and a short
hash of all of that. :func:`load_result` re-validates the stored inputs and
reports when they differ from files the caller names.

The sampler, its settings and the diagnostics every fit is held to are in
:mod:`estimator.sampling`; :func:`fit` warns
(:class:`~estimator.errors.SamplingWarning`) when a threshold is missed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import xarray as xr

from estimator import names as N
from estimator.cache import cache_dir, canonical_versions, digest, private_dir, run_versions, warn_unwritable
from estimator.claims import claims_from_frame, claims_known_by, load_claims, read_claims_text
from estimator.display import result_html, result_text
from estimator.errors import FitError, InputError, Problem
from estimator.files import NETCDF_ENGINE, atomic_path
from estimator.forecast import EXTRAPOLATION_DRAWN, extend_draws, extend_posterior, extends
from estimator.formatting import vintage_label
from estimator.likelihood import DEFAULT_RESTATEMENTS, claim_capacity
from estimator.model import DEFAULT_DYNAMICS, ModelRecipe
from estimator.prior_draws import PRIOR_DRAWS, PRIOR_SEED, sample_prior
from estimator.priors import PriorSet, load_priors, read_priors_text
from estimator.reweighting import (
    NUTS,
    PSIS,
    ledger_log_ratio,
    prior_log_ratio,
    reweigh,
    reweighted_groups,
    structural_changes,
    systematic_resample,
)
from estimator.sampling import (
    DEFAULT_DRAWS,
    DEFAULT_SAMPLER,
    TARGET_ACCEPT,
    Diagnostics,
    diagnose,
    sample_model,
    sampler_steps,
    warn_if_missed,
)
from estimator.summaries import draws_table, headline_table
from estimator.timeline import FORECAST_MONTHS, ModelLayout, default_as_of, months_between

__all__ = ["FitResult", "fit", "load_result", "input_hash", "resolve_as_of", "with_claim_coords", "RESULT_FILE"]


log = logging.getLogger("estimator")
RESULT_FILE = "result.nc"


def input_hash(claims_text: str, priors_text: str, settings: dict) -> str:
    """Short SHA-256 of the inputs and settings that determine a run."""
    h = hashlib.sha256()
    for part in (claims_text, priors_text, json.dumps(settings, sort_keys=True, default=str)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:12]


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
    # The run a reweighted what-if was drawn from, while in memory (FitResult.update reweights its draws).
    source: FitResult | None = field(default=None, repr=False, compare=False)

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
        from estimator.figures import draw  # noqa: PLC0415 - loads matplotlib; only when drawing

        return _inline(draw(name, self, ax=ax), ax)

    plot_containers_over_time = _plot_method(
        "containers_over_time", "Cumulative containers over time, with every claim at the end of the period it counts."
    )
    plot_delivered_152mm = _plot_method(
        "delivered_152mm", "152mm shells and all artillery rounds delivered: prior against posterior (two Axes)."
    )
    plot_value = _plot_method("value", "Implied value of deliveries and its parts.")
    plot_loads_and_mix = _plot_method(
        "loads_and_mix", "152mm shells per container and the cargo mix: prior against posterior (two Axes)."
    )
    plot_claim_check = _plot_method(
        "claim_check", "Each claim against what the fitted model predicts its source would say."
    )
    plot_family_bias = _plot_method("family_bias", "Each source family's multiplicative bias: prior against posterior.")

    def standard_figures(self) -> dict:
        """Every standard figure, drawn but not saved.

        Returns
        -------
        dict
            Figure name (:data:`estimator.figures.FIGURES`) -> Figure.
        """
        from estimator.figures import standard_figures  # noqa: PLC0415 - loads matplotlib; only when drawing

        return {name: _inline(drawn, None) for name, drawn in standard_figures(self).items()}

    def update(self, claims=None, priors=None, *, seed: int | None = None, progress: bool = False) -> FitResult:
        r"""The run with other claims or priors: reweighted where k-hat allows, else refitted exactly.

        The what-if's ledger and priors are compared with the run's. When only
        densities change (claims appended, removed or edited within the run's
        months and families; prior parameters moved), the run's draws are
        reweighted by Pareto-smoothed importance sampling
        (:mod:`estimator.reweighting`) and, if :math:`\hat k` is at most
        :func:`estimator.stats.khat_threshold` (the one rule,
        :func:`estimator.reweighting.reweigh`), resampled into a posterior of the
        same shape: a fraction of a second instead of a fit. Otherwise (k-hat
        above the threshold, or a change of the model's shape, such as a new
        family or later months) the what-if is an exact NUTS fit, :func:`fit`
        with the run's own settings (as-of date, vintage, dynamics,
        restatements, draws, tuning, chains, seed, sampler).

        The manifest says which: ``method`` (``"psis"`` or ``"nuts"``),
        ``from_run`` (this run's ``input_hash``), ``khat``, ``khat_threshold``,
        ``ess`` (the weights' effective sample size) and, for an exact refit,
        ``refit_reason``; the printed summary says it in words.

        Parameters
        ----------
        claims : path, DataFrame or None
            The what-if's whole ledger (``None``: the run's). A DataFrame is
            validated as :func:`fit` validates it; to append a claim, pass the
            run's ``claims`` with the row added.
        priors : path, PriorSet, dict or None
            The what-if's priors (``None``: the run's); a dict maps prior names
            to parameters to replace (:meth:`estimator.priors.PriorSet.with_params`),
            e.g. ``{"price_152mm_usd": {"mu": 7.0}}``.
        seed : int, optional
            Seed of the resampling and the predictive draws (default: the run's seed).
        progress : bool
            Show the sampler's progress bar if the what-if is refitted.

        Returns
        -------
        FitResult
        """
        return _update(self, claims, priors, seed=seed, progress=progress)

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
        with atomic_path(path) as tmp:
            tree.to_netcdf(tmp, engine=NETCDF_ENGINE)
        return path


def _cached_prior(result: FitResult) -> xr.Dataset:
    """The run's prior draws (:func:`estimator.figures.sample_prior`), from the cache when drawn before.

    They depend only on the ledger, the fitted priors, the as-of date, the
    dynamics and the fixed seed and number of draws (not on the sampler), so
    a repeated run reads them back (``prior/<key>.nc`` in the cache
    directory) instead of drawing 4,000 times through PyMC again.
    """
    m = result.manifest
    if m.get("extrapolation") == EXTRAPOLATION_DRAWN:
        # The prior of the claims' months (the default fit's, cached), continued as the fit was.
        sampled = SimpleNamespace(
            claims=result.claims,
            priors=result.priors,
            manifest={**m, "as_of": m["sampled_as_of"], "extrapolation": None},
            cache=result.cache,
        )
        return extend_draws(
            _cached_prior(sampled),
            result.claims,
            result.priors,
            m["as_of"],
            m.get("dynamics"),
            m.get("restatements"),
            PRIOR_SEED,
        )
    if not result.cache:
        return sample_prior(result)
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
    stored = prior.copy()
    stored.attrs = {**stored.attrs, "estimator_cache_key": key}
    try:
        private_dir(path.parent)
        with atomic_path(path) as tmp:
            stored.to_netcdf(tmp, engine=NETCDF_ENGINE)
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
        import matplotlib.pyplot as plt  # noqa: PLC0415 - heavy; only when drawing

        plt.close(fig)
    return fig


# Ledger columns carried on the claim dimension as non-index coordinates.
CLAIM_COORDS = ("quantity", "qualifier", "source_family", "date_said")


def with_claim_coords(ds: xr.Dataset, claims: pd.DataFrame) -> xr.Dataset:
    """``ds`` with each claim's quantity, qualifier, source family and date as coordinates on ``claim``."""
    if N.CLAIM not in ds.dims:
        return ds
    rows = claims.loc[[str(c) for c in ds[N.CLAIM].values]]
    coords = {
        c: (N.CLAIM, np.asarray(rows[c].astype(str).to_numpy(), dtype=str)) for c in CLAIM_COORDS if c != "date_said"
    }
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
    return xr.DataTree.from_dict({name: with_claim_coords(tree[name].to_dataset(), claims) for name in tree.children})


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
            [
                Problem(
                    source,
                    source,
                    "as_of",
                    f"{day} is {months} months past the latest claim ({last}); forecasts reach at most {horizon_months} months",
                )
            ]
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
        :data:`estimator.timeline.FORECAST_MONTHS` months past the claims
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
    # A forecast samples the claims' own months (the default fit's graph, compiled once) and
    # draws the months past them afterwards, where the dynamics allow it (estimator.forecast).
    extend = extrapolated > 0 and extends(dynamics)
    sampled_as_of = default_as_of(claims) if extend else as_of
    recipe = ModelRecipe(
        claims, priors, as_of=sampled_as_of, dynamics=dynamics, capacity=capacity, restatements=restatements
    )
    model = recipe.build()
    # Whatever fails past the input's validation ends as one FitError that says what failed,
    # for which inputs and whether the cache was involved; the original is chained.
    try:
        tree = sample_model(
            model,
            recipe=recipe,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            sampler=sampler,
            progress=progress,
            predictive=True,
            cache=cache,
        )
    except FitError as exc:
        raise exc.with_context(input_hash=run_hash, cache=cache and sampler == "nutpie") from exc.cause
    except (InputError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise FitError(
            f"sampling with {sampler}", exc, input_hash=run_hash, cache=cache and sampler == "nutpie"
        ) from exc
    tree = _without_padding(tree, len(claims))
    if extend:
        tree = extend_posterior(tree, claims, priors, as_of, dynamics, restatements, seed)
    tree = _label_claims(tree, claims)
    wall = time.perf_counter() - t0
    manifest = _manifest(
        settings,
        claims,
        priors,
        versions=run_versions(),
        input_hash=run_hash,
        months_extrapolated=extrapolated,
        # How the months past the claims were obtained: sampled in the model, or drawn after it.
        extrapolation=(EXTRAPOLATION_DRAWN if extend else "sampled") if extrapolated else None,
        sampled_as_of=str(sampled_as_of),
        sampling_seconds=round(wall, 3),
    )
    result = FitResult(tree, claims, priors, manifest, cache=cache)
    warn_if_missed(result.diagnostics, stacklevel=2)
    return result


# ---------------------------------------------------------------- what-ifs (FitResult.update)

# The installed versions do not change within a process; reading them costs about 0.1 s a what-if.
_process_versions = functools.cache(run_versions)

# The settings of a run that a what-if keeps (and refits with when it must).
_WHATIF_SETTINGS = ("as_of", "known_by", "dynamics", "restatements", "draws", "tune", "chains", "seed", "sampler")


def _whatif_inputs(result: FitResult, claims, priors) -> tuple[pd.DataFrame, PriorSet]:
    """The what-if's ledger and priors, loaded and validated as :func:`fit` loads them, at the run's vintage."""
    if priors is None:
        priors = result.priors
    elif isinstance(priors, dict):
        priors = result.priors.with_params(priors)
    elif not isinstance(priors, PriorSet):
        priors = load_priors(priors, cache=result.cache)
    if claims is None:
        claims = result.claims
    elif isinstance(claims, pd.DataFrame):
        claims = claims_from_frame(claims)
    else:
        claims = load_claims(claims)
    known_by = result.manifest.get("known_by")
    if known_by is not None:
        claims = claims_known_by(claims, known_by)
        priors = priors.restricted_to(set(claims["source_family"]))
    return claims, priors


def _update(result: FitResult, claims, priors, *, seed: int | None, progress: bool) -> FitResult:
    """:meth:`FitResult.update`: decide by k-hat, then reweight (:func:`_reweighted`) or refit (:func:`fit`)."""
    t0 = time.perf_counter()
    # A what-if of a what-if in memory reweights the original run's draws, not a resample of them.
    base = result.source if result.source is not None else result
    # Unchanged inputs are those of the run asked (a what-if's own, for a what-if of a what-if).
    claims, priors = _whatif_inputs(result, claims, priors)
    layout = ModelLayout(claims, priors, base.manifest["as_of"])
    reasons = structural_changes(base, claims, priors, layout)
    if base.manifest.get("method") == PSIS:
        reasons.append("a reweighted run read from a file keeps no draws of its own to reweight")
    decision = None
    if not reasons:
        log_ratio, mu, sd, _ = ledger_log_ratio(base, claims, layout=layout)
        deltas = prior_log_ratio(base.posterior, base.priors, priors)
        decision = reweigh(log_ratio + sum(deltas.values()))
        if decision.holds:
            seed = base.manifest["seed"] if seed is None else seed
            return _reweighted(base, claims, priors, decision, (mu, sd, deltas, layout), seed, t0)
        reasons.append(decision.describe())
    m = base.manifest
    refitted = fit(claims, priors, **{k: m.get(k) for k in _WHATIF_SETTINGS}, progress=progress, cache=base.cache)
    refitted.manifest.update(
        {
            "method": NUTS,
            "from_run": m.get("input_hash"),
            "khat": None if decision is None else decision.khat,
            "khat_threshold": None if decision is None else decision.threshold,
            "ess": None if decision is None else decision.ess,
            "refit_reason": "; ".join(reasons),
        }
    )
    return refitted


def _reweighted(base: FitResult, claims, priors, decision, moments, seed: int, t0: float) -> FitResult:
    """The what-if as ``base``'s draws resampled by ``decision``'s weights (:mod:`estimator.reweighting`)."""
    mu, sd, deltas, layout = moments
    idx = systematic_resample(decision.weights, seed)
    groups = reweighted_groups(base, claims, priors, idx, mu, sd, deltas, seed, layout)
    # The claims' coordinates computed once (with_claim_coords), then set on every group with claims.
    labelled = with_claim_coords(groups["posterior"], claims)
    coords = {c: labelled[c] for c in CLAIM_COORDS}
    tree = xr.DataTree.from_dict(
        {name: ds.assign_coords(coords) if N.CLAIM in ds.dims else ds for name, ds in groups.items()}
    )
    m = base.manifest
    settings = {k: m.get(k) for k in _WHATIF_SETTINGS}
    settings.update(target_accept=m.get("target_accept"), prior_overrides=priors.overrides)
    identity = {**settings, "method": PSIS, "from_run": m.get("input_hash"), "resample_seed": seed}
    manifest = _manifest(
        settings,
        claims,
        priors,
        versions=_process_versions(),
        input_hash=input_hash(claims.attrs.get("text", ""), priors.text, identity),
        months_extrapolated=resolve_as_of(claims, m["as_of"])[1],
        # The draws are the run's, so their months past the claims were obtained as the run's were.
        extrapolation=m.get("extrapolation"),
        sampled_as_of=m.get("sampled_as_of"),
        method=PSIS,
        from_run=m.get("input_hash"),
        khat=decision.khat,
        khat_threshold=decision.threshold,
        ess=decision.ess,
        resample_seed=seed,
        reweighting_seconds=round(time.perf_counter() - t0, 3),
    )
    return FitResult(tree, claims, priors, manifest, cache=base.cache, source=base)


def _manifest(settings: dict, claims: pd.DataFrame, priors: PriorSet, *, versions, input_hash, **extra) -> dict:
    """A run's manifest: its settings, its inputs as text (so it can be rebuilt), versions and hash, and ``extra``."""
    return {
        **settings,
        "claims_source": claims.attrs.get("source", ""),
        "claims_text": claims.attrs.get("text", ""),
        "priors_source": priors.source,
        "priors_text": priors.text,
        "priors_families": list(priors.families),
        # The fitted distributions, so loading does not depend on the PreliZ installed then.
        "prior_params": priors.fitted_params(),
        "versions": versions,
        "input_hash": input_hash,
        **extra,
    }


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
    missing = [k for k in ("claims_text", "priors_text") if k not in manifest] + [
        g for g in ("posterior",) if g not in tree.children
    ]
    if missing:
        raise refuse(f"an incomplete estimator run (missing {', '.join(missing)})")
    pri = load_priors(
        text=manifest["priors_text"],
        name=manifest.get("priors_source", "<stored priors>"),
        fitted=manifest.get("prior_params"),
    )
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
                warnings.warn(
                    f"{name} differs from the {key.split('_')[0]} stored in {path}: the run used the stored version",
                    UserWarning,
                    stacklevel=2,
                )
    return FitResult(tree, cl, pri, manifest)
