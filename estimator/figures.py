r"""The standard figures of a run: compute tidy data, then draw it.

Each figure has a compute step that turns a :class:`~estimator.FitResult`
(and, where a prior is shown, prior draws) into a tidy ``pandas.DataFrame``,
and a ``plot_*`` function that draws that table. Plot functions accept
``ax=None`` (a new figure) or the Axes to draw on and return ``(fig, ax)``;
they never fit and never save: only the command line writes files.

1. :func:`containers_over_time` / :func:`plot_containers_over_time`:
   cumulative containers :math:`C(t)` (median, 50% and 90% bands) for the
   modelled total and as each family that counts containers would report it,
   :math:`\beta_f C(t)`, with every claim at the end of the period it counts.
2. :func:`delivered_densities` / :func:`plot_delivered`: 152mm shells and all
   artillery rounds delivered by the as-of date, prior against posterior.
3. :func:`value_densities` / :func:`plot_value`: implied value and its parts.
4. :func:`load_densities` / :func:`plot_loads`: 152mm shells per container
   (with the weight limit :math:`P / m_{152}`) and the cargo mix.
5. :func:`claim_checks` / :func:`plot_claim_checks`: each claim against the
   posterior predictive of the source's estimate (:mod:`estimator.summaries`).
6. :func:`family_biases` / :func:`plot_family_biases`: each family's
   multiplicative bias :math:`\beta_f`, prior against posterior.

Prior curves are draws from the model's own prior with a fixed seed
(:func:`estimator.prior_draws.sample_prior`, re-exported here).

Densities are Gaussian kernel estimates (Scott's rule); quantities spanning
orders of magnitude are estimated and drawn on a log10 scale. Colours are the
Okabe–Ito palette (Okabe & Ito 2008), readable with the common colour-vision
deficiencies.
"""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import dates as mdates
from matplotlib import ticker, transforms
from matplotlib.lines import Line2D
from scipy.stats import gaussian_kde

from estimator import claims as C
from estimator import names as N
from estimator.formatting import fmt_number
from estimator.prior_draws import PRIOR_DRAWS, PRIOR_SEED, sample_prior
from estimator.stats import QUANTILES, SURPRISE_P, quantile
from estimator.summaries import claim_check_table

__all__ = [
    "FIGURES",
    "OKABE_ITO",
    "PRIOR_SEED",
    "PRIOR_DRAWS",
    "sample_prior",
    "source_note",
    "family_colors",
    "containers_over_time",
    "claim_marks",
    "plot_containers_over_time",
    "delivered_densities",
    "plot_delivered",
    "value_densities",
    "plot_value",
    "load_densities",
    "plot_loads",
    "claim_checks",
    "plot_claim_checks",
    "family_biases",
    "plot_family_biases",
    "standard_figures",
]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Families take these in the order the prior file declares them; yellow comes
# last because thin yellow lines vanish on white.
_FAMILY_PALETTE = ("blue", "vermillion", "bluish_green", "reddish_purple", "orange", "sky_blue", "yellow")
PRIOR_COLOR = "#999999"
TOTAL = "total"  # scope of the modelled total in containers_over_time
PRIOR, POSTERIOR = "prior", "posterior"
BANDS = (0.05, 0.25, 0.5, 0.75, 0.95)  # median, and the 50% and 90% bands

# Claim marks by qualifier; capacity conversions get one mark of their own.
ARROW_UP = r"$\uparrow$"
QUALIFIER_MARKERS = {
    C.ABOUT: "o",
    C.MORE_THAN: ARROW_UP,
    C.AT_LEAST: ARROW_UP,
    C.UP_TO: "v",
    C.BETWEEN: "_",
    C.COULD_HOLD: "D",
}
CAPACITY_MARKER = "D"
QUALIFIER_LEGEND = {
    "o": '"about" (a point)',
    ARROW_UP: '"more than" / "at least" (arrow from the figure)',
    "v": '"up to"',
    "_": '"between" (bar spans the range)',
    CAPACITY_MARKER: 'capacity conversion ("could hold")',
}
QUALIFIER_SYMBOL = {C.ABOUT: "≈", C.MORE_THAN: ">", C.AT_LEAST: "≥", C.UP_TO: "≤", C.COULD_HOLD: "≤"}
QUANTITY_LABELS = {
    C.CONTAINERS: "containers",
    C.SHELLS_152MM: "152mm shells",
    C.ROUNDS_122MM: "122mm rounds",
    C.ARTILLERY_ROUNDS: "artillery rounds",
    C.MISSILES_DELIVERED: "missiles delivered",
    C.MISSILES_LAUNCHED: "missiles launched",
    C.VALUE_USD: "value (USD)",
}
# The model cannot turn these into containers (missiles travel outside the
# container count) or only through several uncertain factors, so claims about
# them sit in a strip under the container curve instead of on it.
CONTAINER_PANEL = "containers"
OTHER_PANEL = "other units"

