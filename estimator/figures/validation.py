"""Figures of the validation: SBC rank ECDF differences and histograms, and claim scores.

Each ``plot_*`` function takes a table from :mod:`estimator.validation`,
accepts ``ax=None`` and returns ``(fig, axes)``; it never fits and never
saves.

The ECDF-difference band is ArviZ's simultaneous 95% band for the ECDF of
:math:`J` uniform draws (Säilynoja, Bürkner & Vehtari 2022): under correct
calibration the whole curve stays inside it with probability 0.95. The
histogram's band is pointwise: the central 95% of Binomial(J, 1/B) counts.
"""

from __future__ import annotations

import numpy as np
from matplotlib import transforms
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy.stats import binom

from estimator import names as N
from estimator.figures.claims import P_FIGURE_MEANING
from estimator.figures.common import QUANTITY_LABELS
from estimator.figures.style import OKABE_ITO, finish, new_axes
from estimator.stats import SURPRISE_P

__all__ = ["plot_sbc_ecdf", "plot_sbc_ranks", "plot_reference_comparison", "plot_claim_scores"]

BAND_PROB = 0.95
BAND_SEED = 214  # the band is simulated: a fixed seed keeps the figure reproducible
BAND_COLOR = "#cccccc"
_SHORT = {
    N.CONTAINERS: "containers",
    N.SHELLS_152MM: "152mm shells",
    N.ROUNDS_122MM: "122mm rounds",
    N.ARTILLERY_ROUNDS: "artillery rounds",
    N.MISSILES_DELIVERED: "missiles",
    N.SHELLS_PER_CONTAINER_152MM: "152mm shells / container",
    N.ROUNDS_PER_CONTAINER_122MM: "122mm rounds / container",
    N.VALUE_USD: "value (USD)",
    N.VALUE_152MM_USD: "value of 152mm (USD)",
    N.VALUE_122MM_USD: "value of 122mm (USD)",
    N.VALUE_MISSILES_USD: "value of missiles (USD)",
}


NCOLS = 4


def _grid(ax, n):
    """A new grid of ``n`` panels (``NCOLS`` wide) for ``ax=None``, else the Axes given."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - heavy; only when drawing

    if ax is None:
        nrows = -(-n // NCOLS)
        fig, ax = plt.subplots(nrows, NCOLS, layout="constrained", figsize=(12, 2.4 * nrows + 1.2), sharex=True)
    axes = np.atleast_1d(ax).ravel()
    for extra in axes[n:]:
        extra.set_visible(False)
    return axes[0].figure, axes


def _label_axes(axes, n, ylabel, xlabel):
    for i, a in enumerate(axes[:n]):
        if i % NCOLS == 0:
            a.set_ylabel(ylabel, fontsize=8.5)
        # The lowest panel of each column carries the x label (the last row may be short).
        if i + NCOLS >= n:
            a.set_xlabel(xlabel, fontsize=8.5)
            a.xaxis.set_tick_params(labelbottom=True)


def _key(fig, axes, n, handles, text):
    """Legend and reading note in the first spare panel (the grid has one), else under the figure."""
    if len(axes) > n:
        key = axes[n]
        key.set_visible(True)
        key.axis("off")
        key.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
        key.text(0.02, 0.45, text, fontsize=8, color="#444444", va="top", wrap=True, transform=key.transAxes)
    else:
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)


def _panel(a, title: str, color: str = "black") -> None:
    """One quantity's panel of fractional ranks: its title, the unit interval, light ticks."""
    a.set_title(title, fontsize=9, loc="left", color=color)
    a.set_xlim(0, 1)
    a.tick_params(labelsize=8)
    a.spines[["top", "right"]].set_visible(False)


def _complete(fig, axes, ylabel: str, handles, key: str, title: str, note: str) -> None:
    """Axis labels of the grid, its legend and reading note, the title and the source note."""
    n = len(N.SBC_QUANTITIES)
    _label_axes(axes, n, ylabel, "fractional rank of the true value")
    _key(fig, axes, n, handles, key)
    finish(fig, title, note)


