r"""Parameter sweeps: many "what if" refits of one model, compiled once, resumable.

The sweep file and its validation are in :mod:`estimator.sweep_file`.

Modes
-----
*exact*: each worker process compiles the model once with nutpie and refits
every point with ``estimator._compiled.with_data(...)``.

*approx*: one reference posterior at the base settings is reweighted for each
point by importance sampling, :math:`\log w_s = \sum_j \log p_j^{new}(\theta_s)
- \log p_j^{base}(\theta_s)` over the overridden priors :math:`j`, smoothed by
PSIS (Vehtari et al. 2024; ArviZ ``psislw``) with diagnostic :math:`\hat k`.
Points whose :math:`\hat k` exceeds the threshold of
:func:`estimator.reweighting.reweigh` (the rule every what-if is decided by) are refit exactly. Sweeping ``as_of`` is not
a prior change, so such points are always exact.

Reproducibility and resumption
------------------------------
Each point's seed is derived from the sweep seed and the point's own
overrides, never from its position or worker, so results do not depend on the
number or kind of workers. Each finished point is written atomically
(temporary file, then rename) to ``points/<id>.json``; a rerun skips the
points already there, so a killed sweep resumes and ends with the same table
as an uninterrupted one (``wall_seconds`` aside, which is measured).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from estimator import names as N
from estimator.files import NETCDF_ENGINE
from estimator.model import EXPOSURE_AS_OF, prior_data_name
from estimator.refit import RefitSpec, ResultFolder, canonical, refit, state_for
from estimator.reweighting import Reweighting, prior_logpdf, reweigh
from estimator.stats import QUANTILES, quantile
from estimator.sweep_file import AS_OF, SweepSpec, changed_specs, load_sweep, point_id, point_label, point_seed
from estimator.timeline import ModelLayout
from estimator.workers import run_tasks

__all__ = ["run_sweep", "run_point", "prepare_point", "Point", "sweep_table_to_dataset", "EXACT", "APPROX"]

EXACT, APPROX = "exact", "approx"
# Headline quantities reported per point.
QUANTITIES = (
    N.CONTAINERS,
    N.SHELLS_152MM,
    N.ROUNDS_122MM,
    N.MISSILES_DELIVERED,
    N.SHELLS_PER_CONTAINER_152MM,
    N.VALUE_USD,
)


@dataclass(frozen=True)
class Point:
    """A sweep point as its refit needs it, prepared once by the caller (:func:`prepare_point`).

    Attributes
    ----------
    overrides : dict
        The point's settings as the sweep file gives them.
    data : dict
        Every ``pm.Data`` value of the point: each prior parameter, and the as-of exposure.
    changed : dict
        Prior name -> its :class:`~estimator.priors.PriorSpec` at this point, for the priors
        the point changes (the importance ratios of approximate mode need their densities).
    """

    overrides: dict
    data: dict
    changed: dict


def prepare_point(base: RefitSpec, overrides: dict, exposures: dict | None = None) -> Point:
    """The point's priors and options applied to the base spec once, in the process that runs the sweep.

    Workers then only swap data into the compiled model: the overrides, validated
    when the sweep file was loaded, are not re-read or re-elicited per refit.
    ``exposures`` (as-of date -> its exposure row), shared by the points of one
    sweep, builds the time grid once per as-of date rather than once per point
    (a few milliseconds each, which thousands of approximate points would add up).
    """
    changed, options = changed_specs(base.priors, overrides, file=base.source, where="point")
    priors = base.priors.with_params({var: prior.params for var, prior in changed.items()})
    data = {
        prior_data_name(var, p): np.asarray(v, dtype=float)
        for var, prior in priors.all_specs().items()
        for p, v in prior.params.items()
    }
    exposures = {} if exposures is None else exposures
    as_of = str(options.get(AS_OF, base.as_of))
    if as_of not in exposures:
        exposures[as_of] = ModelLayout(base.claims, base.priors, as_of, base.horizon).exposure_as_of
    data[EXPOSURE_AS_OF] = exposures[as_of]
    return Point(overrides, data, changed)


# ---------------------------------------------------------------- workers


def _summarise(posterior, weights=None, order=None) -> dict:
    """Median, 5% and 95% of each quantity, and P(shells > 2 million); weighted if given.

    ``order`` (variable -> argsort of its draws) saves the sort when many weightings
    of the same draws are summarised.
    """
    row = {}
    for var in QUANTITIES:
        x = np.asarray(posterior[var]).ravel()
        q = quantile(x, QUANTILES, weights, order=None if order is None else order[var])
        row[f"{var}_q05"], row[f"{var}_median"], row[f"{var}_q95"] = (float(v) for v in q)
    shells = np.asarray(posterior[N.SHELLS_152MM]).ravel() > N.SHELLS_THRESHOLD
    row["p_shells_152mm_above_2m"] = float(shells.mean() if weights is None else np.sum(weights * shells))
    return row


def run_point(spec: RefitSpec, point: Point, seed: int, mode: str, reference: dict | None = None) -> dict:
    """Run one point (a worker task): by reweighting the reference where k-hat allows, else an exact refit; its row."""
    t0 = time.perf_counter()
    row = {"point_id": point_id(point.overrides), "seed": seed, "status": "ok", "error": ""}
    try:
        done = False
        if mode == APPROX and reference is not None and AS_OF not in point.overrides:
            decision = _psis_weights(spec, point.changed, reference)
            row["khat"] = decision.khat
            if decision.holds:
                row.update(_summarise(reference["draws"], decision.weights, reference["order"]))
                row.update(
                    {
                        "method": "approx",
                        "max_rhat": np.nan,
                        "min_ess_bulk": np.nan,
                        "divergences": 0,
                        "diagnostics_ok": True,
                    }
                )
                done = True
        if not done:
            r = refit(spec, point.data, seed)
            row.update(_summarise({v: r.posterior[v].values for v in QUANTITIES}))
            method = f"exact (k-hat {row['khat']:.2f} > {decision.threshold:.2f})" if "khat" in row else "exact"
            row.update({"method": method, **r.diagnostics_row()})
    except Exception as exc:  # a failed point is recorded, not fatal to the sweep
        row.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    row["wall_seconds"] = round(time.perf_counter() - t0, 3)
    row["overrides"] = canonical(point.overrides)
    return row


# ---------------------------------------------------------------- approximate mode


def _reference(spec: RefitSpec, reference_draws: int, seed: int) -> dict:
    """The reference posterior: an exact fit at the base settings with many draws."""
    r = refit(spec.replace(draws=reference_draws), prepare_point(spec, {}).data, seed)
    # The free parameters' draws, at which each point's prior densities are evaluated.
    params = {rv.name: r.flat(rv.name) for rv in state_for(spec).model.free_RVs if rv.name in r.posterior}
    draws = {v: r.posterior[v].values.ravel() for v in QUANTITIES}
    return {"draws": draws, "order": {v: np.argsort(x) for v, x in draws.items()}, "params": params}


def _psis_weights(spec: RefitSpec, updates: dict, reference) -> Reweighting:
    """PSIS weights of the reference draws for a point (its changed priors) and the k-hat rule's verdict.

    The one decision of every what-if (:func:`estimator.reweighting.reweigh`), as
    :meth:`estimator.FitResult.update` and ``estimator score`` take it.
    """
    base_specs = spec.priors.all_specs()
    n = next(iter(reference["draws"].values())).size
    log_ratio = np.zeros(n)
    cache = reference.setdefault("log_ratio_cache", {})
    for var, spec in updates.items():
        if spec.params == base_specs[var].params:
            continue
        # Each prior setting's log density ratio is computed once per sweep, then summed.
        key = (var, canonical(spec.params))
        if key not in cache:
            x = reference["params"][var]
            cache[key] = prior_logpdf(spec, x) - prior_logpdf(base_specs[var], x)
        log_ratio = log_ratio + cache[key]
    return reweigh(log_ratio)


# ---------------------------------------------------------------- driver


def run_sweep(
    spec: SweepSpec | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    mode: str = EXACT,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) a sweep; return the tidy table, also written to ``out``.

    Parameters
    ----------
    spec : SweepSpec or path
    out : path
        Folder for ``points/``, ``sweep.csv``, ``sweep.parquet``, ``sweep.nc``.
    workers : int, optional
        Local worker processes (default 1: in this process). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask distributed scheduler, or a ``distributed.Client``.
    mode : {"exact", "approx"}
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    if mode not in (EXACT, APPROX):
        raise ValueError(f"mode must be '{EXACT}' or '{APPROX}'")
    out = Path(out)
    base = spec.refit_spec()
    # Point files are only reusable by the same sweep: refuse a folder holding another one.
    manifest = {"base": base.identity(), "seed": spec.seed, "mode": mode, "reference_draws": spec.reference_draws}
    refusal = "holds the results of a different sweep (base settings, seed or mode differ); choose another folder"
    folder = ResultFolder(out, "sweep-manifest.json", manifest, refusal, "points")
    rows = {point_id(p): r for p in spec.points if (r := folder.done(point_id(p))) is not None}
    todo = [p for p in spec.points if point_id(p) not in rows]
    reference = None
    if mode == APPROX and todo:
        # One long exact fit before any point: say so, or the sweep looks stalled.
        with tqdm(
            total=1,
            desc=f"reference fit ({spec.chains} x {spec.reference_draws} draws)",
            unit="fit",
            disable=not progress,
        ) as ref_bar:
            reference = _reference(base, spec.reference_draws, point_seed(spec.seed, {"reference": True}))
            ref_bar.update(1)
    bar = tqdm(total=len(spec.points), initial=len(rows), desc="sweep points", unit="pt", disable=not progress)
    failures = sum(r["status"] == "failed" for r in rows.values())

    def record(row):
        nonlocal failures
        folder.write(row["point_id"], row)
        rows[row["point_id"]] = row
        failures += row["status"] == "failed"
        bar.set_postfix(failed=failures)
        bar.update(1)

    args, exposures = [], {}
    for p in todo:
        try:
            args.append((base, prepare_point(base, p, exposures), point_seed(spec.seed, p), mode, reference))
        except Exception as exc:  # recorded as a failed point, as a failed refit is: not fatal to the sweep
            failed = {
                "point_id": point_id(p),
                "seed": point_seed(spec.seed, p),
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
            }
            record({**failed, "wall_seconds": 0.0, "overrides": canonical(p)})
    run_tasks(run_point, args, workers=workers, scheduler=scheduler, on_result=record)
    bar.close()
    table = _table(spec, rows)
    table.to_csv(out / "sweep.csv", index=False)
    table.to_parquet(out / "sweep.parquet", index=False)

    ds = sweep_table_to_dataset(table, spec)
    ds.to_netcdf(out / "sweep.nc", engine=NETCDF_ENGINE)
    return table


def _table(spec: SweepSpec, rows: dict) -> pd.DataFrame:
    records = []
    for i, p in enumerate(spec.points):
        r = rows[point_id(p)]
        rec = {"point": i, **{k: point_label(v) for k, v in p.items()}}
        rec.update({k: v for k, v in r.items() if k != "overrides"})
        records.append(rec)
    return pd.DataFrame.from_records(records)


def sweep_table_to_dataset(table: pd.DataFrame, spec: SweepSpec):
    """The sweep as an xarray Dataset: one dimension per swept setting (grids), else ``point``."""
    value_cols = [
        c
        for c in table.columns
        if c.endswith(("_median", "_q05", "_q95"))
        or c in ("p_shells_152mm_above_2m", "max_rhat", "min_ess_bulk", "divergences", "wall_seconds", "khat")
    ]
    if spec.grid_keys:
        idx = table.set_index(spec.grid_keys)[value_cols]
        ds = xr.Dataset.from_dataframe(idx)
    else:
        ds = xr.Dataset.from_dataframe(table.set_index("point")[value_cols])
    ds.attrs["sweep"] = spec.source
    return ds
