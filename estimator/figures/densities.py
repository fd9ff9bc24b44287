r"""Prior against posterior densities: deliveries, value, and what a container holds.

Three figures, each a compute step and a plot step:

* ``delivered_152mm``: 152mm shells and all artillery rounds delivered by the
  as-of date (:func:`delivered_152mm`, :func:`plot_delivered_152mm`);
* ``value``: the implied value and its parts (:func:`value`, :func:`plot_value`);
* ``loads_and_mix``: 152mm shells per container, with the weight limit
  :math:`P / m_{152}`, and the cargo mix (:func:`loads_and_mix`,
  :func:`plot_loads_and_mix`).

Densities are Gaussian kernel estimates (Scott's rule); quantities spanning
orders of magnitude are estimated and drawn on a log10 scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import ticker
from scipy.stats import gaussian_kde

from estimator import claims as C
from estimator import names as N
from estimator.figures.common import POSTERIOR, PRIOR, as_of, samples, source_note
from estimator.figures.style import OKABE_ITO, PRIOR_COLOR, finish, label_number, log_axis, new_axes
from estimator.stats import QUANTILES, quantile

__all__ = [
    "VALUE_PARTS",
    "VALUE_COLORS",
    "VALUE_LABELS",
    "MIX_COLORS",
    "density_rows",
    "delivered_152mm",
    "plot_delivered_152mm",
    "value",
    "plot_value",
    "loads_and_mix",
    "plot_loads_and_mix",
]


def kde(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        return np.zeros_like(grid)
    return gaussian_kde(x)(grid)


def density_rows(draws: dict[tuple[str, str], np.ndarray], log: bool, n: int = 256, bounds=None) -> pd.DataFrame:
    """Tidy densities on one shared grid per variable.

    ``draws`` maps (variable, source) to draws. With ``log`` the density is of
    log10 of the value (``x`` is still in natural units), so a prior spanning
    orders of magnitude and a narrow posterior stay comparable.
    """
    rows = []
    for var in dict.fromkeys(v for v, _ in draws):
        parts = {s: np.asarray(d, dtype=float).ravel() for (v, s), d in draws.items() if v == var}
        tr = {s: (np.log10(d[d > 0]) if log else d) for s, d in parts.items()}
        pooled = np.concatenate(list(tr.values()))
        lo, hi = quantile(pooled, (0.003, 0.997))
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        if bounds is not None:
            lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
        grid = np.linspace(lo, hi, n)
        for s, t in tr.items():
            rows.append(
                pd.DataFrame({"variable": var, "source": s, "x": 10**grid if log else grid, "density": kde(t, grid)})
            )
    return pd.concat(rows, ignore_index=True)


def delivered_152mm(result, prior: xr.Dataset, threshold: float = N.SHELLS_THRESHOLD) -> pd.DataFrame:
    """Prior and posterior densities of 152mm shells and all artillery rounds delivered.

    Returns
    -------
    DataFrame
        Columns ``variable``, ``source``, ``x``, ``density`` (of log10 x).
        ``attrs``: ``threshold``, ``p_above`` ({(variable, source): P(> threshold)}),
        ``as_of``, ``note``.
    """
    draws, p_above = {}, {}
    for var in (N.SHELLS_152MM, N.ARTILLERY_ROUNDS):
        for source, ds in ((PRIOR, prior), (POSTERIOR, result.posterior)):
            x = samples(ds, var).values
            draws[(var, source)] = x
            p_above[(var, source)] = float(np.mean(x > threshold))
    df = density_rows(draws, log=True)
    df.attrs.update(threshold=threshold, p_above=p_above, as_of=as_of(result), note=source_note(result))
    return df


def prior_posterior(ax, d: pd.DataFrame, color: str, label: str | None = None):
    pr, po = d[d["source"] == PRIOR], d[d["source"] == POSTERIOR]
    ax.plot(pr["x"], pr["density"], color=PRIOR_COLOR, ls="--", lw=1.4, label="prior" if label is None else None)
    ax.fill_between(po["x"], po["density"], color=color, alpha=0.25, lw=0)
    ax.plot(po["x"], po["density"], color=color, lw=2, label=label or "posterior")


def plot_delivered_152mm(data: pd.DataFrame, ax=None):
    """Prior against posterior of 152mm shells and of all artillery rounds delivered.

    Parameters
    ----------
    data : DataFrame
        From :func:`delivered_152mm`.
    ax : sequence of two Axes, optional

    Returns
    -------
    (Figure, ndarray of Axes)
    """
    fig, axes = new_axes(ax, 2, figsize=(10, 4.6), sharey=False)
    thr = data.attrs["threshold"]
    for a, var in zip(axes, (N.SHELLS_152MM, N.ARTILLERY_ROUNDS)):
        d = data[data["variable"] == var]
        prior_posterior(a, d, OKABE_ITO["blue"])
        log_axis(a)
        # Headroom so the threshold label never sits on the posterior peak.
        a.set_ylim(0, 1.3 * d["density"].max())
        a.axvline(thr, color=OKABE_ITO["vermillion"], lw=1.5)
        a.annotate(
            f"intelligence estimate:\n> {label_number(thr)} 152mm shells",
            (thr, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -2),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=OKABE_ITO["vermillion"],
        )
        p = data.attrs["p_above"]
        # Top right: the threshold line and its label sit at the left, where this text was crossed by it.
        a.text(
            0.98,
            0.97,
            f"P(> {label_number(thr)})\nposterior {p[(var, POSTERIOR)]:.2f}\nprior {p[(var, PRIOR)]:.2f}",
            transform=a.transAxes,
            va="top",
            ha="right",
            fontsize=9.5,
            fontweight="bold",
        )
        a.set_xlabel(f"{N.LABELS[var]} (log scale)")
        a.legend(loc="center left", bbox_to_anchor=(0, 0.55), fontsize=8, frameon=False)
    axes[0].set_ylabel("density")
    finish(
        fig,
        f"152mm shells and all artillery rounds delivered by {data.attrs['as_of']:%d %B %Y}",
        data.attrs["note"],
        "Prior (dashed) against posterior (filled); the vertical line is the intelligence estimate of more than 2 million 152mm shells",
        axes[0],
    )
    return fig, axes


VALUE_PARTS = N.MONEY_QUANTITIES
VALUE_COLORS = {
    N.VALUE_USD: OKABE_ITO["black"],
    N.VALUE_152MM_USD: OKABE_ITO["blue"],
    N.VALUE_122MM_USD: OKABE_ITO["orange"],
    N.VALUE_MISSILES_USD: OKABE_ITO["reddish_purple"],
}
VALUE_LABELS = {
    N.VALUE_USD: "total",
    N.VALUE_152MM_USD: "152mm shells",
    N.VALUE_122MM_USD: "122mm rounds",
    N.VALUE_MISSILES_USD: "ballistic missiles",
}


def value(result) -> pd.DataFrame:
    """Posterior densities of the value delivered and its parts (log10 scale).

    Returns
    -------
    DataFrame
        Columns ``variable``, ``source``, ``x``, ``density``; ``attrs`` hold
        ``median`` per variable, ``basis`` (valuation basis), ``as_of``, ``note``.
    """
    draws = {(v, POSTERIOR): samples(result.posterior, v).values for v in VALUE_PARTS}
    df = density_rows(draws, log=True)
    df.attrs.update(
        median={v: float(np.median(x)) for (v, _), x in draws.items()},
        basis=result.priors.valuation_basis,
        as_of=as_of(result),
        note=source_note(result),
    )
    return df


def plot_value(data: pd.DataFrame, ax=None):
    """Posterior density of the implied value and of its parts.

    Parameters
    ----------
    data : DataFrame
        From :func:`value`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    fig, ax = new_axes(ax, 1, figsize=(9, 4.8))
    for var in VALUE_PARTS:
        d = data[data["variable"] == var]
        col = VALUE_COLORS[var]
        med = data.attrs["median"][var]
        lw = 2.4 if var == N.VALUE_USD else 1.6
        ax.plot(
            d["x"], d["density"], color=col, lw=lw, label=f"{VALUE_LABELS[var]}: median {label_number(med, money=True)}"
        )
        ax.fill_between(d["x"], d["density"], color=col, alpha=0.12, lw=0)
    log_axis(ax, money=True, subs=(1.0, 3.0))
    ax.set_xlabel("US dollars (log scale)")
    ax.set_ylabel("posterior density")
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    finish(
        fig,
        f"Implied value of deliveries by {data.attrs['as_of']:%d %B %Y}, and its parts",
        data.attrs["note"],
        f"Valuation basis: {data.attrs['basis']}",
        ax,
    )
    return fig, ax


