r"""Quantiles of posterior draws: the levels every table reports, and the rule that computes them.

:data:`QUANTILES` are the median and the equal-tailed 90% interval. :func:`quantile`
is the one place that turns draws into quantiles:

* unweighted draws (MCMC output): linear interpolation between order
  statistics, numpy's default and xarray's (type 7 of Hyndman & Fan 1996);
* weighted draws (importance sampling, PSIS): the inverse of the weighted
  empirical CDF, the smallest draw :math:`x_{(j)}` with
  :math:`\sum_{i \le j} w_{(i)} \ge q \sum_i w_i`. This is numpy's
  ``np.quantile(x, q, weights=w, method="inverted_cdf")``; it is written out
  here so that a caller summarising many weightings of the same draws (the
  approximate mode of :mod:`estimator.sweeps`) can sort them once.

:func:`khat_threshold` and :func:`reweighting_holds` are the one rule by which
every what-if (a sweep point, a backtest vintage, a left-out claim) is answered
by reweighting stored draws (:func:`psis`) or by an exact refit.

:data:`SURPRISE_P` is the predictive probability below which a claim counts as
surprising (:func:`estimator.scoring.score_claims` gives the probability).
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUANTILES", "SURPRISE_P", "quantile", "psis", "khat_threshold", "reweighting_holds"]

QUANTILES = (0.05, 0.5, 0.95)
SURPRISE_P = 0.05


def quantile(x, q=QUANTILES, weights=None, *, axis=None, order=None) -> np.ndarray:
    """Quantiles ``q`` of draws ``x``, optionally weighted.

    Parameters
    ----------
    x : array_like
        Draws. Without weights, any shape (see ``axis``); with weights, flattened.
    q : float or sequence of float
        Probabilities in [0, 1] (default :data:`QUANTILES`).
    weights : array_like, optional
        Non-negative weight of each draw (need not sum to one).
    axis : int, optional
        Unweighted only: the axis of the draws (default: all of them).
    order : ndarray, optional
        Weighted only: ``np.argsort`` of the flattened ``x``, when the caller
        already has it.

    Returns
    -------
    ndarray
        One value per probability (leading axis when ``x`` has several).
    """
    if weights is None:
        return np.quantile(np.asarray(x, dtype=float), q, axis=axis)
    x = np.asarray(x, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    if order is None:
        order = np.argsort(x)
    # Normalised before the search, as numpy does, so both round alike at ties.
    cdf = np.cumsum(w[order])
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, q)
    return x[order][np.minimum(idx, x.size - 1)]


def psis(log_ratio, r_eff: float = 1.0) -> tuple[np.ndarray, float]:
    r"""Pareto-smoothed importance weights of draws, and the Pareto :math:`\hat k` of the smoothing.

    ``log_ratio`` are the log importance ratios :math:`\log w_s` of the target
    against the distribution the draws came from (one per draw). Returns the
    normalised log weights (they log-sum-exp to 0) and :math:`\hat k`
    (Vehtari et al. 2024: reliable below about 0.7). ArviZ's ``psislw``
    follows the PSIS-LOO convention, taking log-likelihood values and negating
    them; this is the one place that flips the sign.
    """
    from arviz_stats.base import array_stats  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    lw, khat = array_stats.psislw(-np.asarray(log_ratio, dtype=float), r_eff=r_eff, axis=-1)
    lw = np.asarray(lw, dtype=float)
    return lw - np.logaddexp.reduce(lw), float(khat)


def khat_threshold(n_draws: int) -> float:
    r"""Largest Pareto :math:`\hat k` at which PSIS is trusted with :math:`S` draws: :math:`\min(1 - 1/\log_{10} S, 0.7)`.

    Vehtari, Simpson, Gelman, Yao & Gabry (2024), "Pareto smoothed importance
    sampling", JMLR 25(72), sec. 3: below :math:`1 - 1/\log_{10} S` the
    estimate's error falls at the usual Monte Carlo rate; 0.7 caps it for
    large :math:`S`, where the pre-asymptotic bias still dominates.
    """
    return float(min(1.0 - 1.0 / np.log10(n_draws), 0.7))


def reweighting_holds(khat: float, n_draws: int) -> bool:
    r"""Whether PSIS weights with this :math:`\hat k` may stand for an exact refit (NaN never does)."""
    return bool(khat <= khat_threshold(n_draws))
