r"""Each source family's multiplicative bias :math:`\beta_f`, prior against posterior (figure ``family_bias``).

Families are drawn from a population, :math:`\log \beta_f = \mu_\beta +
s_\beta \epsilon_f`; the last row is that population itself, the bias of a
family not yet seen, :math:`\exp(\mu_\beta + s_\beta z)` with
:math:`z \sim N(0, 1)` drawn once per draw (fixed seed), so its spread shows
how far the scopes of the families could differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import ticker
from matplotlib.lines import Line2D

from estimator import names as N
from estimator.figures.common import BANDS, POSTERIOR, PRIOR, samples, source_note
from estimator.figures.style import PRIOR_COLOR, family_colors, finish, new_axes, ratio_axis
from estimator.stats import quantile

__all__ = ["family_bias", "plot_family_bias", "POPULATION"]

POPULATION = "population"  # the row of a family not yet seen
POPULATION_SEED = 7


def family_bias(result, prior: xr.Dataset) -> pd.DataFrame:
    """Quantiles of each family's multiplicative bias, prior and posterior.

    Returns
    -------
    DataFrame
        Columns ``family``, ``label``, ``source``, ``n_claims``, ``q05``,
        ``q25``, ``q50``, ``q75``, ``q95``.
    """
    counts = result.claims["source_family"].value_counts()
    rows = []
    for source, ds in ((PRIOR, prior), (POSTERIOR, result.posterior)):
        b = samples(ds, N.FAMILY_BIAS)
        for fam in b[N.FAMILY].values:
            q = quantile(b.sel({N.FAMILY: fam}).values, BANDS)
            rows.append(
                {
                    "family": str(fam),
                    "label": result.priors.family_label(str(fam)),
                    "source": source,
                    "n_claims": int(counts.get(str(fam), 0)),
                    **dict(zip(("q05", "q25", "q50", "q75", "q95"), q)),
                }
            )
        if N.FAMILY_LOG_BIAS_MEAN in ds:
            mu, spread = samples(ds, N.FAMILY_LOG_BIAS_MEAN).values, samples(ds, N.FAMILY_LOG_BIAS_SPREAD).values
            z = np.random.default_rng(POPULATION_SEED).standard_normal(mu.shape)
            q = quantile(np.exp(mu + spread * z), BANDS)
            rows.append(
                {
                    "family": POPULATION,
                    "label": "A family not yet seen\n(the population)",
                    "source": source,
                    "n_claims": 0,
                    **dict(zip(("q05", "q25", "q50", "q75", "q95"), q)),
                }
            )
    df = pd.DataFrame(rows)
    df.attrs.update(
        families={**result.family_labels, POPULATION: "A family not yet seen\n(the population)"},
        note=source_note(result),
    )
    return df


def plot_family_bias(data: pd.DataFrame, ax=None):
    """Forest plot of each family's bias: prior (grey) and posterior (colour).

    Parameters
    ----------
    data : DataFrame
        From :func:`family_bias`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    fams = list(dict.fromkeys(data["family"]))
    fig, ax = new_axes(ax, 1, figsize=(9, 1.9 + 0.75 * len(fams)))
    colors = {**family_colors([f for f in data.attrs["families"] if f != POPULATION]), POPULATION: "#333333"}
    for i, fam in enumerate(fams):
        for source, dy, col in ((PRIOR, 0.18, PRIOR_COLOR), (POSTERIOR, -0.08, colors[fam])):
            r = data[(data["family"] == fam) & (data["source"] == source)].iloc[0]
            ax.plot([r["q05"], r["q95"]], [i - dy] * 2, color=col, lw=1.5)
            ax.plot(
                [r["q25"], r["q75"]],
                [i - dy] * 2,
                color=col,
                lw=5 if source == POSTERIOR else 3.5,
                solid_capstyle="butt",
            )
            ax.plot(
                [r["q50"]], [i - dy], ls="none", marker="o", ms=7 if source == POSTERIOR else 5, color=col, mec="white"
            )
            if source == POSTERIOR:
                ax.annotate(
                    f"median {r['q50']:.2f}×",
                    (r["q95"], i - dy),
                    xytext=(5, 0),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    fontsize=8,
                    color=col,
                )
    counts = data.drop_duplicates("family").set_index("family")["n_claims"]
    ax.set_yticks(
        range(len(fams)),
        [
            data.attrs["families"][f]
            if f == POPULATION
            else f"{data.attrs['families'][f]}\n({counts[f]} claim{'s' if counts[f] != 1 else ''})"
            for f in fams
        ],
        fontsize=9,
    )
    ax.set_ylim(len(fams) - 0.2, -0.6)
    ax.set_xscale("log")
    # Room right of the widest interval for the median labels.
    ax.set_xlim(data["q05"].min() * 0.95, data["q95"].max() * 1.3)
    ax.xaxis.set_major_locator(ticker.FixedLocator([0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4]))
    ratio_axis(ax.xaxis)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.axvline(1, color="#555555", lw=0.9, ls=":")
    ax.annotate(
        "counts more than the modelled total →",
        (1, 0),
        xycoords=("data", "axes fraction"),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=8,
        color="#555555",
        va="bottom",
    )
    ax.annotate(
        "← counts less",
        (1, 0),
        xycoords=("data", "axes fraction"),
        xytext=(-4, 4),
        textcoords="offset points",
        fontsize=8,
        color="#555555",
        va="bottom",
        ha="right",
    )
    ax.set_xlabel("Multiplicative bias: what the family reports ÷ the modelled quantity (log scale)")
    ax.grid(axis="x", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(
        handles=[
            Line2D([], [], color=PRIOR_COLOR, lw=3.5, marker="o", ms=5, label="prior"),
            Line2D([], [], color="#333333", lw=5, marker="o", ms=7, label="posterior"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=8,
        frameon=False,
        title="median, 50% (thick)\nand 90% (thin) intervals",
        title_fontsize=8,
        alignment="left",
    )
    finish(
        fig,
        "Which scope counts more? Each source family's multiplicative bias",
        data.attrs["note"],
        "Families are drawn from one population: a family with few claims is pulled toward it (last row: a family not yet seen)",
        ax,
    )
    return fig, ax
