r"""Simulate a claims ledger of the same shape as a real one, from known parameters.

Used for parameter-recovery tests and simulation-based calibration, where the
simulator must be the model's own generative story: a ledger written any
other way makes a correct posterior look miscalibrated. For each claim the
source's estimate is drawn as in the model,
:math:`\hat S_i = \exp(\mu_i + \sigma_i \varepsilon_i)`, and then written
in the claim's own terms so that the model's reading of the written claim
(:mod:`estimator.claims`) is exactly the event the draw fell in:

* a point (``about``; ``could_hold``/``up_to`` on a capacity): the figure is
  :math:`\hat S_i` to three significant digits (a relative error of at most
  0.5%, standard deviation at most 0.3%: negligible against source noise,
  whose default prior puts 95% of its mass above 8%);
* a bracket (``more_than``/``at_least`` read two-sided, ``between``): the
  bracket of one significant digit holding :math:`\hat S_i`, written as
  "more than" the rounded-down figure (or "between" the figure and the next
  round one);
* a one-sided bound (``at_least`` launches, ``up_to`` on a count, any bound
  with ``figure_high = inf``): the threshold :math:`x` stays as in the real
  ledger (a bound's figure is fixed by whoever set it, not drawn), and only
  which side of it :math:`\hat S_i` fell on is written: "at least x" if
  :math:`\hat S_i \ge x`, "up to x" otherwise. That is a censored
  observation, and its likelihood, :math:`\Phi` on the side written, is the
  model's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pymc as pm

from estimator import claims as C
from estimator import names as N
from estimator.errors import InputError, Problem
from estimator.likelihood import LOWER, UPPER, claim_forms

__all__ = ["draw_truth", "simulate_claims", "check_simulable", "SIMULATOR_VERSION"]

# Bumped whenever simulate_claims writes ledgers differently, so that a resumed
# SBC run never mixes simulations from two generative stories (2: one-sided
# bounds are censored at their threshold instead of rounded).
SIMULATOR_VERSION = 2


def _floor_sig(x: float) -> float:
    unit = 10.0 ** math.floor(math.log10(x))
    return math.floor(x / unit) * unit


def _round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def draw_truth(model, *, seed: int) -> dict:
    """One joint draw from a model's prior: every parameter, headline quantity and claim mean/sd.

    ``model`` is :func:`estimator.model.build_model` of the ledger to simulate.
    """
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    with model:
        prior = pm.sample_prior_predictive(draws=1, var_names=names, random_seed=seed)
    ds = prior["prior"].to_dataset() if hasattr(prior["prior"], "to_dataset") else prior["prior"]
    return {k: np.asarray(ds[k].values[0, 0]) for k in names}


def check_simulable(claims: pd.DataFrame) -> None:
    """Raise :class:`InputError` naming every row :func:`simulate_claims` cannot write.

    A one-sided capacity conversion ("could hold more than x", with
    ``figure_high = inf``) is the only such row: "up to" on a capacity is a
    point, so no qualifier says the source's figure fell below x.
    """
    problems = [
        Problem(
            claims.attrs.get("source", "<ledger>"),
            f"line {row['line']} (id {cid})" if "line" in row else f"id {cid}",
            "figure_high",
            "a one-sided capacity conversion cannot be simulated (no qualifier says 'could hold fewer than'); give it a finite figure_high",
        )
        for (cid, row), form in zip(claims.iterrows(), claim_forms(claims))
        if row["kind"] == C.CAPACITY and form in (LOWER, UPPER)
    ]
    if problems:
        raise InputError(problems)


def _censored(row, value: float) -> tuple[str, float]:
    """Qualifier and figure_high saying on which side of the row's threshold ``value`` fell."""
    x = float(row["figure"])
    if value < x:
        return C.UP_TO, np.nan
    # At or above the threshold: "at least x", open-ended (launches are one-sided by rule).
    return C.AT_LEAST, (np.nan if row["quantity"] == C.MISSILES_LAUNCHED else math.inf)


def simulate_claims(claims: pd.DataFrame, truth: dict, *, seed: int) -> pd.DataFrame:
    """A ledger like ``claims`` whose figures are drawn from ``truth`` (see module docstring)."""
    check_simulable(claims)
    rng = np.random.default_rng(seed)
    mu = np.asarray(truth[N.CLAIM_LOG_MEAN], dtype=float)
    sd = np.asarray(truth[N.CLAIM_LOG_SD], dtype=float)
    s = np.exp(mu + sd * rng.standard_normal(mu.shape))
    out = claims.copy()
    figures, highs, qualifiers = [], [], []
    # One-sided exactly when the model reads the claim so (its likelihood form).
    for (_, row), est, form in zip(claims.iterrows(), s, claim_forms(claims)):
        basis = float(row["basis_containers"]) if row["kind"] == C.CAPACITY else 1.0
        value = est * basis
        q = row["qualifier"]
        high = np.nan
        if form in (LOWER, UPPER):
            # First: a launch count "about x" is one-sided too (launches bound deliveries from below).
            fig = float(row["figure"])
            q, high = _censored(row, value)
        elif q == C.ABOUT or (row["kind"] == C.CAPACITY and q in (C.UP_TO, C.COULD_HOLD)):
            fig = _round_sig(value)
        elif q in (C.MORE_THAN, C.AT_LEAST):
            fig = _floor_sig(value)
        else:  # between
            fig = _floor_sig(value)
            high = C.next_round_figure(fig)
        figures.append(fig)
        highs.append(high)
        qualifiers.append(q)
    out["qualifier"] = qualifiers
    out["figure"] = figures
    out["figure_high"] = highs
    bounds = [C.claim_bounds(r) for _, r in out.iterrows()]
    out["low"] = [b[0] for b in bounds]
    out["high"] = [b[1] for b in bounds]
    out.attrs = {**claims.attrs, "source": "<simulated>", "text": out.to_csv(index=False, columns=list(C.COLUMNS))}
    return out