def plot_sbc_ecdf(table, summary, ax=None, note: str = ""):
    """ECDF of each quantity's fractional ranks minus the uniform CDF, with a 95% simultaneous band.

    Parameters
    ----------
    table : DataFrame
        From :func:`estimator.validation.run_sbc`.
    summary : DataFrame
        From :func:`estimator.validation.sbc_summary` (p-values in the titles).
    ax : array of Axes, optional
        One per quantity.
    note : str
        Source note under the figure.
    """
    from arviz_stats.ecdf_utils import ecdf_pit  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    fig, axes = _grid(ax, len(N.SBC_QUANTITIES))
    for a, var in zip(axes, N.SBC_QUANTITIES):
        u = table[f"{var}_u"].to_numpy(float)
        x, ecdf, lo, hi = ecdf_pit(u, BAND_PROB, 1000, rng=np.random.default_rng(BAND_SEED))
        a.fill_between(x, lo - x, hi - x, step="post", color=BAND_COLOR, lw=0)
        a.step(x, ecdf - x, where="post", color=OKABE_ITO["blue"], lw=1.4)
        a.axhline(0, color="#777777", lw=0.7)
        p = summary.loc[var, "uniformity_p"]
        _panel(a, f"{_SHORT[var]}\nuniformity p = {p:.3f}", OKABE_ITO["vermillion"] if p < 0.05 else "black")
    handles = [
        Line2D([], [], color=OKABE_ITO["blue"], lw=1.4, label="ECDF of ranks − uniform CDF"),
        Patch(color=BAND_COLOR, label="95% simultaneous band\nunder calibration"),
    ]
    key = "A curve leaving the band: the fit is\nmiscalibrated for that quantity. Above\nzero, the truth tends to sit low in the\nposterior (it overestimates); below, high.\nOrange titles: uniformity p < 0.05."
    _complete(
        fig, axes, "ECDF − uniform", handles, key, f"Simulation-based calibration: {len(table)} simulated ledgers", note
    )
    return fig, axes


def plot_sbc_ranks(table, bins: int = 10, ax=None, note: str = ""):
    """Histogram of each quantity's fractional ranks in ``bins`` bins, with the pointwise 95% band."""
    fig, axes = _grid(ax, len(N.SBC_QUANTITIES))
    n = len(table)
    lo, hi = binom.ppf([(1 - BAND_PROB) / 2, (1 + BAND_PROB) / 2], n, 1 / bins)
    edges = np.linspace(0, 1, bins + 1)
    for a, var in zip(axes, N.SBC_QUANTITIES):
        a.axhspan(lo, hi, color=BAND_COLOR, lw=0)
        a.hist(table[f"{var}_u"].to_numpy(float), bins=edges, color=OKABE_ITO["sky_blue"], edgecolor="white")
        # The band's edges and the expected count are drawn over the bars, so they stay visible.
        for y, style in ((lo, "--"), (hi, "--"), (n / bins, "-")):
            a.axhline(y, color="#555555", lw=0.8, ls=style)
        _panel(a, _SHORT[var])
    handles = [
        Patch(color=OKABE_ITO["sky_blue"], label="simulations per rank bin"),
        Line2D([], [], color="#555555", lw=0.8, label="expected count"),
        Patch(facecolor=BAND_COLOR, edgecolor="#555555", ls="--", label="95% pointwise band\nunder calibration"),
    ]
    key = "Calibrated: bars level, inside the band\n(about 1 bar in 20 outside by chance).\nA U shape: posteriors too narrow;\na hump: too wide; a slope: biased."
    _complete(fig, axes, "simulations", handles, key, f"SBC rank histograms: {n} simulated ledgers, {bins} bins", note)
    return fig, axes


