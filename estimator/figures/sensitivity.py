"""Figures of the sensitivity analysis: a tornado of claim influence and variance-share bars.

Each ``plot_*`` function takes a table from :mod:`estimator.sensitivity`,
accepts ``ax=None`` and returns ``(fig, ax)``; it never fits and never saves.
"""

from __future__ import annotations

import numpy as np

from estimator import names as N
from estimator.figures.style import OKABE_ITO, PRIOR_COLOR, add_note, new_axes

__all__ = ["plot_influence_tornado", "plot_variance_shares"]

_QUANTITY_COLOURS = dict(
    zip(N.INFLUENCE_QUANTITIES, (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"]))
)
_SHORT = {N.SHELLS_152MM: "152mm shells", N.CONTAINERS: "containers", N.VALUE_USD: "value (USD)"}
_METHOD_MARK = {N.PSIS: "", N.REFIT: " [refit]", N.FLAT: " [flat]"}


def plot_influence_tornado(influence, ax=None, source: str = ""):
    """Tornado: per left-out claim or family, the % shift of each headline median.

    Parameters
    ----------
    influence : DataFrame
        From :func:`estimator.sensitivity.influence_table`.
    ax : matplotlib Axes, optional
    source : str
        Source line printed under the figure (e.g. the run's input hash).

    Returns
    -------
    (Figure, Axes)

    Notes
    -----
    Rows are sorted by the largest absolute shift (largest on top). Labels
    carry the method ("[refit]"; PSIS unmarked); a hatched bar is a PSIS
    estimate whose k-hat exceeded its threshold (unreliable).
    """
    quantities = [q for q in N.INFLUENCE_QUANTITIES if q in set(influence["quantity"])]
    wide = influence.pivot_table(index=["level", "left_out"], columns="quantity", values="shift_median_pct", sort=False)
    order = wide.abs().max(axis=1).sort_values().index
    meta = influence.drop_duplicates(["level", "left_out"]).set_index(["level", "left_out"])
    fig, ax = new_axes(ax, figsize=(9, 0.42 * len(order) + 2.2))
    height = 0.8 / len(quantities)
    y = np.arange(len(order))
    for j, q in enumerate(quantities):
        vals = wide.loc[order, q].to_numpy()
        reliable = meta.loc[order, "reliable"].to_numpy(bool)
        offset = (j - (len(quantities) - 1) / 2) * height
        ax.barh(y + offset, vals, height, color=_QUANTITY_COLOURS.get(q, PRIOR_COLOR), label=_SHORT.get(q, q))
        if not reliable.all():
            ax.barh(
                (y + offset)[~reliable],
                vals[~reliable],
                height,
                color="none",
                edgecolor="black",
                hatch="///",
                linewidth=0,
            )
    labels = []
    for level, name in order:
        method = meta.loc[(level, name), "method"]
        shown = meta.loc[(level, name), "label"] if "label" in meta.columns else name
        prefix = "all claims of " if level == "family" else ""
        labels.append(f"{prefix}{shown}{_METHOD_MARK.get(method, '')}")
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Shift of the posterior median when left out (% of the full-ledger median)")
    ax.set_title("What the estimate hinges on: each claim and source family left out in turn")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(title="Headline quantity", loc="lower right", fontsize=8, title_fontsize=8)
    note = "Pareto-smoothed importance sampling unless marked [refit] (exact refit where k-hat was too high); hatched: PSIS with k-hat above its threshold."
    add_note(fig, f"{note}\n{source}".strip(), bottom=0.05)
    return fig, ax


def plot_variance_shares(shares, ax=None, source: str = ""):
    """Horizontal bars: share of the posterior variance of value due to each factor.

    Parameters
    ----------
    shares : DataFrame
        From :func:`estimator.sensitivity.value_variance_shares` (column ``share``).
    ax : matplotlib Axes, optional
    source : str
        Source line printed under the figure.

    Returns
    -------
    (Figure, Axes)
    """
    fig, ax = new_axes(ax, figsize=(8, 3.8))
    factors = [f for f in shares.index if f != N.REMAINDER]
    vals = shares.loc[factors, "share"].to_numpy() * 100
    palette = [OKABE_ITO[c] for c in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue")]
    names = [*factors, N.REMAINDER]
    values = [*vals, shares.loc[N.REMAINDER, "share"] * 100]
    colours = [*palette[: len(factors)], PRIOR_COLOR]
    y = np.arange(len(names))[::-1]
    ax.barh(y, values, color=colours)
    for yi, v in zip(y, values):
        ax.text(max(v, 0) + 1, yi, f"{v:.0f}%", va="center", fontsize=9)
    ax.set_yticks(y, names, fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(min(0, min(values)) - 2, max(100, max(values) + 8))
    ax.set_xlabel("Share of the posterior variance of the value of deliveries (%)")
    ax.set_title("What the uncertainty in value comes from (first-order variance shares)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    note = "First-order index Var(E[value | factor]) / Var(value), by quadratic regression on posterior draws; shares overlap when factors are dependent."
    add_note(fig, f"{note}\n{source}".strip(), bottom=0.08)
    return fig, ax
