"""Simulate a claims ledger of the same shape as a real one, from known parameters.

Used for parameter-recovery tests and simulation-based calibration. For each
claim the source's estimate is drawn as in the model,
:math:`\\hat S_i = \\exp(\\mu_i + \\sigma_i \\varepsilon_i)`, and then written
back in the claim's own qualifier so the simulated ledger speaks like the
real one:

* ``about`` / capacity ``could_hold``/``up_to``: the figure is
  :math:`\\hat S_i` rounded to three significant digits;
* ``more_than`` / ``at_least``: the figure is :math:`\\hat S_i` rounded
  *down* to one significant digit, so :math:`\\hat S_i` lies in the bracket the
  next-round-figure rule implies;
* ``between``: the bracket of one significant digit around :math:`\\hat S_i`;
* ``up_to`` on a count: :math:`\\hat S_i` rounded *up* to one significant digit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pymc as pm

from estimator import claims as C
from estimator import names as N
from estimator.model import build_model

__all__ = ["draw_truth", "simulate_claims"]


def _floor_sig(x: float) -> float:
    unit = 10.0 ** math.floor(math.log10(x))
    return math.floor(x / unit) * unit


def _ceil_sig(x: float) -> float:
    unit = 10.0 ** math.floor(math.log10(x))
    return math.ceil(x / unit) * unit


def _round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def draw_truth(claims: pd.DataFrame, priors, *, as_of, seed: int) -> dict:
    """One joint draw from the prior: every parameter, headline quantity and claim mean/sd."""
    model = build_model(claims, priors, as_of=as_of)
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    with model:
        prior = pm.sample_prior_predictive(draws=1, var_names=names, random_seed=seed)
    ds = prior["prior"].to_dataset() if hasattr(prior["prior"], "to_dataset") else prior["prior"]
    return {k: np.asarray(ds[k].values[0, 0]) for k in names}


def simulate_claims(claims: pd.DataFrame, truth: dict, *, seed: int) -> pd.DataFrame:
    """A ledger like ``claims`` whose figures are drawn from ``truth`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    mu = np.asarray(truth[N.CLAIM_LOG_MEAN], dtype=float)
    sd = np.asarray(truth[N.CLAIM_LOG_SD], dtype=float)
    s = np.exp(mu + sd * rng.standard_normal(mu.shape))
    out = claims.copy()
    figures, highs = [], []
    for (_, row), est in zip(claims.iterrows(), s):
        basis = float(row["basis_containers"]) if row["kind"] == C.CAPACITY else 1.0
        value = est * basis
        q = row["qualifier"]
        high = np.nan
        if q == C.ABOUT or (row["kind"] == C.CAPACITY and q in (C.UP_TO, C.COULD_HOLD)):
            fig = _round_sig(value)
        elif q in (C.MORE_THAN, C.AT_LEAST):
            fig = _floor_sig(value)
        elif q == C.BETWEEN:
            fig = _floor_sig(value)
            high = C.next_round_figure(fig)
        else:  # up_to on a count
            fig = _ceil_sig(value)
        figures.append(fig)
        highs.append(high)
    out["figure"] = figures
    out["figure_high"] = highs
    bounds = [C.claim_bounds(r) for _, r in out.iterrows()]
    out["low"] = [b[0] for b in bounds]
    out["high"] = [b[1] for b in bounds]
    out.attrs = {**claims.attrs, "source": "<simulated>", "text": out.to_csv(index=False, columns=list(C.COLUMNS))}
    return out
