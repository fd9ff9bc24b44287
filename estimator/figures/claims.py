"""Each claim against what the fitted model predicts its source would say (figure ``claim_check``).

:func:`claim_check` extends :func:`estimator.summaries.claim_check_table`, the
claims as ``estimator score`` scores them, with what the figure needs; a claim
is surprising, and drawn in red, when its ``p_figure`` is below
:data:`estimator.stats.SURPRISE_P`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker, transforms
from matplotlib.lines import Line2D

from estimator.figures.common import CLAIM_GID, claim_text, source_note
from estimator.figures.style import OKABE_ITO, family_colors, finish, new_axes, ratio_axis
from estimator.stats import SURPRISE_P
from estimator.summaries import claim_check_table

__all__ = ["P_FIGURE_MEANING", "claim_check", "plot_claim_check"]

# How p_figure reads, by wording; the same words caption the scores of estimator score.
P_FIGURE_MEANING = "p: for a point, the two-sided tail probability; for a bound, P(beyond it); for a range, P(inside)."


def claim_check(result, seed: int = 0) -> pd.DataFrame:
    """Each claim against the posterior predictive of the source's estimate.

    Every figure is divided by the claim's reference figure (its low bound,
    or its high bound for "up to"), so claims in different units share one
    axis: 1 is the figure the source gave.

    Returns
    -------
    DataFrame
        :func:`estimator.summaries.claim_check_table` (its ``p_figure`` and
        ``surprising`` are those of ``estimator score``) plus ``date``,
        ``family``, ``text``, ``ref`` and the ratio columns ``r_low``,
        ``r_high``, ``r_q05``, ``r_median``, ``r_q95``.
    """
    df = claim_check_table(result, seed=seed)
    cl = result.claims.loc[df.index]
    df["date"] = pd.to_datetime(cl["date_said"])
    df["family"] = cl["source_family"]
    df["text"] = [
        claim_text(r) + (f"; restates {r['restates']}" if r.get("restates") else "") for _, r in cl.iterrows()
    ]
    df["ref"] = np.where(np.isfinite(df["low"]), df["low"], df["high"])
    for col, src in (
        ("r_low", "low"),
        ("r_high", "high"),
        ("r_q05", "pred_q05"),
        ("r_median", "pred_q50"),
        ("r_q95", "pred_q95"),
    ):
        df[col] = df[src] / df["ref"]
    df.attrs.update(families=result.family_labels, note=source_note(result))
    return df


def plot_claim_check(data: pd.DataFrame, ax=None):
    """Each claim's figure against its 90% posterior predictive interval.

    Parameters
    ----------
    data : DataFrame
        From :func:`claim_check`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        The Axes with the intervals; the verdicts are tick labels of its twin.
    """
    n = len(data)
    fig, ax = new_axes(ax, 1, figsize=(10, 1.8 + 0.42 * n))
    colors = family_colors(data.attrs["families"])
    finite_hi = data["r_high"].where(np.isfinite(data["r_high"]))
    right = float(np.nanmax([data["r_q95"].max(), finite_hi.max()])) * 1.6
    for i, (cid, r) in enumerate(data.iterrows()):
        col = colors[r["family"]]
        ax.plot([r["r_q05"], r["r_q95"]], [i, i], color=col, lw=6, alpha=0.4, solid_capstyle="butt")
        ax.plot([r["r_median"]], [i], ls="none", marker="|", ms=13, mew=2.2, color=col)
        lo, hi = r["r_low"], r["r_high"]
        if lo == hi:
            art = ax.plot([lo], [i], ls="none", marker="o", ms=7, color="black")[0]
        else:
            lo_d = lo if np.isfinite(lo) else 1 / right
            hi_d = hi if np.isfinite(hi) else right
            art = ax.plot([lo_d, hi_d], [i, i], color="black", lw=1.6, marker="|", ms=9, mew=1.6)[0]
            if not np.isfinite(hi):
                ax.annotate(
                    "",
                    xy=(hi_d, i),
                    xytext=(-1, 0),
                    textcoords="offset points",
                    arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
                )
        art.set_gid(f"{CLAIM_GID}{cid}")
    ax.set_yticks(range(n), [f"{cid}\n{t}" for cid, t in zip(data.index, data["text"])], fontsize=7.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xscale("log")
    # 1-2-5 ticks over a few decades; powers of ten when the claims span more.
    x_lo, x_hi = ax.get_xlim()
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0) if x_hi / x_lo < 1e3 else (1.0,)))
    ratio_axis(ax.xaxis)
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.axvline(1, color="#777777", lw=0.8, ls=":")
    ax.set_xlabel("Source's estimate ÷ the figure it gave (log scale; 1× = the figure)")
    ax.grid(axis="x", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)

    # Verdicts as tick labels of a twin axis, so the layout keeps room for them.
    verdicts = ax.twinx()
    texts = [
        (f"figure at percentile {100 * r['pit_low']:.0f}, " if r["low"] == r["high"] else "")
        + f"p = {r['p_figure']:.2f}"
        for _, r in data.iterrows()
    ]
    verdicts.set_ylim(ax.get_ylim())
    verdicts.set_yticks(range(n), texts, fontsize=8)
    for label, surprising in zip(verdicts.get_yticklabels(), data["surprising"]):
        label.set_color(OKABE_ITO["vermillion"] if surprising else "#333333")
        label.set_fontweight("bold" if surprising else "normal")
    verdicts.tick_params(axis="y", length=0)
    verdicts.spines[["top", "right", "left"]].set_visible(False)

    handles = [
        Line2D([], [], color="#777777", lw=6, alpha=0.4, label="90% posterior predictive"),
        Line2D([], [], ls="none", marker="|", ms=11, mew=2, color="#777777", label="predictive median"),
        Line2D([], [], ls="none", marker="o", ms=6, color="black", label="figure given (point)"),
        Line2D([], [], color="black", lw=1.6, marker="|", ms=8, label="range the wording allows"),
        *[
            Line2D([], [], color=c, lw=6, alpha=0.55, label=data.attrs["families"][f])
            for f, c in colors.items()
            if f in set(data["family"])
        ],
    ]
    below_xlabel = transforms.offset_copy(ax.transAxes, fig=fig, y=-34, units="points")
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=below_xlabel,
        ncol=4,
        fontsize=7.5,
        frameon=False,
    )
    finish(
        fig,
        "Which claims does the model find surprising?",
        data.attrs["note"],
        f"What the fitted model predicts each source would say, against the figure it gave.\n{P_FIGURE_MEANING} In red: p < {SURPRISE_P:g}.",
        ax,
    )
    return fig, ax