# Figure names (file stems) in the order the report shows them.
FIGURES = (
    "containers_over_time",
    "delivered_152mm",
    "value",
    "loads_and_mix",
    "claim_check",
    "family_bias",
)
CLAIM_GID = "claim:"  # gid prefix of the artist drawing each claim


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _samples(ds: xr.Dataset, var: str) -> xr.DataArray:
    """A variable with chain and draw stacked into one ``sample`` dimension."""
    da = ds[var]
    return da.stack(sample=[d for d in ("chain", "draw") if d in da.dims])


def _as_of(result) -> dt.date:
    from estimator.model import DEFAULT_AS_OF

    return dt.date.fromisoformat(str(result.manifest.get("as_of", DEFAULT_AS_OF)))


def source_note(result) -> str:
    """One-line source note: the claims behind the run and the run's identity."""
    cl = result.claims
    first, last = min(cl["date_said"]), max(cl["date_said"])
    m = result.manifest
    return (
        f"Source: {len(cl)} public claims ({first:%d %b %Y} – {last:%d %b %Y}) reconciled by a Bayesian model; "
        f"estimator {m.get('versions', {}).get('estimator', '?')}, {m.get('chains')} chains × {m.get('draws')} draws, "
        f"seed {m.get('seed')}, input hash {m.get('input_hash')}."
    )


def family_colors(families) -> dict[str, str]:
    """Colour of each source family, in the order given (Okabe–Ito)."""
    return {f: OKABE_ITO[_FAMILY_PALETTE[i % len(_FAMILY_PALETTE)]] for i, f in enumerate(families)}


def _new_axes(ax, n=1, **kwargs):
    """Return (fig, axes) for ``ax=None`` (a new figure) or the Axes given."""
    if ax is None:
        fig, axes = plt.subplots(1, n, layout="constrained", **kwargs)
        return fig, axes
    axes = np.atleast_1d(ax)
    if axes.size != n:
        raise ValueError(f"this figure draws on {n} Axes; got {axes.size}")
    return axes.flat[0].figure, (axes.flat[0] if n == 1 else axes)


def _finish(fig, title: str, note: str, subtitle: str | None = None, ax=None) -> None:
    """Title on top, an optional subtitle over ``ax``, the source note at the bottom-left."""
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    if subtitle:
        # An Axes title (not a second suptitle line) so it can be lighter and the layout makes room.
        ax.set_title(subtitle, loc="left", fontsize=9.5, color="#444444")
    fig.text(0.01, 0.005, note, fontsize=7, color="#555555", ha="left", va="bottom")
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0, 0.035, 1, 0.965))


def _kde(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        return np.zeros_like(grid)
    return gaussian_kde(x)(grid)


def _density_rows(draws: dict[tuple[str, str], np.ndarray], log: bool, n: int = 256, bounds=None) -> pd.DataFrame:
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
            rows.append(pd.DataFrame({"variable": var, "source": s, "x": 10**grid if log else grid, "density": _kde(t, grid)}))
    return pd.concat(rows, ignore_index=True)


def _log_axis(ax, money: bool = False, subs=(1.0, 2.0, 5.0)) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _short(v, money)))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_yticks([])
    ax.set_ylim(bottom=0)
    ax.spines[["top", "right", "left"]].set_visible(False)


def _short(v: float, money: bool = False) -> str:
    """Compact number for ticks and labels: 2 M, 1.5 bn, 6,700."""
    return fmt_number(v, money=money, mathtext=True)


# ---------------------------------------------------------------------------
# 1. Cumulative containers over time, with every claim
# ---------------------------------------------------------------------------


def _cumulative_draws(result, scope: str, dates) -> np.ndarray:
    """Cumulative containers at ``dates`` per posterior draw, shape (sample, date).

    Rates are constant within a month, so the curve is exactly linear between
    month edges and interpolation between edges is exact.
    """
    post = result.posterior
    cum = _samples(post, N.CONTAINERS_CUMULATIVE).transpose("sample", N.MONTH_EDGE)
    edges = np.array([np.datetime64(e, "D") for e in post[N.MONTH_EDGE].values]).astype(float)
    t = np.array([np.datetime64(d, "D") for d in dates]).astype(float)
    t = np.clip(t, edges[0], edges[-1])
    i = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    frac = (t - edges[i]) / (edges[i + 1] - edges[i])
    v = cum.values
    out = v[:, i] + frac * (v[:, i + 1] - v[:, i])
    if scope != TOTAL:
        out = out * _samples(post, N.FAMILY_BIAS).sel({N.FAMILY: scope}).values[:, None]
    return out


def _container_families(claims: pd.DataFrame) -> list[str]:
    """Families that count containers (their scope gets its own curve)."""
    return list(dict.fromkeys(claims.loc[claims["quantity"] == C.CONTAINERS, "source_family"]))


