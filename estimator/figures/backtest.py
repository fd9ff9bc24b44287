"""Figures of a backtest: what we believed when, and the calibration of the forecasts.

Compute, then draw: both take the tables :func:`estimator.backtest.run_backtest`
returns, accept ``ax=None`` and return ``(fig, axes)``; neither fits nor saves.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from estimator import claims as C
from estimator import names as N
from estimator.figures.containers import QUALIFIER_MARKERS
from estimator.figures.style import OKABE_ITO, finish, new_axes

__all__ = ["plot_backtest_beliefs", "plot_backtest_pit", "BACKTEST_FIGURES"]

BACKTEST_FIGURES = ("backtest_beliefs", "backtest_pit")
_PANELS = (
    (N.CONTAINERS, C.CONTAINERS, "containers shipped"),
    (N.SHELLS_152MM, C.SHELLS_152MM, "152mm shells delivered"),
    (N.MISSILES_DELIVERED, C.MISSILES_DELIVERED, "ballistic missiles delivered"),
)


def _scale(values) -> tuple[float, str]:
    top = float(np.nanmax(values)) if len(values) else 1.0
    if top >= 2e6:
        return 1e6, " (millions)"
    if top >= 2e4:
        return 1e3, " (thousands)"
    return 1.0, ""


def plot_backtest_beliefs(
    beliefs: pd.DataFrame, claims: pd.DataFrame, *, note: str = "", title_suffix: str = "", ax=None
):
    """Headline quantities as of each vintage, as believed then, with the claims overlaid.

    Each panel shows, against the vintage date, the posterior median and the
    50% / 90% intervals of a quantity *as of that date* given only the claims
    known then, and every count claim of the same quantity at the date it
    was said (its figure; marker by qualifier, as in the containers figure).
    Missiles launched are drawn with the delivered ones: they bound them from
    below.
    """
    fig, axes = new_axes(ax, n=len(_PANELS), figsize=(13, 4.6))
    when = pd.to_datetime(beliefs["vintage"])
    for a, (var, quantity, label) in zip(axes, _PANELS):
        cols = [f"{var}_q{p}" for p in ("05", "25", "50", "75", "95")]
        rows = claims[
            (claims["kind"] == C.COUNT)
            & claims["quantity"].isin([quantity] + ([C.MISSILES_LAUNCHED] if quantity == C.MISSILES_DELIVERED else []))
        ]
        scale, unit = _scale(np.r_[beliefs[cols[-1]].to_numpy(float), rows["figure"].to_numpy(float)])
        q = beliefs[cols].to_numpy(float) / scale
        a.fill_between(
            when, q[:, 0], q[:, 4], color=OKABE_ITO["blue"], alpha=0.15, lw=0, label="90% interval", step="post"
        )
        a.fill_between(
            when, q[:, 1], q[:, 3], color=OKABE_ITO["blue"], alpha=0.3, lw=0, label="50% interval", step="post"
        )
        a.step(when, q[:, 2], where="post", color=OKABE_ITO["blue"], lw=1.8, label="median, as believed at the vintage")
        # The axis shows the estimates and the claims' figures; a range reaching far above
        # them (a "hundreds" coded up to 1,000) is cut at the top and marked as continuing.
        top = 1.15 * max(np.nanmax(q[:, 4]), float(np.nanmax(rows["figure"])) / scale if len(rows) else 0.0)
        for _, r in rows.iterrows():
            marker = QUALIFIER_MARKERS.get(r["qualifier"], "o")
            colour = OKABE_ITO["vermillion"] if r["quantity"] != C.MISSILES_LAUNCHED else OKABE_ITO["reddish_purple"]
            x = pd.Timestamp(r["date_said"])
            if r["qualifier"] == C.BETWEEN:
                hi = r["figure_high"] / scale
                a.vlines(x, r["figure"] / scale, min(hi, top), color=colour, lw=2.5)
                if hi > top:
                    a.annotate(
                        f"to {hi * scale:,.0f}",
                        (x, top),
                        xytext=(0, -2),
                        textcoords="offset points",
                        ha="center",
                        va="top",
                        fontsize=7,
                        color=colour,
                    )
            else:
                a.plot(
                    [x],
                    [r["figure"] / scale],
                    marker=marker,
                    ms=10 if marker.startswith("$") else 7,
                    color=colour,
                    ls="none",
                )
        a.set_title(label, loc="left", fontsize=10)
        a.set_ylabel(f"{label}{unit}")
        a.set_xlabel("vintage: date of what was known")
        a.set_ylim(0, top)
        a.grid(alpha=0.3)
        a.tick_params(axis="x", labelrotation=30)
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [
        plt.Line2D([], [], marker="o", color=OKABE_ITO["vermillion"], ls="none"),
        plt.Line2D([], [], marker="o", color=OKABE_ITO["reddish_purple"], ls="none"),
    ]
    labels += [
        "a claim of the quantity, at the date said (arrow: 'more than'; bar: a range)",
        "missiles launched (a lower bound on delivered)",
    ]
    finish(fig, f"What we believed when: headline estimates at each vintage{title_suffix}", note)
    # The key sits in a strip of its own between the panels and the source note.
    fig.get_layout_engine().set(rect=(0, 0.13, 1, 0.87))
    fig.legend(handles, labels, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 0.035), ncol=3, frameon=False)
    return fig, axes


def plot_backtest_pit(scores: pd.DataFrame, *, bins: int = 10, note: str = "", ax=None):
    """Histogram of the PIT of later claims under the model, with the prior baseline's outline.

    Calibrated forecasts give a flat histogram; the grey band is where 90% of
    the bins of a uniform sample of the same size fall (binomial). A U shape
    means forecasts too narrow, a hump too wide, a slope biased.
    """
    fig, a = new_axes(ax, n=1, figsize=(7, 4.4))
    n = int(scores["pit"].notna().sum())
    edges = np.linspace(0, 1, bins + 1)
    lo, hi = stats.binom.ppf([0.05, 0.95], n, 1 / bins) / max(n, 1) * bins
    a.axhspan(lo, hi, color="#cccccc", alpha=0.5, lw=0, label="90% range of a uniform sample")
    a.hist(
        scores["pit"].dropna(),
        bins=edges,
        density=True,
        color=OKABE_ITO["blue"],
        alpha=0.8,
        label=f"model ({n} vintage-claim pairs)",
    )
    if "prior_pit" in scores:
        a.hist(
            scores["prior_pit"].dropna(),
            bins=edges,
            density=True,
            histtype="step",
            lw=1.8,
            color=OKABE_ITO["orange"],
            label="prior only (no claims)",
        )
    a.axhline(1.0, color="#333333", lw=0.8, ls="--")
    # The band's edges over the bars, so they stay visible.
    for y in (lo, hi):
        a.axhline(y, color="#555555", lw=0.8, ls=":")
    a.set_xlim(0, 1)
    a.set_ylim(0, 1.3 * a.get_ylim()[1])
    a.set_xlabel("PIT of the later claim's figure (randomised within a bound or range)")
    a.set_ylabel("density")
    a.legend(fontsize=8, loc="upper right")
    sub = "Pairs share claims across vintages, so the band (for independent PITs) is a guide, not a test."
    finish(fig, "Calibration of forecasts: PIT of later claims", note, sub, a)
    return fig, a
