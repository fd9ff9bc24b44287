"""The one refit path: sweeps, backtests, SBC and sensitivity all refit one model this way.

Each of those analyses refits the same model many times with other ``pm.Data``
(prior parameters, claim weights, simulated claims, the as-of exposure).
Compiling is the expensive step, so:

* :class:`RefitSpec` describes the base model once, validated: the ledger and
  the priors *as loaded* (with their texts and digests) and the options (as-of
  date, horizon, rate dynamics, sampler settings). It holds no paths, so a
  worker on another host, or after the ledger file is gone, needs nothing from
  the caller's disk, and the inputs are validated once per run, by the caller.
* :func:`refit` builds and compiles the spec's model once per process
  (:func:`state_for`), swaps in the task's data, samples with nutpie and
  returns the draws with their :class:`~estimator.sampling.Diagnostics`: a
  refit's diagnostics always reach its table.
* :class:`ResultFolder` is the one resumable output folder: a manifest that
  refuses another run's folder, one file per finished task, written whole
  (:mod:`estimator.files`), read back on a rerun.

Tasks run through :func:`estimator.workers.run_tasks` (this process, local
worker processes, or Dask). Their results come back to the caller, which
writes them; workers write nothing, so a worker needs no view of the output
folder either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estimator import names as N
from estimator._compiled import compile_model, with_data
from estimator.cache import run_versions, source_digest
from estimator.claims import load_claims
from estimator.errors import InputError, Problem
from estimator.files import TMP_GLOB, atomic_path, write_json, write_text
from estimator.likelihood import DEFAULT_RESTATEMENTS
from estimator.model import DEFAULT_DYNAMICS, ModelRecipe
from estimator.priors import PriorSet, load_priors
from estimator.sampling import Diagnostics, diagnose, nutpie_sample
from estimator.timeline import ModelLayout
from estimator.workers import task_cores

__all__ = [
    "RefitSpec",
    "Refit",
    "WorkerState",
    "state_for",
    "compiled_model",
    "refit",
    "ResultFolder",
    "canonical",
    "code_identity",
]


def canonical(value) -> str:
    """Canonical JSON text of plain data (sorted keys): identities and manifests compare by it."""
    return json.dumps(value, sort_keys=True, default=str)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class RefitSpec:
    """A validated base model and the sampler settings of its refits (plain data, picklable).

    Attributes
    ----------
    claims : DataFrame
        The ledger as loaded (:func:`estimator.claims.load_claims`); its text is ``claims.attrs["text"]``.
    priors : PriorSet
        The priors as loaded, restricted to the ledger's source families.
    as_of, horizon : str or None
        The model's as-of date and the last month it spans (ISO dates; ``None``: the ledger's latest claim).
    dynamics : str
        Rate dynamics of the model.
    restatements : str
        How a claim that restates another enters the likelihood (:mod:`estimator.model`).
    draws, tune, chains : int
        nutpie's settings for every refit.
    source : str
        What the refits serve (a sweep file, ``<backtest>``): named in error messages.
    """

    claims: pd.DataFrame = field(repr=False)
    priors: PriorSet = field(repr=False)
    as_of: str | None
    horizon: str | None
    dynamics: str
    draws: int
    tune: int
    chains: int
    source: str = "<refit>"
    restatements: str = DEFAULT_RESTATEMENTS

    @classmethod
    def from_inputs(cls, claims=None, priors=None, **options) -> RefitSpec:
        """Load and validate a ledger and a prior file (paths, ``None`` for the embedded ones, or loaded objects)."""
        ledger = claims if isinstance(claims, pd.DataFrame) else load_claims(claims)
        prior_set = priors if isinstance(priors, PriorSet) else load_priors(priors)
        options["dynamics"] = options.get("dynamics") or DEFAULT_DYNAMICS
        options["restatements"] = options.get("restatements") or DEFAULT_RESTATEMENTS
        for key in ("as_of", "horizon"):
            options[key] = None if options.get(key) is None else str(options[key])
        # A ledger that names only some of the families fits those alone.
        return cls(ledger, prior_set.restricted_to(set(ledger["source_family"])), **options)

    @property
    def claims_text(self) -> str:
        """The ledger's text as loaded."""
        return self.claims.attrs.get("text", "")

    @property
    def priors_text(self) -> str:
        """The prior file's text as loaded."""
        return self.priors.text

    @cached_property
    def model_key(self) -> str:
        """What defines the model (not the sampler settings): one compiled model per key and process.

        The priors enter by their distributions and parameters, not their text: a
        loaded run keeps the parameters its fit elicited, which a fresh
        elicitation of the same text elsewhere may not reproduce to the last digit.
        """
        specs = {var: [s.distribution, s.params] for var, s in self.priors.all_specs().items()}
        ledger = self.claims.drop(columns="line", errors="ignore").to_csv()
        return _digest(canonical([_digest(ledger), specs, self.as_of, self.horizon, self.dynamics, self.restatements]))

    def identity(self) -> dict:
        """The spec as plain data for a results folder's manifest: the input texts, their digests and the options."""
        return {
            "claims": self.claims_text,
            "priors": self.priors_text,
            "digests": {
                "claims": _digest(self.claims_text),
                "priors": _digest(self.priors_text),
                "model": self.model_key,
            },
            **{
                k: getattr(self, k) for k in ("as_of", "horizon", "dynamics", "restatements", "draws", "tune", "chains")
            },
        }

    def replace(self, **changes) -> RefitSpec:
        """A copy with other options (``draws`` of a long reference fit, say)."""
        return dataclasses.replace(self, **changes)