def containers_over_time(result) -> pd.DataFrame:
    """Cumulative containers per day: median, 50% and 90% intervals per reporting scope.

    Parameters
    ----------
    result : FitResult

    Returns
    -------
    DataFrame
        Columns ``date``, ``scope`` (``"total"`` or a family), ``label``,
        ``q05``, ``q25``, ``q50``, ``q75``, ``q95``. ``attrs`` hold ``as_of``,
        ``families`` (family -> label, in the prior file's order) and ``note``.
    """
    post = result.posterior
    edges = [dt.date.fromisoformat(str(e)) for e in post[N.MONTH_EDGE].values]
    last = min(edges[-1], max([*result.claims["period_end"], _as_of(result)]) + dt.timedelta(days=7))
    dates = [edges[0] + dt.timedelta(days=k) for k in range((last - edges[0]).days + 1)]
    labels = {TOTAL: "Modelled total", **{f: f"As {result.priors.families[f]} counts" for f in _container_families(result.claims)}}
    frames = []
    for scope, label in labels.items():
        q = quantile(_cumulative_draws(result, scope, dates), BANDS, axis=0)
        frames.append(pd.DataFrame({"date": pd.to_datetime(dates), "scope": scope, "label": label, "q05": q[0], "q25": q[1], "q50": q[2], "q75": q[3], "q95": q[4]}))
    df = pd.concat(frames, ignore_index=True)
    df.attrs.update(
        as_of=_as_of(result), start=dt.date.fromisoformat(result.priors.start_date), families=dict(result.priors.families), note=source_note(result)
    )
    return df


def _claim_text(row) -> str:
    q, lo, hi = row["qualifier"], row["figure"], row["figure_high"]
    money = row["quantity"] == C.VALUE_USD
    what = QUANTITY_LABELS[row["quantity"]]
    if row["kind"] == C.CAPACITY:
        amount = f"{_short(lo)}–{_short(hi)}" if q == C.BETWEEN else f"{QUALIFIER_SYMBOL[q]} {_short(lo)}"
        return f"{_short(row['basis_containers'])} containers could hold {amount} {what}"
    if q == C.BETWEEN:
        amount = f"{_short(lo, money)}–{_short(hi, money)}"
    else:
        amount = f"{QUALIFIER_SYMBOL[q]} {_short(lo, money)}"
    return amount if money else f"{amount} {what}"


def claim_marks(result) -> pd.DataFrame:
    """Where each claim goes on the containers-over-time figure.

    Container counts and capacity conversions (at the container count they
    convert) go on the container panel, at the end of the period they count. A
    claim counting from a later date than the model's start is lifted by the
    posterior median of its family's cumulative count before that date, so it
    compares with the cumulative curve. Other quantities go on a strip below.

    Returns
    -------
    DataFrame
        One row per claim (index: claim id) with ``date``, ``panel``, ``y``,
        ``y_high`` (for ``between``), ``lift``, ``marker``, ``family``,
        ``quantity``, ``qualifier``, ``kind`` and ``text``.
    """
    start = dt.date.fromisoformat(result.priors.start_date)
    rows = []
    for cid, row in result.claims.iterrows():
        capacity = row["kind"] == C.CAPACITY
        on_curve = capacity or row["quantity"] == C.CONTAINERS
        lift = 0.0
        if on_curve and row["period_start"] is not None and row["period_start"] > start:
            lift = float(np.median(_cumulative_draws(result, row["source_family"], [row["period_start"]])))
        if capacity:
            y, y_high = row["basis_containers"], np.nan
        else:
            y, y_high = row["figure"], (row["figure_high"] if row["qualifier"] == C.BETWEEN else np.nan)
        rows.append(
            {
                N.CLAIM: cid,
                "date": pd.Timestamp(row["period_end"]),
                "panel": CONTAINER_PANEL if on_curve else OTHER_PANEL,
                "y": y + lift if on_curve else np.nan,
                "y_high": y_high + lift if on_curve else np.nan,
                "lift": lift,
                "marker": CAPACITY_MARKER if capacity else QUALIFIER_MARKERS[row["qualifier"]],
                "family": row["source_family"],
                "quantity": row["quantity"],
                "qualifier": row["qualifier"],
                "kind": row["kind"],
                "text": _claim_text(row),
            }
        )
    df = pd.DataFrame(rows).set_index(N.CLAIM)
    # Marks at the same date and place would hide each other: spread them sideways.
    slot = df["y"].astype(object).where(df["panel"] == CONTAINER_PANEL, df["quantity"])
    groups = df.assign(slot=slot).groupby(["date", "panel", "slot"])
    dodge, size = groups.cumcount(), groups["slot"].transform("size")
    df["date"] = df["date"] + pd.to_timedelta((dodge - (size - 1) / 2) * 5, unit="D")
    return df