def plot_reference_comparison(table, ax=None, note: str = "", z: float = 4.0):
    r"""Each MCMC quantile against the importance-sampling reference, on the probability scale.

    A row per quantity and level :math:`p` (the table of
    :func:`estimator.validation.compare_with_reference`): a dot at
    :math:`\hat F_{ref}(\hat q_p) - p`, with a bar of ``z`` standard errors
    either side. Agreement puts every bar across zero; a row that does not
    agree is drawn in vermillion.
    """
    n = len(table)
    fig, ax = new_axes(ax, 1, figsize=(8, 1.8 + 0.32 * n))
    ax.axvline(0, color="#333333", lw=0.8)
    for i, (_, r) in enumerate(table.iterrows()):
        col = OKABE_ITO["blue"] if r["agrees"] else OKABE_ITO["vermillion"]
        gap = r["ref_cdf_at_mcmc"] - r["p"]
        ax.errorbar([gap], [i], xerr=[[z * r["se"]], [z * r["se"]]], fmt="o", color=col, ms=5, capsize=3, lw=1.4)
    labels = [f"{_SHORT.get(r['quantity'], r['quantity'])}, {100 * r['p']:g}% quantile" for _, r in table.iterrows()]
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel("reference probability below the MCMC quantile, minus its level p")
    ax.spines[["top", "right"]].set_visible(False)
    sub = f"Bars: {z:g} standard errors of both Monte Carlo estimates; vermillion rows do not agree."
    finish(fig, "Does the sampler match an importance-sampling reference?", note, sub, ax)
    return fig, ax


def plot_claim_scores(
    scores, ax=None, note: str = "", title: str = "Where each claim falls in its posterior predictive"
):
    r"""Each claim's position in its predictive distribution, on the probability scale.

    A point claim is a dot at :math:`F(\text{figure})`; a bound or range is a
    bar over :math:`[F(a), F(b)]`. Shaded: the central 50% and 90%
    predictive intervals. The right margin gives ``p_figure`` and, for
    forecasts, how many months past the fitted ones the claim reaches.
    """
    n = len(scores)
    fig, ax = new_axes(ax, 1, figsize=(10, 2.4 + 0.38 * n))
    ax.axvspan(0.05, 0.95, color="#e8e8e8", lw=0)
    ax.axvspan(0.25, 0.75, color="#cfcfcf", lw=0)
    for i, (_, r) in enumerate(scores.iterrows()):
        a, b = r["pit_low"], r["pit_high"]
        surprising = r["p_figure"] < SURPRISE_P
        col = OKABE_ITO["vermillion"] if surprising else OKABE_ITO["blue"]
        if r["low"] == r["high"]:
            ax.plot([a], [i], "o", color=col, ms=6)
        else:
            ax.plot([a, b], [i, i], color=col, lw=2.2, marker="|", ms=9, mew=1.8, solid_capstyle="butt")
    labels = [
        f"{cid}  ({QUANTITY_LABELS.get(r['quantity'], r['quantity'])}, {r['qualifier'].replace('_', ' ')})"
        for cid, r in scores.iterrows()
    ]
    ax.set_yticks(range(n), labels, fontsize=7.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior predictive probability below the claim's figure, F(figure)")
    ax.spines[["top", "right"]].set_visible(False)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    texts = [
        f"p = {r['p_figure']:.2f}" + (f", +{r['months_extrapolated']} mo" if r["months_extrapolated"] else "")
        for _, r in scores.iterrows()
    ]
    right.set_yticks(range(n), texts, fontsize=7.5)
    for label, p in zip(right.get_yticklabels(), scores["p_figure"]):
        label.set_color(OKABE_ITO["vermillion"] if p < SURPRISE_P else "#333333")
    right.tick_params(axis="y", length=0)
    right.spines[["top", "right", "left"]].set_visible(False)
    handles = [
        Patch(color="#cfcfcf", label="central 50% predictive"),
        Patch(color="#e8e8e8", label="central 90% predictive"),
        Line2D([], [], ls="none", marker="o", color=OKABE_ITO["blue"], label="point figure"),
        Line2D([], [], color=OKABE_ITO["blue"], lw=2.2, marker="|", ms=8, label="bound or range the wording allows"),
        Line2D([], [], color=OKABE_ITO["vermillion"], lw=2.2, label=f"p < {SURPRISE_P:g} (surprising)"),
    ]
    # Anchored a fixed distance under the x label, whatever the number of claims.
    below_xlabel = transforms.offset_copy(ax.transAxes, fig=fig, y=-34, units="points")
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=below_xlabel,
        ncol=3,
        fontsize=7.5,
        frameon=False,
    )
    last_fitted = scores.attrs.get("last_fitted_month")
    sub = P_FIGURE_MEANING
    if last_fitted and scores["months_extrapolated"].any():
        sub += f"\nFitted months end {last_fitted}; '+k mo' marks a forecast k months past them (the rate dynamics continued)."
    finish(fig, title, note, sub, ax)
    return fig, ax
