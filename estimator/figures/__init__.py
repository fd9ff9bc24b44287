r"""The figures of a run: compute tidy data, then draw it.

Each standard figure has one name, used for its file, its compute step and its
plot step. The compute step turns a :class:`~estimator.FitResult` (and, where a
prior is shown, prior draws) into a tidy ``pandas.DataFrame``; the ``plot_*``
function draws that table. Plot functions accept ``ax=None`` (a new figure) or
the Axes to draw on and return ``(fig, ax)``; they never fit and never save:
only the command line writes files.

1. ``containers_over_time`` (:mod:`~estimator.figures.containers`): cumulative
   containers :math:`C(t)` (median, 50% and 90% bands) for the modelled total
   and as each family that counts containers would report it,
   :math:`\beta_f C(t)`, with every claim (:func:`claim_marks`) at the end of
   the period it counts.
2. ``delivered_152mm`` (:mod:`~estimator.figures.densities`): 152mm shells and
   all artillery rounds delivered by the as-of date, prior against posterior.
3. ``value``: implied value and its parts.
4. ``loads_and_mix``: 152mm shells per container (with the weight limit
   :math:`P / m_{152}`) and the cargo mix.
5. ``claim_check`` (:mod:`~estimator.figures.claims`): each claim against
   the posterior predictive of the source's estimate, as ``estimator score``
   scores it.
6. ``family_bias`` (:mod:`~estimator.figures.families`): each family's
   multiplicative bias :math:`\beta_f`, prior against posterior.

:data:`STANDARD` lists them; :func:`draw` computes and draws one by name,
:func:`standard_figures` all of them, and the plot methods of
:class:`~estimator.FitResult` call :func:`draw`. The figures of the
sensitivity analysis (:mod:`~estimator.figures.sensitivity`), of the
validation (:mod:`~estimator.figures.validation`), of a sweep
(:mod:`~estimator.figures.sweep`) and of a backtest
(:mod:`~estimator.figures.backtest`) take the tables those analyses return.
Palette, axes and number labels are :mod:`~estimator.figures.style`.

Prior curves are draws from the model's own prior with a fixed seed
(:func:`estimator.prior_draws.sample_prior`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from estimator.figures.backtest import plot_backtest_beliefs, plot_backtest_pit
from estimator.figures.claims import P_FIGURE_MEANING, claim_check, plot_claim_check
from estimator.figures.common import BANDS, CLAIM_GID, POSTERIOR, PRIOR, QUALIFIER_SYMBOL, QUANTITY_LABELS, source_note
from estimator.figures.containers import (
    ARROW_UP,
    CAPACITY_MARKER,
    CONTAINER_PANEL,
    OTHER_PANEL,
    QUALIFIER_LEGEND,
    QUALIFIER_MARKERS,
    TOTAL,
    claim_marks,
    containers_over_time,
    plot_containers_over_time,
)
from estimator.figures.densities import (
    MIX_COLORS,
    VALUE_COLORS,
    VALUE_LABELS,
    VALUE_PARTS,
    delivered_152mm,
    loads_and_mix,
    plot_delivered_152mm,
    plot_loads_and_mix,
    plot_value,
    value,
)
from estimator.figures.families import family_bias, plot_family_bias
from estimator.figures.sensitivity import plot_influence_tornado, plot_variance_shares
from estimator.figures.style import OKABE_ITO, PRIOR_COLOR, WINE, family_colors, fmt_number
from estimator.figures.sweep import plot_sweep
from estimator.figures.validation import plot_claim_scores, plot_reference_comparison, plot_sbc_ecdf, plot_sbc_ranks
from estimator.prior_draws import PRIOR_DRAWS, PRIOR_SEED, sample_prior
from estimator.stats import SURPRISE_P

__all__ = [
    "Figure",
    "STANDARD",
    "FIGURES",
    "draw",
    "standard_figures",
    "plot_backtest_beliefs",
    "plot_backtest_pit",
    # the standard figures, by name
    "containers_over_time",
    "claim_marks",
    "plot_containers_over_time",
    "delivered_152mm",
    "plot_delivered_152mm",
    "value",
    "plot_value",
    "loads_and_mix",
    "plot_loads_and_mix",
    "claim_check",
    "plot_claim_check",
    "family_bias",
    "plot_family_bias",
    # figures of the other analyses
    "plot_influence_tornado",
    "plot_variance_shares",
    "plot_sbc_ecdf",
    "plot_sbc_ranks",
    "plot_reference_comparison",
    "plot_claim_scores",
    "plot_sweep",
    # shared pieces
    "sample_prior",
    "PRIOR_SEED",
    "PRIOR_DRAWS",
    "source_note",
    "family_colors",
    "fmt_number",
    "OKABE_ITO",
    "WINE",
    "PRIOR_COLOR",
    "PRIOR",
    "POSTERIOR",
    "BANDS",
    "TOTAL",
    "CLAIM_GID",
    "ARROW_UP",
    "QUALIFIER_MARKERS",
    "CAPACITY_MARKER",
    "QUALIFIER_LEGEND",
    "QUALIFIER_SYMBOL",
    "QUANTITY_LABELS",
    "CONTAINER_PANEL",
    "OTHER_PANEL",
    "VALUE_PARTS",
    "VALUE_COLORS",
    "VALUE_LABELS",
    "MIX_COLORS",
    "SURPRISE_P",
    "P_FIGURE_MEANING",
]


@dataclass(frozen=True)
class Figure:
    """A standard figure: the compute steps whose tables its plot step draws.

    Each compute step is called with the run, and with the prior draws too
    when ``uses_prior``; the plot step gets their results in order.
    """

    compute: tuple[Callable, ...]
    plot: Callable
    uses_prior: bool = False


# Figure name (file stem) -> how to draw it, in the order the report shows them.
STANDARD = {
    "containers_over_time": Figure((containers_over_time, claim_marks), plot_containers_over_time),
    "delivered_152mm": Figure((delivered_152mm,), plot_delivered_152mm, uses_prior=True),
    "value": Figure((value,), plot_value),
    "loads_and_mix": Figure((loads_and_mix,), plot_loads_and_mix, uses_prior=True),
    "claim_check": Figure((claim_check,), plot_claim_check),
    "family_bias": Figure((family_bias,), plot_family_bias, uses_prior=True),
}
FIGURES = tuple(STANDARD)


def draw(name: str, result, prior=None, ax=None):
    """Compute and draw one standard figure of a run.

    Parameters
    ----------
    name : str
        One of :data:`FIGURES`.
    result : FitResult
    prior : xarray.Dataset, optional
        Prior draws (:func:`sample_prior`); default the run's own,
        ``result.prior``, drawn once with the fixed seed.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    (Figure, Axes)
    """
    figure = STANDARD[name]
    if figure.uses_prior and prior is None:
        prior = result.prior
    args = (result, prior) if figure.uses_prior else (result,)
    return figure.plot(*(compute(*args) for compute in figure.compute), ax=ax)


def standard_figures(result, prior=None) -> dict:
    """All standard figures of a run, drawn but not saved.

    Parameters
    ----------
    result : FitResult
    prior : xarray.Dataset, optional
        Prior draws (:func:`sample_prior`); default the run's own.

    Returns
    -------
    dict
        Figure name (:data:`FIGURES`) -> ``(fig, ax)``.
    """
    return {name: draw(name, result, prior) for name in FIGURES}