@dataclass
class WorkerState:
    """The spec's model built and (on first use) compiled, once per process."""

    spec: RefitSpec
    recipe: ModelRecipe
    model: Any
    compiled: dict = field(default_factory=dict)

    @property
    def claims(self) -> pd.DataFrame:
        """The spec's ledger."""
        return self.spec.claims

    @property
    def priors(self) -> PriorSet:
        """The spec's priors."""
        return self.spec.priors

    def layout_for(self, as_of):
        """The time grid and claim design at another as-of date (same months)."""
        return ModelLayout(self.spec.claims, self.spec.priors, as_of, self.spec.horizon)


_STATE: dict[str, WorkerState] = {}


def state_for(spec: RefitSpec) -> WorkerState:
    """The state of ``spec``'s model in this process (built on first call, then reused)."""
    state = _STATE.get(spec.model_key)
    if state is None:
        recipe = ModelRecipe(
            spec.claims,
            spec.priors,
            as_of=spec.as_of,
            horizon=spec.horizon,
            dynamics=spec.dynamics,
            restatements=spec.restatements,
        )
        state = WorkerState(spec, recipe, recipe.build())
        _STATE.clear()  # one base model per process at a time: free the previous compiled model
        _STATE[spec.model_key] = state
    return state


def compiled_model(state: WorkerState, extra_vars: Iterable[str] = ()):
    """The state's model compiled for nutpie (once per set of stored variables), its ``pm.Data`` left swappable.

    Only the headline quantities, the free parameters (importance weights
    need them), the claims' predictive moments (backtests score with them)
    and ``extra_vars`` are stored: a smaller expansion function compiles faster.
    The compile goes through :func:`estimator._compiled.compile_model`, so a
    worker loads the machine code another process (or an earlier run) stored
    in the cache directory instead of compiling it.
    """
    keep = tuple(
        dict.fromkeys(
            [*N.HEADLINE, N.CLAIM_LOG_MEAN, N.CLAIM_LOG_SD, *(rv.name for rv in state.model.free_RVs), *extra_vars]
        )
    )
    if keep not in state.compiled:
        state.compiled[keep] = compile_model(state.model, recipe=state.recipe, var_names=list(keep))
    return state.compiled[keep]


@dataclass
class Refit:
    """One refit's draws with their diagnostics.

    ``diagnostics`` hold bulk ESS against ``100 * chains``, R-hat, divergences,
    tree depth and E-BFMI (:func:`estimator.sampling.diagnose`); every table
    fed by refits carries :meth:`diagnostics_row`, so a refit that missed a
    threshold is flagged, never dropped.
    """

    tree: Any
    diagnostics: Diagnostics
    seed: int
    seconds: float

    @cached_property
    def posterior(self):
        """The refit's posterior as an xarray Dataset (built once: :meth:`flat` reads it per variable)."""
        return self.tree["posterior"].to_dataset()

    def flat(self, var: str) -> np.ndarray:
        """Draws of ``var`` with chains and draws flattened into the first axis."""
        x = np.asarray(self.posterior[var].transpose(*N.SAMPLE_DIMS, ...).values, dtype=float)
        return x.reshape(-1, *x.shape[2:])

    def diagnostics_row(self) -> dict:
        """The diagnostics as the columns of a results table: ``max_rhat``, ``min_ess_bulk``, ``divergences``, ``diagnostics_ok``."""
        d = self.diagnostics
        return {
            "max_rhat": d.max_rhat,
            "min_ess_bulk": d.min_ess_bulk,
            "divergences": d.divergences,
            "diagnostics_ok": d.ok,
        }