MIX_COLORS = dict(zip(N.CARGO_TYPES, (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"])))


def loads_and_mix(result, prior: xr.Dataset) -> pd.DataFrame:
    """Prior and posterior of 152mm shells per container and of the cargo mix.

    Returns
    -------
    DataFrame
        Columns ``variable`` (``shells_per_container_152mm`` or
        ``cargo_mix[<type>]``), ``source``, ``x``, ``density``. ``attrs`` hold
        ``max_q`` (5/50/95% posterior of the weight-limited maximum),
        ``conversions`` (stated 152mm shells per container of each capacity
        claim) and ``note``.
    """
    k = N.SHELLS_PER_CONTAINER_152MM
    loads = density_rows(
        {(k, s): samples(ds, k).values for s, ds in ((PRIOR, prior), (POSTERIOR, result.posterior))},
        log=False,
        bounds=(0, np.inf),
    )
    mix = {}
    for cargo in N.CARGO_TYPES:
        for s, ds in ((PRIOR, prior), (POSTERIOR, result.posterior)):
            mix[(f"{N.CARGO_MIX}[{cargo}]", s)] = samples(ds, N.CARGO_MIX).sel({N.CARGO: cargo}).values
    df = pd.concat([loads, density_rows(mix, log=False, bounds=(0, 1))], ignore_index=True)
    cl = result.claims
    cap = cl[(cl["kind"] == C.CAPACITY) & (cl["quantity"] == C.SHELLS_152MM)]
    kmax = samples(result.posterior, N.MAX_SHELLS_PER_CONTAINER_152MM).values
    df.attrs.update(
        max_q=tuple(quantile(kmax, QUANTILES)),
        conversions={cid: (r["low"], r["high"]) for cid, r in cap.iterrows()},
        note=source_note(result),
    )
    return df


def plot_loads_and_mix(data: pd.DataFrame, ax=None):
    """152mm shells per container (with the weight limit) and the cargo mix, prior vs posterior.

    Parameters
    ----------
    data : DataFrame
        From :func:`loads_and_mix`.
    ax : sequence of two Axes, optional

    Returns
    -------
    (Figure, ndarray of Axes)
    """
    fig, axes = new_axes(ax, 2, figsize=(10, 4.6), width_ratios=(1.15, 1))
    a = axes[0]
    prior_posterior(a, data[data["variable"] == N.SHELLS_PER_CONTAINER_152MM], OKABE_ITO["blue"])
    lo, med, hi = data.attrs["max_q"]
    a.axvspan(lo, hi, color=OKABE_ITO["vermillion"], alpha=0.10, lw=0)
    a.axvline(
        med,
        color=OKABE_ITO["vermillion"],
        lw=1.5,
        label=f"weight limit (payload ÷ shell mass):\nmedian {med:,.0f}, 90% {lo:,.0f}–{hi:,.0f}",
    )
    for i, (cid, (low, high)) in enumerate(data.attrs["conversions"].items()):
        # Staggered heights: conversions overlap on the axis.
        y = 0.04 + 0.07 * i
        a.plot(
            [low, high] if high > low else [low],
            [y] * (2 if high > low else 1),
            transform=a.get_xaxis_transform(),
            color="#333333",
            lw=2.5,
            marker="D",
            ms=5,
            mfc="white",
            label="capacity conversions (stated per container)" if i == 0 else None,
        )
        a.annotate(
            cid,
            (low, y),
            xycoords=("data", "axes fraction"),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=7,
            color="#333333",
        )
    a.set_xlabel("152mm shells per container of 152mm shells")
    a.set_ylabel("density")
    a.set_yticks([])
    a.set_ylim(bottom=0)
    a.spines[["top", "right", "left"]].set_visible(False)
    a.legend(loc="upper left", fontsize=7.5, frameon=False)

    b = axes[1]
    for cargo in N.CARGO_TYPES:
        d = data[data["variable"] == f"{N.CARGO_MIX}[{cargo}]"]
        col = MIX_COLORS[cargo]
        b.plot(d.loc[d["source"] == PRIOR, "x"], d.loc[d["source"] == PRIOR, "density"], color=col, ls="--", lw=1.2)
        b.plot(
            d.loc[d["source"] == POSTERIOR, "x"],
            d.loc[d["source"] == POSTERIOR, "density"],
            color=col,
            lw=2,
            label=cargo,
        )
        b.fill_between(
            d.loc[d["source"] == POSTERIOR, "x"],
            d.loc[d["source"] == POSTERIOR, "density"],
            color=col,
            alpha=0.15,
            lw=0,
        )
    b.plot([], [], color="#555555", ls="--", lw=1.2, label="prior (dashed)")
    b.set_xlim(0, 1)
    b.xaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    b.set_xlabel("Share of containers by cargo")
    b.set_yticks([])
    b.set_ylim(bottom=0)
    b.spines[["top", "right", "left"]].set_visible(False)
    b.legend(loc="upper right", fontsize=8, frameon=False, title="posterior (solid)", title_fontsize=8)
    finish(
        fig,
        "What a container holds: 152mm shells per container, and the cargo mix",
        data.attrs["note"],
        "Prior (dashed) against posterior (solid)",
        axes[0],
    )
    return fig, axes
