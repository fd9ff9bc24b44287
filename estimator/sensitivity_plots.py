"""The sensitivity figures, now :mod:`estimator.figures.sensitivity`; this name keeps old imports working."""

from estimator.figures.sensitivity import plot_influence_tornado, plot_variance_shares
from estimator.figures.style import OKABE_ITO

__all__ = ["OKABE_ITO", "plot_influence_tornado", "plot_variance_shares"]
