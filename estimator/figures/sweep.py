"""A headline quantity across the points of a sweep (:mod:`estimator.sweeps`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estimator import names as N
from estimator.figures.style import finish, new_axes, number_axis, palette_color

__all__ = ["plot_sweep"]


def plot_sweep(table: pd.DataFrame, quantity: str = N.VALUE_USD, grid_keys=None, ax=None):
    """Median and 90% interval of ``quantity`` at every sweep point.

    With a grid, the first swept setting runs along the x axis and each value
    of the second gets its own colour; otherwise points are listed in order.
    Points whose sampler missed a threshold (or failed) are ringed in black.
    """
    fig, ax = new_axes(ax, figsize=(9, 5.2))
    keys = list(grid_keys or [])
    x_key = keys[0] if keys else "point"
    groups = [(None, table)] if len(keys) < 2 else list(table.groupby(keys[1], sort=False))
    x_labels = list(dict.fromkeys(table[x_key].astype(str)))
    n = max(len(groups), 1)
    for i, (name, g) in enumerate(groups):
        color = palette_color(i)
        xs = np.array([x_labels.index(str(v)) for v in g[x_key]]) + (i - (n - 1) / 2) * 0.12
        med, lo, hi = g[f"{quantity}_median"], g[f"{quantity}_q05"], g[f"{quantity}_q95"]
        ax.errorbar(
            xs,
            med,
            yerr=[med - lo, hi - med],
            fmt="o-",
            color=color,
            capsize=3,
            label=None if name is None else f"{keys[1]}: {name}",
        )
        bad = ~(g["diagnostics_ok"].astype(bool)) | (g["status"] != "ok")
        if bad.any():
            ax.scatter(
                xs[bad.to_numpy()],
                med[bad],
                s=140,
                facecolors="none",
                edgecolors="black",
                linewidths=1.5,
                zorder=5,
                label="sampler missed a threshold" if i == 0 else None,
            )
    ax.set_xticks(range(len(x_labels)), x_labels)
    ax.set_xlabel(f"prior setting: {x_key}" if keys else "sweep point")
    ax.set_yscale("log")
    number_axis(ax.yaxis, money=quantity in N.MONEY_QUANTITIES, minor=True)
    ax.set_ylabel(N.LABELS.get(quantity, quantity).strip() + " (median, 90% interval; log scale)")
    ax.grid(axis="y", color="#dddddd")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8)
    methods = ", ".join(f"{m}: {c}" for m, c in table["method"].value_counts().items()) if "method" in table else ""
    finish(
        fig,
        f"{N.LABELS.get(quantity, quantity).strip()} across the sweep",
        f"Source: estimator sweep of {len(table)} points ({methods}).",
        ax=ax,
    )
    return fig, ax
