r"""What the answer hinges on (1): prior and likelihood sensitivity, and the sources of the value's variance.

Which claims and source families move the answer, and whether the count x
capacity chain agrees with the direct estimates, are in :mod:`estimator.influence`.

Power-scaling sensitivity (Kallioinen et al. 2024)
    The prior or the likelihood is raised to a power :math:`\alpha` near 1,
    :math:`p_\alpha(\theta \mid y) \propto p(\theta)^\alpha p(y \mid \theta)` (or
    :math:`p(\theta) p(y \mid \theta)^\alpha`), by importance-reweighting the
    existing draws; the sensitivity of a quantity is the rate at which its
    posterior moves (cumulative Jensen-Shannon distance per unit of
    :math:`\log_2 \alpha`). ArviZ's :func:`arviz_stats.psense_summary` flags a
    value of 0.05 or more. Only the elicited priors are scaled, not the
    standard-normal innovations of the container-rate walk: those are a
    reparametrisation device, and scaling them would report a "prior" nobody
    elicited.

Variance shares of value
    The first-order index of a group of factors :math:`X_g` is
    :math:`S_g = \operatorname{Var}(E[V \mid X_g]) / \operatorname{Var}(V)` over
    the posterior. :math:`E[V \mid X_g]` is estimated by least squares of
    :math:`V` on a full quadratic polynomial in the standardised members of
    :math:`X_g`, and :math:`S_g` is the adjusted :math:`R^2`. Because
    :math:`V = C (s_{152} k_{152} p_{152} + s_{122} k_{122} p_{122}) + N p_N` is
    linear in each group when the groups are independent, the quadratic basis
    captures the conditional mean then; otherwise a fit on a restricted basis
    explains at most the variance of the true conditional mean, so the estimate
    is a lower bound up to sampling noise. With independent factors the indices
    sum to at most 1 and the remainder is the share of interactions. The
    posterior makes factors dependent (claims on shells tie the container count
    to the load per container), and then indices may overlap and their sum can
    exceed 1: a share is "what knowing this factor alone would explain", not
    an exclusive slice.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd

from estimator import names as N

__all__ = ["PSENSE_THRESHOLD", "sensitivity_table", "first_order_indices", "VALUE_FACTORS", "value_variance_shares"]


PSENSE_THRESHOLD = 0.05

# Groups of factors of the value of deliveries: label -> (variable, cargo type or None).
VALUE_FACTORS = {
    "container count": ((N.CONTAINERS, None),),
    "per-container capacity": ((N.SHELLS_PER_CONTAINER_152MM, None), (N.ROUNDS_PER_CONTAINER_122MM, None)),
    # Two shares determine the third (they sum to one).
    "cargo mix": ((N.CARGO_MIX, N.CARGO_TYPES[0]), (N.CARGO_MIX, N.CARGO_TYPES[1])),
    "unit price": ((N.PRICE_152MM_USD, None), (N.PRICE_122MM_USD, None), (N.PRICE_MISSILE_USD, None)),
    "missiles delivered": ((N.MISSILES_DELIVERED, None),),
}
REMAINDER = N.REMAINDER


log = logging.getLogger("estimator")


def sensitivity_table(result, var_names=None, threshold: float = PSENSE_THRESHOLD) -> pd.DataFrame:
    """Power-scaling prior and likelihood sensitivity, with ArviZ's diagnosis in plain words.

    Parameters
    ----------
    result : FitResult
        Needs the ``log_prior`` and ``log_likelihood`` groups.
    var_names : list of str, optional
        Posterior variables (default: every elicited parameter and every
        headline quantity).
    threshold : float
        Sensitivity at or above which ArviZ flags a component (0.05).

    Returns
    -------
    DataFrame
        Index: variable (vector entries as ``name[coord]``); columns ``prior``,
        ``likelihood`` (sensitivities), ``diagnosis`` (ArviZ's words) and
        ``in_words``.
    """
    from arviz_stats import psense_summary  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    specs = list(result.priors.all_specs())
    if var_names is None:
        var_names = [*specs, *(v for v in N.HEADLINE if v not in specs)]
    # psense_summary logs a generic pointer whenever it flags anything; the
    # in_words column says what each flag means here.
    log = logging.getLogger("arviz_stats.psense")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        df = psense_summary(
            result.tree, var_names=list(var_names), threshold=threshold, prior_var_names=specs, round_to=4
        )
    finally:
        log.setLevel(level)
    df = df.rename(columns=str)
    df["in_words"] = [_psense_words(p, lk, threshold) for p, lk in zip(df["prior"], df["likelihood"])]
    df.index.name = "variable"
    return df


def _psense_words(prior: float, likelihood: float, threshold: float) -> str:
    if prior >= threshold and likelihood >= threshold:
        return "prior and claims both move it and pull apart (possible prior-data conflict): check they describe the same thing"
    if prior >= threshold:
        return "the claims say little about it: the answer mostly restates the prior"
    if likelihood >= threshold:
        return "driven by the claims; the prior matters little"
    return "barely moves when either the prior or the claims are scaled"


def _quadratic_basis(X: np.ndarray) -> np.ndarray:
    """Intercept, standardised columns and all their products of degree two."""
    Z = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    cols = [np.ones(len(Z)), *Z.T]
    cols += [Z[:, i] * Z[:, j] for i, j in itertools.combinations_with_replacement(range(Z.shape[1]), 2)]
    return np.column_stack(cols)


def first_order_indices(y, factors: dict) -> pd.DataFrame:
    r"""First-order variance shares :math:`\operatorname{Var}(E[y \mid X_g])/\operatorname{Var}(y)` from joint draws.

    Parameters
    ----------
    y : array (n,)
        Draws of the output.
    factors : dict of str -> array (n,) or (n, d)
        Draws of each group of factors, aligned with ``y``.

    Returns
    -------
    DataFrame
        Index: factor, plus a last row :data:`REMAINDER` holding one minus the
        sum; column ``share``. Each share is the adjusted :math:`R^2` of a
        least-squares fit of ``y`` on a full quadratic polynomial in the
        group's standardised members, clipped at zero (see the module notes).
    """
    y = np.asarray(y, dtype=float).ravel()
    n = len(y)
    tss = np.sum((y - y.mean()) ** 2)
    shares = {}
    for name, X in factors.items():
        X = np.asarray(X, dtype=float).reshape(n, -1)
        B = _quadratic_basis(X)
        coef, *_ = np.linalg.lstsq(B, y, rcond=None)
        rss = np.sum((y - B @ coef) ** 2)
        p = B.shape[1] - 1
        shares[name] = max(0.0, 1.0 - (rss / (n - p - 1)) / (tss / (n - 1)))
    shares[REMAINDER] = 1.0 - sum(shares.values())
    return pd.DataFrame({"share": pd.Series(shares)}).rename_axis("factor")


def value_variance_shares(result) -> pd.DataFrame:
    """Share of the posterior variance of value due to each factor group (:data:`VALUE_FACTORS`).

    Returns
    -------
    DataFrame
        As :func:`first_order_indices`, with a ``variables`` column naming
        each group's members.
    """
    post = result.posterior
    factors, members = {}, {}
    for label, parts in VALUE_FACTORS.items():
        cols = []
        for var, cargo in parts:
            da = post[var] if cargo is None else post[var].sel({N.CARGO: cargo})
            cols.append(da.transpose(*N.SAMPLE_DIMS).values.ravel())
        factors[label] = np.column_stack(cols)
        members[label] = ", ".join(v if c is None else f"{v}[{c}]" for v, c in parts)
    df = first_order_indices(post[N.VALUE_USD].transpose(*N.SAMPLE_DIMS).values.ravel(), factors)
    df["variables"] = pd.Series(members)
    df.loc[REMAINDER, "variables"] = ""
    return df