def _draw_mark(ax, x, y, y_high, marker, color, gid, on_scale=True):
    """Draw one claim; its main artist carries the gid ``claim:<id>``.

    On a value axis (``on_scale``) "more than" is an arrow starting at the
    figure, and "between" a bar over the range; on the strip, where height
    only separates quantities, each is a single glyph.
    """
    if marker == "_" and on_scale and np.isfinite(y_high):
        (art,) = ax.plot([x, x], [y, y_high], color=color, lw=2.5, marker="_", ms=10, mew=2.5)
    elif marker == ARROW_UP and on_scale:
        (art,) = ax.plot([x], [y], ls="none", marker="_", ms=10, mew=2.5, color=color)
        ax.annotate("", xy=(x, y), xytext=(0, 20), textcoords="offset points", arrowprops={"arrowstyle": "<|-", "color": color, "lw": 2}, zorder=5)
    elif marker == CAPACITY_MARKER:
        (art,) = ax.plot([x], [y], ls="none", marker=marker, ms=8, mfc="white", mec=color, mew=2)
    elif marker in ("_", "|", ARROW_UP):
        (art,) = ax.plot([x], [y], ls="none", marker="|" if marker == "_" else marker, ms=12, mew=2.5, color=color)
    else:
        (art,) = ax.plot([x], [y], ls="none", marker=marker, ms=8, color=color, mec="white", mew=0.8)
    art.set_gid(f"{CLAIM_GID}{gid}")
    art.set_zorder(5)
    return art


def plot_containers_over_time(curves: pd.DataFrame, marks: pd.DataFrame, ax=None):
    """Cumulative containers per scope with every claim at its date.

    Parameters
    ----------
    curves : DataFrame
        From :func:`containers_over_time`.
    marks : DataFrame
        From :func:`claim_marks`.
    ax : matplotlib Axes, optional
        Draw the curves here; the strip of claims in other units is added
        below it. ``None`` makes a new figure.

    Returns
    -------
    (Figure, Axes)
        The container panel; the strip is the figure's other Axes.
    """
    if ax is None:
        fig, (ax, strip) = plt.subplots(2, 1, figsize=(11, 6.6), sharex=True, height_ratios=(4, 1.25), layout="constrained")
    else:
        fig = ax.figure
        strip = ax.inset_axes((0, -0.42, 1, 0.25), sharex=ax)
    families = curves.attrs["families"]
    colors = {TOTAL: OKABE_ITO["black"], **family_colors(families)}

    for scope, c in curves.groupby("scope", sort=False):
        col = colors[scope]
        ax.fill_between(c["date"], c["q05"], c["q95"], color=col, alpha=0.08, lw=0)
        ax.fill_between(c["date"], c["q25"], c["q75"], color=col, alpha=0.18, lw=0)
        ax.plot(c["date"], c["q50"], color=col, lw=2 if scope == TOTAL else 1.4, ls="-" if scope == TOTAL else "--")
    as_of = pd.Timestamp(curves.attrs["as_of"])
    for a in (ax, strip):
        a.axvline(as_of, color="#777777", lw=0.8, ls=":")
    ax.annotate(f"as of {as_of:%d %b %Y}", (as_of, 1), xycoords=("data", "axes fraction"), xytext=(-3, -3), textcoords="offset points", ha="right", va="top", fontsize=8, color="#555555")

    on = marks[marks["panel"] == CONTAINER_PANEL]
    for cid, m in on.iterrows():
        col = colors[m["family"]]
        _draw_mark(ax, m["date"], m["y"], m["y_high"], m["marker"], col, cid)
        if m["lift"] > 0:
            # Show where the figure sits before the lift, so the adjustment is visible.
            ax.plot([m["date"], m["date"]], [m["y"] - m["lift"], m["y"]], color=col, lw=0.8, ls=":")
            ax.plot([m["date"]], [m["y"] - m["lift"]], ls="none", marker="o", ms=3, color=col)
    start = curves.attrs["start"]
    ax.set_ylabel(f"Containers shipped since {start.day} {start:%b %Y} (cumulative)")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)

    other = marks[marks["panel"] == OTHER_PANEL]
    rows = list(dict.fromkeys(other["quantity"]))
    for cid, m in other.iterrows():
        y = rows.index(m["quantity"])
        col = colors[m["family"]]
        _draw_mark(strip, m["date"], y, np.nan, m["marker"], col, cid, on_scale=False)
        strip.annotate(m["text"], (m["date"], y), xytext=(-7, 0), textcoords="offset points", ha="right", va="center", fontsize=7.5, color=col)
    strip.set_yticks(range(len(rows)), [QUANTITY_LABELS[q] for q in rows], fontsize=8)
    strip.set_ylim(-0.6, len(rows) - 0.4)
    strip.invert_yaxis()
    strip.set_title("Claims in other units (not convertible to containers on this axis)", fontsize=8.5, loc="left", color="#444444")
    strip.spines[["top", "right", "left"]].set_visible(False)
    strip.tick_params(axis="y", length=0)
    strip.xaxis.set_major_locator(mdates.MonthLocator())
    strip.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    strip.set_xlabel("Date the claim's count runs to")

    scope_handles = [
        Line2D([], [], color=colors[s], lw=2 if s == TOTAL else 1.4, ls="-" if s == TOTAL else "--", label=lab)
        for s, lab in curves.drop_duplicates("scope").set_index("scope")["label"].items()
    ]
    fam_handles = [Line2D([], [], ls="none", marker="s", ms=8, color=colors[f], label=f"{families[f]} claim") for f in dict.fromkeys(marks["family"])]
    leg = ax.legend(handles=scope_handles + fam_handles, loc="upper left", fontsize=8, frameon=False, title="Median, 50% and 90% bands; claims by source", title_fontsize=8)
    ax.add_artist(leg)
    # A "between" claim is a vertical bar on the curve, so its legend glyph is one too.
    shape_handles = [
        Line2D([], [], ls="none", marker="|" if mk == "_" else mk, ms=10 if mk in ("_", ARROW_UP) else 7, mew=2 if mk in ("_", ARROW_UP) else 1, color="#333333", mfc="white" if mk == CAPACITY_MARKER else "#333333", label=text)
        for mk, text in QUALIFIER_LEGEND.items()
        if mk in set(marks["marker"])
    ]
    if (marks["lift"] > 0).any():
        shape_handles.append(Line2D([], [], color="#333333", lw=0.8, ls=":", marker="o", ms=3, label="counted from a later start: raised by\nthe modelled count before that start\n(small dot: the figure as said)"))
    ax.legend(handles=shape_handles, loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8, frameon=False, title="Claim wording", title_fontsize=8, alignment="left")
    _finish(fig, "Containers shipped from North Korea to Russia, and what each source said", curves.attrs["note"])
    return fig, ax


