"""estimator: reconcile conflicting public estimates with Bayesian inference.

The default data are public claims (2023-2024) about North Korean munitions
shipped to Russia. Typical use::

    import estimator
    result = estimator.fit()            # embedded claims ledger and priors
    result.summary()                    # headline posterior table

See :mod:`estimator.model` for the equations.
"""

import importlib
import logging
import os
from importlib import metadata as _metadata

# One BLAS thread, set before numpy loads BLAS: with more threads, OpenBLAS rounds
# differently, and sampling amplifies the last bit into different draws, so the same
# seed would give different results in this process, a worker process or a Dask worker
# (Dask sets one thread). The model's arrays are tiny: one thread costs nothing.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# A library logs, the application decides where to: silent unless the caller configures logging.
logging.getLogger("estimator").addHandler(logging.NullHandler())

from estimator.claims import claims_from_frame, load_claims  # noqa: E402
from estimator.errors import InputError, Problem
from estimator.inference import FitResult, fit, load_result
from estimator.model import build_model
from estimator.priors import PriorSet, PriorSpec, load_priors
from estimator.summaries import claim_check_table, headline_table, prob_shells_above, scope_table

__all__ = [
    "load_claims",
    "claims_from_frame",
    "load_priors",
    "build_model",
    "fit",
    "load_result",
    "FitResult",
    "PriorSet",
    "PriorSpec",
    "InputError",
    "Problem",
    "headline_table",
    "scope_table",
    "claim_check_table",
    "prob_shells_above",
]
try:
    __version__ = _metadata.version("estimator")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

# Submodules a user reaches as attributes (``estimator.sensitivity``) without
# importing them first; each loads on first use.
_SUBMODULES = (
    "backtest",
    "claims",
    "display",
    "errors",
    "figures",
    "forecast",
    "inference",
    "influence",
    "model",
    "names",
    "priors",
    "refit",
    "report",
    "reweighting",
    "sampling",
    "scoring",
    "sensitivity",
    "simulate",
    "summaries",
    "sweeps",
    "validation",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"estimator.{name}")
    raise AttributeError(f"module 'estimator' has no attribute '{name}'")


def __dir__():
    return sorted({*globals(), *_SUBMODULES})