def refit(spec: RefitSpec, data: Mapping[str, Any], seed: int, *, extra_vars: Iterable[str] = ()) -> Refit:
    """Sample ``spec``'s compiled model with ``data`` swapped in.

    Parameters
    ----------
    spec : RefitSpec
    data : mapping
        ``pm.Data`` name -> value (claim weights, prior parameters, simulated
        claims, the as-of exposure); the rest keep the spec's values.
    seed : int
        nutpie's seed: a task derives it from its own identity, so its draws do
        not depend on order or worker.
    extra_vars : iterable of str
        Deterministics to store besides the headline quantities and the free parameters.
    """
    t0 = time.perf_counter()
    compiled = with_data(compiled_model(state_for(spec), extra_vars), **data)
    cores = max(1, min(spec.chains, task_cores()))
    tree = nutpie_sample(compiled, draws=spec.draws, tune=spec.tune, chains=spec.chains, cores=cores, seed=seed)
    return Refit(tree, diagnose(tree, ess_min=100 * spec.chains), seed, time.perf_counter() - t0)


def code_identity() -> dict:
    """What a resumable run's results depend on besides its inputs: the package versions and the estimator source."""
    return {"versions": run_versions(), "estimator_source": source_digest()}


class ResultFolder:
    """The folder of one resumable run: a manifest, and one file per finished task under ``results``.

    Opening a folder whose manifest differs from ``manifest`` raises
    ``InputError`` with ``refusal``: another run's result files must never mix
    with this one's. The manifest also records the code (:func:`code_identity`);
    results of another estimator source or package version are refused with a
    message of their own. Temporary files a killed writer left are removed
    (their finished twins were written by rename, never partly).

    Parameters
    ----------
    out : path
        The folder (created if needed).
    manifest_name : str
        File name of the manifest in ``out``.
    manifest : dict
        Plain data identifying the run (its spec's :meth:`RefitSpec.identity`, seed, method...).
    refusal : str
        What the error says when ``out`` holds another run.
    results : str
        Subfolder of the per-task files.
    """

    def __init__(self, out: str | Path, manifest_name: str, manifest: dict, refusal: str, results: str):
        self.out = Path(out)
        self.results = self.out / results
        self.results.mkdir(parents=True, exist_ok=True)
        path = self.out / manifest_name
        manifest = json.loads(canonical({**manifest, "code": code_identity()}))
        if path.exists():
            held = json.loads(path.read_text())
            if held != manifest:
                if {k: v for k, v in held.items() if k != "code"} == {k: v for k, v in manifest.items() if k != "code"}:
                    refusal = "holds results of other code (the estimator source or a package version differs), which must not mix with this code's; choose another folder or delete this one"
                raise InputError([Problem(str(self.out), "--out", "-", refusal)])
        write_text(path, canonical(manifest))
        for f in self.results.glob(TMP_GLOB):
            f.unlink()

    def done(self, name: str) -> dict | None:
        """The row of a finished task, or ``None`` (with arrays, when it stored any: see :meth:`write`)."""
        row_path = self.results / f"{name}.json"
        if not row_path.exists():
            return None
        row = json.loads(row_path.read_text())
        arrays = self.results / f"{name}.npz"
        if arrays.exists():
            with np.load(arrays) as z:
                row = {**row, "arrays": {k: z[k] for k in z.files}}
        return row

    def write(self, name: str, row: dict, arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Record a finished task: its arrays first, then its row (the row marks it done)."""
        if arrays is not None:
            with atomic_path(self.results / f"{name}.npz", suffix=".npz") as tmp:
                np.savez(tmp, **arrays)
        write_json(self.results / f"{name}.json", row)