# ---------------------------------------------------------------------------
# 2-4. Densities: delivered shells, value, per-container loads and cargo mix
# ---------------------------------------------------------------------------


def delivered_densities(result, prior: xr.Dataset, threshold: float = N.SHELLS_THRESHOLD) -> pd.DataFrame:
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
            x = _samples(ds, var).values
            draws[(var, source)] = x
            p_above[(var, source)] = float(np.mean(x > threshold))
    df = _density_rows(draws, log=True)
    df.attrs.update(threshold=threshold, p_above=p_above, as_of=_as_of(result), note=source_note(result))
    return df


def _prior_posterior(ax, d: pd.DataFrame, color: str, label: str | None = None):
    pr, po = d[d["source"] == PRIOR], d[d["source"] == POSTERIOR]
    ax.plot(pr["x"], pr["density"], color=PRIOR_COLOR, ls="--", lw=1.4, label="prior" if label is None else None)
    ax.fill_between(po["x"], po["density"], color=color, alpha=0.25, lw=0)
    ax.plot(po["x"], po["density"], color=color, lw=2, label=label or "posterior")


def plot_delivered(data: pd.DataFrame, ax=None):
    """Prior against posterior of 152mm shells and of all artillery rounds delivered.

    Parameters
    ----------
    data : DataFrame
        From :func:`delivered_densities`.
    ax : sequence of two Axes, optional

    Returns
    -------
    (Figure, ndarray of Axes)
    """
    fig, axes = _new_axes(ax, 2, figsize=(10, 4.6), sharey=False)
    thr = data.attrs["threshold"]
    for a, var in zip(axes, (N.SHELLS_152MM, N.ARTILLERY_ROUNDS)):
        d = data[data["variable"] == var]
        _prior_posterior(a, d, OKABE_ITO["blue"])
        _log_axis(a)
        # Headroom so the threshold label never sits on the posterior peak.
        a.set_ylim(0, 1.3 * d["density"].max())
        a.axvline(thr, color=OKABE_ITO["vermillion"], lw=1.5)
        a.annotate(
            f"intelligence estimate:\n> {_short(thr)} 152mm shells",
            (thr, 1), xycoords=("data", "axes fraction"), xytext=(4, -2), textcoords="offset points", va="top", fontsize=8, color=OKABE_ITO["vermillion"],
        )
        p = data.attrs["p_above"]
        a.text(
            0.02, 0.97,
            f"P(> {_short(thr)})\nposterior {p[(var, POSTERIOR)]:.2f}\nprior {p[(var, PRIOR)]:.2f}",
            transform=a.transAxes, va="top", fontsize=9.5, fontweight="bold",
        )
        a.set_xlabel(f"{N.LABELS[var]} (log scale)")
        a.legend(loc="center left", bbox_to_anchor=(0, 0.55), fontsize=8, frameon=False)
    axes[0].set_ylabel("density")
    _finish(
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


def value_densities(result) -> pd.DataFrame:
    """Posterior densities of the value delivered and its parts (log10 scale).

    Returns
    -------
    DataFrame
        Columns ``variable``, ``source``, ``x``, ``density``; ``attrs`` hold
        ``median`` per variable, ``basis`` (valuation basis), ``as_of``, ``note``.
    """
    draws = {(v, POSTERIOR): _samples(result.posterior, v).values for v in VALUE_PARTS}
    df = _density_rows(draws, log=True)
    df.attrs.update(
        median={v: float(np.median(x)) for (v, _), x in draws.items()},
        basis=result.priors.valuation_basis,
        as_of=_as_of(result),
        note=source_note(result),
    )
    return df


def plot_value(data: pd.DataFrame, ax=None):
    """Posterior density of the implied value and of its parts.

    Parameters
    ----------
    data : DataFrame
        From :func:`value_densities`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    fig, ax = _new_axes(ax, 1, figsize=(9, 4.8))
    for var in VALUE_PARTS:
        d = data[data["variable"] == var]
        col = VALUE_COLORS[var]
        med = data.attrs["median"][var]
        lw = 2.4 if var == N.VALUE_USD else 1.6
        ax.plot(d["x"], d["density"], color=col, lw=lw, label=f"{VALUE_LABELS[var]}: median {_short(med, money=True)}")
        ax.fill_between(d["x"], d["density"], color=col, alpha=0.12, lw=0)
    _log_axis(ax, money=True, subs=(1.0, 3.0))
    ax.set_xlabel("US dollars (log scale)")
    ax.set_ylabel("posterior density")
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    _finish(
        fig,
        f"Implied value of deliveries by {data.attrs['as_of']:%d %B %Y}, and its parts",
        data.attrs["note"],
        f"Valuation basis: {data.attrs['basis']}",
        ax,
    )
    return fig, ax


MIX_COLORS = dict(zip(N.CARGO_TYPES, (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"])))


def load_densities(result, prior: xr.Dataset) -> pd.DataFrame:
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
    loads = _density_rows({(k, s): _samples(ds, k).values for s, ds in ((PRIOR, prior), (POSTERIOR, result.posterior))}, log=False, bounds=(0, np.inf))
    mix = {}
    for cargo in N.CARGO_TYPES:
        for s, ds in ((PRIOR, prior), (POSTERIOR, result.posterior)):
            mix[(f"{N.CARGO_MIX}[{cargo}]", s)] = _samples(ds, N.CARGO_MIX).sel({N.CARGO: cargo}).values
    df = pd.concat([loads, _density_rows(mix, log=False, bounds=(0, 1))], ignore_index=True)
    cl = result.claims
    cap = cl[(cl["kind"] == C.CAPACITY) & (cl["quantity"] == C.SHELLS_152MM)]
    kmax = _samples(result.posterior, N.MAX_SHELLS_PER_CONTAINER_152MM).values
    df.attrs.update(
        max_q=tuple(quantile(kmax, QUANTILES)),
        conversions={cid: (r["low"], r["high"]) for cid, r in cap.iterrows()},
        note=source_note(result),
    )
    return df


def plot_loads(data: pd.DataFrame, ax=None):
    """152mm shells per container (with the weight limit) and the cargo mix, prior vs posterior.

    Parameters
    ----------
    data : DataFrame
        From :func:`load_densities`.
    ax : sequence of two Axes, optional

    Returns
    -------
    (Figure, ndarray of Axes)
    """
    fig, axes = _new_axes(ax, 2, figsize=(10, 4.6), width_ratios=(1.15, 1))
    a = axes[0]
    _prior_posterior(a, data[data["variable"] == N.SHELLS_PER_CONTAINER_152MM], OKABE_ITO["blue"])
    lo, med, hi = data.attrs["max_q"]
    a.axvspan(lo, hi, color=OKABE_ITO["vermillion"], alpha=0.10, lw=0)
    a.axvline(med, color=OKABE_ITO["vermillion"], lw=1.5, label=f"weight limit (payload ÷ shell mass):\nmedian {med:,.0f}, 90% {lo:,.0f}–{hi:,.0f}")
    for i, (cid, (low, high)) in enumerate(data.attrs["conversions"].items()):
        # Staggered heights: conversions overlap on the axis.
        y = 0.04 + 0.07 * i
        a.plot([low, high] if high > low else [low], [y] * (2 if high > low else 1), transform=a.get_xaxis_transform(), color="#333333", lw=2.5, marker="D", ms=5, mfc="white", label="capacity conversions (stated per container)" if i == 0 else None)
        a.annotate(cid, (low, y), xycoords=("data", "axes fraction"), xytext=(-6, 0), textcoords="offset points", ha="right", va="center", fontsize=7, color="#333333")
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
        b.plot(d.loc[d["source"] == POSTERIOR, "x"], d.loc[d["source"] == POSTERIOR, "density"], color=col, lw=2, label=cargo)
        b.fill_between(d.loc[d["source"] == POSTERIOR, "x"], d.loc[d["source"] == POSTERIOR, "density"], color=col, alpha=0.15, lw=0)
    b.plot([], [], color="#555555", ls="--", lw=1.2, label="prior (dashed)")
    b.set_xlim(0, 1)
    b.xaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    b.set_xlabel("Share of containers by cargo")
    b.set_yticks([])
    b.set_ylim(bottom=0)
    b.spines[["top", "right", "left"]].set_visible(False)
    b.legend(loc="upper right", fontsize=8, frameon=False, title="posterior (solid)", title_fontsize=8)
    _finish(fig, "What a container holds: 152mm shells per container, and the cargo mix", data.attrs["note"], "Prior (dashed) against posterior (solid)", axes[0])
    return fig, axes


# ---------------------------------------------------------------------------
# 5. Per-claim check against the posterior predictive
# ---------------------------------------------------------------------------

# How p_figure reads, by wording; the same words caption the scores of estimator score.
P_FIGURE_MEANING = "p: for a point, the two-sided tail probability; for a bound, P(beyond it); for a range, P(inside)."


def claim_checks(result, seed: int = 0) -> pd.DataFrame:
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
    df["text"] = [_claim_text(r) for _, r in cl.iterrows()]
    df["ref"] = np.where(np.isfinite(df["low"]), df["low"], df["high"])
    for col, src in (("r_low", "low"), ("r_high", "high"), ("r_q05", "pred_q05"), ("r_median", "pred_q50"), ("r_q95", "pred_q95")):
        df[col] = df[src] / df["ref"]
    df.attrs.update(families=dict(result.priors.families), note=source_note(result))
    return df


def plot_claim_checks(data: pd.DataFrame, ax=None):
    """Each claim's figure against its 90% posterior predictive interval.

    Parameters
    ----------
    data : DataFrame
        From :func:`claim_checks`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        The Axes with the intervals; the verdicts are tick labels of its twin.
    """
    n = len(data)
    fig, ax = _new_axes(ax, 1, figsize=(10, 1.8 + 0.42 * n))
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
                ax.annotate("", xy=(hi_d, i), xytext=(-1, 0), textcoords="offset points", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2})
        art.set_gid(f"{CLAIM_GID}{cid}")
    ax.set_yticks(range(n), [f"{cid}\n{t}" for cid, t in zip(data.index, data["text"])], fontsize=7.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.axvline(1, color="#777777", lw=0.8, ls=":")
    ax.set_xlabel("Source's estimate ÷ the figure it gave (log scale; 1× = the figure)")
    ax.grid(axis="x", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)

    # Verdicts as tick labels of a twin axis, so the layout keeps room for them.
    verdicts = ax.twinx()
    texts = [
        (f"figure at percentile {100 * r['pit_low']:.0f}, " if r["low"] == r["high"] else "") + f"p = {r['p_figure']:.2f}"
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
        *[Line2D([], [], color=c, lw=6, alpha=0.55, label=data.attrs["families"][f]) for f, c in colors.items() if f in set(data["family"])],
    ]
    below_xlabel = transforms.offset_copy(ax.transAxes, fig=fig, y=-34, units="points")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below_xlabel, ncol=4, fontsize=7.5, frameon=False)
    _finish(
        fig,
        "Which claims does the model find surprising?",
        data.attrs["note"],
        "What the fitted model predicts each source would say, against the figure it gave.\n"
        f"{P_FIGURE_MEANING} In red: p < {SURPRISE_P:g}.",
        ax,
    )
    return fig, ax


# ---------------------------------------------------------------------------
# 6. Source-family bias
# ---------------------------------------------------------------------------


def family_biases(result, prior: xr.Dataset) -> pd.DataFrame:
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
        b = _samples(ds, N.FAMILY_BIAS)
        for fam in b[N.FAMILY].values:
            q = quantile(b.sel({N.FAMILY: fam}).values, BANDS)
            rows.append({"family": str(fam), "label": result.priors.families[str(fam)], "source": source, "n_claims": int(counts.get(str(fam), 0)), **dict(zip(("q05", "q25", "q50", "q75", "q95"), q))})
    df = pd.DataFrame(rows)
    df.attrs.update(families=dict(result.priors.families), note=source_note(result))
    return df


def plot_family_biases(data: pd.DataFrame, ax=None):
    """Forest plot of each family's bias: prior (grey) and posterior (colour).

    Parameters
    ----------
    data : DataFrame
        From :func:`family_biases`.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    fams = list(dict.fromkeys(data["family"]))
    fig, ax = _new_axes(ax, 1, figsize=(9, 1.9 + 0.75 * len(fams)))
    colors = family_colors(data.attrs["families"])
    for i, fam in enumerate(fams):
        for source, dy, col in ((PRIOR, 0.18, PRIOR_COLOR), (POSTERIOR, -0.08, colors[fam])):
            r = data[(data["family"] == fam) & (data["source"] == source)].iloc[0]
            ax.plot([r["q05"], r["q95"]], [i - dy] * 2, color=col, lw=1.5)
            ax.plot([r["q25"], r["q75"]], [i - dy] * 2, color=col, lw=5 if source == POSTERIOR else 3.5, solid_capstyle="butt")
            ax.plot([r["q50"]], [i - dy], ls="none", marker="o", ms=7 if source == POSTERIOR else 5, color=col, mec="white")
            if source == POSTERIOR:
                ax.annotate(f"median {r['q50']:.2f}×", (r["q95"], i - dy), xytext=(5, 0), textcoords="offset points", ha="left", va="center", fontsize=8, color=col)
    counts = data.drop_duplicates("family").set_index("family")["n_claims"]
    ax.set_yticks(range(len(fams)), [f"{data.attrs['families'][f]}\n({counts[f]} claim{'s' if counts[f] != 1 else ''})" for f in fams], fontsize=9)
    ax.set_ylim(len(fams) - 0.2, -0.6)
    ax.set_xscale("log")
    # Room right of the widest interval for the median labels.
    ax.set_xlim(data["q05"].min() * 0.95, data["q95"].max() * 1.3)
    ax.xaxis.set_major_locator(ticker.FixedLocator([0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4]))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.axvline(1, color="#555555", lw=0.9, ls=":")
    ax.annotate("counts more than the modelled total →", (1, 0), xycoords=("data", "axes fraction"), xytext=(4, 4), textcoords="offset points", fontsize=8, color="#555555", va="bottom")
    ax.annotate("← counts less", (1, 0), xycoords=("data", "axes fraction"), xytext=(-4, 4), textcoords="offset points", fontsize=8, color="#555555", va="bottom", ha="right")
    ax.set_xlabel("Multiplicative bias: what the family reports ÷ the modelled quantity (log scale)")
    ax.grid(axis="x", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(
        handles=[
            Line2D([], [], color=PRIOR_COLOR, lw=3.5, marker="o", ms=5, label="prior"),
            Line2D([], [], color="#333333", lw=5, marker="o", ms=7, label="posterior"),
        ],
        loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, title="median, 50% (thick)\nand 90% (thin) intervals", title_fontsize=8, alignment="left",
    )
    _finish(fig, "Which scope counts more? Each source family's multiplicative bias", data.attrs["note"], "A family with few claims keeps close to its prior: the data cannot tell its scope apart", ax)
    return fig, ax


# ---------------------------------------------------------------------------
# The standard set
# ---------------------------------------------------------------------------


def standard_figures(result, prior: xr.Dataset | None = None) -> dict:
    """All standard figures of a run, drawn but not saved.

    Parameters
    ----------
    result : FitResult
    prior : xarray.Dataset, optional
        Prior draws (:func:`sample_prior`); drawn with the fixed seed when
        omitted.

    Returns
    -------
    dict
        Figure name (:data:`FIGURES`) -> ``(fig, ax)``.
    """
    prior = sample_prior(result) if prior is None else prior
    return {
        "containers_over_time": plot_containers_over_time(containers_over_time(result), claim_marks(result)),
        "delivered_152mm": plot_delivered(delivered_densities(result, prior)),
        "value": plot_value(value_densities(result)),
        "loads_and_mix": plot_loads(load_densities(result, prior)),
        "claim_check": plot_claim_checks(claim_checks(result)),
        "family_bias": plot_family_biases(family_biases(result, prior)),
    }


# ---------------------------------------------------------------------------
# Sweeps: a headline quantity across the swept settings
# ---------------------------------------------------------------------------


def plot_sweep(table: pd.DataFrame, quantity: str = N.VALUE_USD, grid_keys=None, ax=None):
    """Median and 90% interval of ``quantity`` at every sweep point.

    With a grid, the first swept setting runs along the x axis and each value
    of the second gets its own colour; otherwise points are listed in order.
    Points whose sampler missed a threshold (or failed) are ringed in black.
    """
    fig, ax = _new_axes(ax, figsize=(9, 5.2))
    keys = list(grid_keys or [])
    x_key = keys[0] if keys else "point"
    groups = [(None, table)] if len(keys) < 2 else list(table.groupby(keys[1], sort=False))
    x_labels = list(dict.fromkeys(table[x_key].astype(str)))
    n = max(len(groups), 1)
    for i, (name, g) in enumerate(groups):
        color = OKABE_ITO[_FAMILY_PALETTE[i % len(_FAMILY_PALETTE)]]
        xs = np.array([x_labels.index(str(v)) for v in g[x_key]]) + (i - (n - 1) / 2) * 0.12
        med, lo, hi = g[f"{quantity}_median"], g[f"{quantity}_q05"], g[f"{quantity}_q95"]
        ax.errorbar(xs, med, yerr=[med - lo, hi - med], fmt="o-", color=color, capsize=3, label=None if name is None else f"{keys[1]}: {name}")
        bad = ~(g["diagnostics_ok"].astype(bool)) | (g["status"] != "ok")
        if bad.any():
            ax.scatter(xs[bad.to_numpy()], med[bad], s=140, facecolors="none", edgecolors="black", linewidths=1.5, zorder=5,
                       label="sampler missed a threshold" if i == 0 else None)
    ax.set_xticks(range(len(x_labels)), x_labels)
    ax.set_xlabel(f"prior setting: {x_key}" if keys else "sweep point")
    ax.set_yscale("log")
    fmt = ticker.FuncFormatter(lambda v, _: _short(v, money=quantity in N.MONEY_QUANTITIES))
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(fmt)
    ax.set_ylabel(N.LABELS.get(quantity, quantity).strip() + " (median, 90% interval; log scale)")
    ax.grid(axis="y", color="#dddddd")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8)
    methods = ", ".join(f"{m}: {c}" for m, c in table["method"].value_counts().items()) if "method" in table else ""
    _finish(fig, f"{N.LABELS.get(quantity, quantity).strip()} across the sweep", f"Source: estimator sweep of {len(table)} points ({methods}).", ax=ax)
    return fig, ax
