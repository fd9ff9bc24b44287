"""Draws from the prior of a run's own model, for prior-against-posterior figures and checks.

Priors of derived quantities (shells delivered, shells per container) have no
closed form, so :func:`sample_prior` rebuilds the run's model from its stored
claims, priors, as-of date and rate dynamics and draws from it with
``pymc.sample_prior_predictive`` and a fixed seed: the prior drawn is then
exactly the one the fit started from, for parameters and derived quantities
alike, and the same for every figure of the run.

The forward-sampling function is evaluated by PyTensor's Python linker
(``FAST_COMPILE``), not compiled with numba: numba spent about 30 s compiling
it on a machine whose PyTensor cache was empty and then about 3 ms a call
checking the types of its inputs, 4,000 calls in all, while the Python linker
compiles nothing and draws the 4,000 in a few seconds
(``benchmarks/bench_cold.py``). The draws are the same in every process, cold
or warm, since nothing here depends on a cache.
"""

from __future__ import annotations

import logging
import warnings

import pymc as pm
import xarray as xr

from estimator import names as N
from estimator.model import result_model

__all__ = ["PRIOR_SEED", "PRIOR_DRAWS", "sample_prior"]

PRIOR_SEED = 20240223
PRIOR_DRAWS = 4000
# PyTensor's Python linker: nothing compiled, nothing cached (see the module docstring).
PRIOR_MODE = "FAST_COMPILE"
# Derived quantities the figures show, and what each source would say (the prior
# predictive check of the claims). Every free parameter and the monthly rate are
# drawn too, so that the claims can be scored against the prior exactly as against
# the posterior (estimator.summaries.claim_check_table).
DERIVED = (
    N.CONTAINERS_CUMULATIVE,
    N.SHELLS_152MM,
    N.ARTILLERY_ROUNDS,
    N.SHELLS_PER_CONTAINER_152MM,
    N.MAX_SHELLS_PER_CONTAINER_152MM,
    N.CARGO_MIX,
    N.FAMILY_BIAS,
    N.CLAIM_LOG_MEAN,
    N.CLAIM_LOG_SD,
)


def sample_prior(result, draws: int = PRIOR_DRAWS, seed: int = PRIOR_SEED) -> xr.Dataset:
    """Draws from the prior of the run's model (parameters and derived quantities).

    Parameters
    ----------
    result : FitResult
        The run; its stored claims, priors and as-of date rebuild the model.
    draws : int
        Number of prior draws.
    seed : int
        Random seed, fixed so the figures of a run are reproducible.

    Returns
    -------
    xarray.Dataset
        The prior group (dims ``chain``, ``draw`` and the model's own): the
        quantities in :data:`DERIVED`, every free parameter and the monthly
        container rate.
    """
    model = result_model(result)
    names = list(
        dict.fromkeys(
            [*DERIVED, *(rv.name for rv in model.free_RVs), N.CONTAINER_RATE, N.MISSILE_RATE, N.MISSILES_CUMULATIVE]
        )
    )
    # PyMC logs which variables it samples; a figure command has no use for that line.
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample_prior_predictive(
                draws=draws, model=model, var_names=names, random_seed=seed, compile_kwargs={"mode": PRIOR_MODE}
            )
    finally:
        pymc_log.setLevel(level)
    return idata["prior"].to_dataset()
