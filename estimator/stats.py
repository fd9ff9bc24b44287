"""Statistics shared by the analyses: one weighted-quantile rule."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_quantile"]


def weighted_quantile(x, weights, q) -> np.ndarray:
    """Quantiles ``q`` of draws ``x`` under (normalised or not) ``weights``: the inverse of the weighted ECDF."""
    return np.quantile(np.asarray(x, dtype=float), q, weights=np.asarray(weights, dtype=float), method="inverted_cdf")
