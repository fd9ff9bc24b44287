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

:data:`SURPRISE_P` is the predictive probability below which a claim counts as
surprising (:func:`estimator.scoring.score_claims` gives the probability).
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUANTILES", "SURPRISE_P", "quantile", "psis"]

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
    """Pareto-smoothed importance weights of draws, and the Pareto :math:`\\hat k` of the smoothing.

    ``log_ratio`` are the log importance ratios :math:`\\log w_s` of the target
    against the distribution the draws came from (one per draw). Returns the
    normalised log weights (they log-sum-exp to 0) and :math:`\\hat k`
    (Vehtari et al. 2024: reliable below about 0.7). ArviZ's ``psislw``
    follows the PSIS-LOO convention, taking log-likelihood values and negating
    them; this is the one place that flips the sign.
    """
    from arviz_stats.base import array_stats

    lw, khat = array_stats.psislw(-np.asarray(log_ratio, dtype=float), r_eff=r_eff, axis=-1)
    lw = np.asarray(lw, dtype=float)
    return lw - np.logaddexp.reduce(lw), float(khat)
