r"""Containers shipped over time, with every claim at its date (figure ``containers_over_time``).

:func:`containers_over_time` gives cumulative containers :math:`C(t)` (median,
50% and 90% bands) for the modelled total and as each family that counts
containers would report it, :math:`\beta_f C(t)`; :func:`claim_marks` places
every claim at the end of the period it counts; :func:`plot_containers_over_time`
draws both. Rates are constant within a month, so :math:`C(t)` is exactly
linear between month edges.
"""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.lines import Line2D

from estimator import claims as C
from estimator import names as N
from estimator.figures.common import BANDS, CLAIM_GID, QUANTITY_LABELS, as_of, claim_text, samples, source_note
from estimator.figures.style import OKABE_ITO, family_colors, finish, number_axis
from estimator.stats import quantile

# A label this close to the axes' left end (in days) is written right of its mark.
EARLY_LABEL_DAYS = 150
LABEL_GAP_DAYS = 200

__all__ = [
    "TOTAL",
    "ARROW_UP",
    "QUALIFIER_MARKERS",
    "CAPACITY_MARKER",
    "QUALIFIER_LEGEND",
    "CONTAINER_PANEL",
    "OTHER_PANEL",
    "cumulative_draws",
    "containers_over_time",
    "claim_marks",
    "plot_containers_over_time",
]

TOTAL = "total"  # scope of the modelled total in containers_over_time
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
# The model cannot turn these into containers (missiles travel outside the
# container count) or only through several uncertain factors, so claims about
# them sit in a strip under the container curve instead of on it.
CONTAINER_PANEL = "containers"
OTHER_PANEL = "other units"


def cumulative_draws(result, scope: str, dates) -> np.ndarray:
    """Cumulative containers at ``dates`` per posterior draw, shape (sample, date).

    Rates are constant within a month, so the curve is exactly linear between
    month edges and interpolation between edges is exact.
    """
    post = result.posterior
    cum = samples(post, N.CONTAINERS_CUMULATIVE).transpose("sample", N.MONTH_EDGE)
    edges = np.array([np.datetime64(e, "D") for e in post[N.MONTH_EDGE].values]).astype(float)
    t = np.array([np.datetime64(d, "D") for d in dates]).astype(float)
    t = np.clip(t, edges[0], edges[-1])
    i = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    frac = (t - edges[i]) / (edges[i + 1] - edges[i])
    v = cum.values
    out = v[:, i] + frac * (v[:, i + 1] - v[:, i])
    if scope != TOTAL:
        out = out * samples(post, N.FAMILY_BIAS).sel({N.FAMILY: scope}).values[:, None]
    return out


def container_families(claims: pd.DataFrame) -> list[str]:
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
    edges = list(pd.to_datetime(post[N.MONTH_EDGE].values).date)
    last = min(edges[-1], max([*result.claims["period_end"], as_of(result)]) + dt.timedelta(days=7))
    dates = [edges[0] + dt.timedelta(days=k) for k in range((last - edges[0]).days + 1)]
    labels = {
        TOTAL: "Modelled total",
        **{f: f"As {result.priors.family_label(f)} counts" for f in container_families(result.claims)},
    }
    frames = []
    for scope, label in labels.items():
        q = quantile(cumulative_draws(result, scope, dates), BANDS, axis=0)
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.to_datetime(dates),
                    "scope": scope,
                    "label": label,
                    "q05": q[0],
                    "q25": q[1],
                    "q50": q[2],
                    "q75": q[3],
                    "q95": q[4],
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df.attrs.update(
        as_of=as_of(result),
        start=dt.date.fromisoformat(result.priors.start_date),
        families=result.family_labels,
        note=source_note(result),
    )
    return df


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
            lift = float(np.median(cumulative_draws(result, row["source_family"], [row["period_start"]])))
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
                "text": claim_text(row),
            }
        )
    df = pd.DataFrame(rows).set_index(N.CLAIM)
    # Marks at the same date and place would hide each other: spread them sideways.
    slot = df["y"].astype(object).where(df["panel"] == CONTAINER_PANEL, df["quantity"])
    groups = df.assign(slot=slot).groupby(["date", "panel", "slot"])
    dodge, size = groups.cumcount(), groups["slot"].transform("size")
    df["date"] = df["date"] + pd.to_timedelta((dodge - (size - 1) / 2) * 5, unit="D")
    return df


def draw_mark(ax, x, y, y_high, marker, color, gid, on_scale=True):
    """Draw one claim; its main artist carries the gid ``claim:<id>``.

    On a value axis (``on_scale``) "more than" is an arrow starting at the
    figure, and "between" a bar over the range; on the strip, where height
    only separates quantities, each is a single glyph.
    """
    if marker == "_" and on_scale and np.isfinite(y_high):
        (art,) = ax.plot([x, x], [y, y_high], color=color, lw=2.5, marker="_", ms=10, mew=2.5)
    elif marker == ARROW_UP and on_scale:
        (art,) = ax.plot([x], [y], ls="none", marker="_", ms=10, mew=2.5, color=color)
        ax.annotate(
            "",
            xy=(x, y),
            xytext=(0, 20),
            textcoords="offset points",
            arrowprops={"arrowstyle": "<|-", "color": color, "lw": 2},
            zorder=5,
        )
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
        fig, (ax, strip) = plt.subplots(
            2, 1, figsize=(11, 6.6), sharex=True, height_ratios=(4, 1.25), layout="constrained"
        )
    else:
        fig = ax.figure
        strip = ax.inset_axes((0, -0.42, 1, 0.25), sharex=ax)
    families = curves.attrs["families"]
    colors = {TOTAL: OKABE_ITO["black"], **family_colors(families)}

    _draw_curves(ax, strip, curves, colors)
    _draw_container_claims(ax, marks, colors, curves.attrs["start"])
    _draw_other_claims(strip, marks, colors)
    _add_legends(ax, curves, marks, colors, families)
    finish(fig, "Containers shipped from North Korea to Russia, and what each source said", curves.attrs["note"])
    return fig, ax


def _draw_curves(ax, strip, curves: pd.DataFrame, colors: dict) -> None:
    """Each scope's median and 50%/90% bands, and the as-of line on both panels."""
    for scope, c in curves.groupby("scope", sort=False):
        col = colors[scope]
        ax.fill_between(c["date"], c["q05"], c["q95"], color=col, alpha=0.08, lw=0)
        ax.fill_between(c["date"], c["q25"], c["q75"], color=col, alpha=0.18, lw=0)
        ax.plot(c["date"], c["q50"], color=col, lw=2 if scope == TOTAL else 1.4, ls="-" if scope == TOTAL else "--")
    as_of = pd.Timestamp(curves.attrs["as_of"])
    for a in (ax, strip):
        a.axvline(as_of, color="#777777", lw=0.8, ls=":")
    ax.annotate(
        f"as of {as_of:%d %b %Y}",
        (as_of, 1),
        xycoords=("data", "axes fraction"),
        xytext=(-3, -3),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=8,
        color="#555555",
    )


def _draw_container_claims(ax, marks: pd.DataFrame, colors: dict, start) -> None:
    """The claims counted in containers, on the curves' scale; the axis they share."""
    on = marks[marks["panel"] == CONTAINER_PANEL]
    for cid, m in on.iterrows():
        col = colors[m["family"]]
        draw_mark(ax, m["date"], m["y"], m["y_high"], m["marker"], col, cid)
        if m["lift"] > 0:
            # Show where the figure sits before the lift, so the adjustment is visible.
            ax.plot([m["date"], m["date"]], [m["y"] - m["lift"], m["y"]], color=col, lw=0.8, ls=":")
            ax.plot([m["date"]], [m["y"] - m["lift"]], ls="none", marker="o", ms=3, color=col)
    ax.set_ylabel(f"Containers shipped since {start.day} {start:%b %Y} (cumulative)")
    number_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_other_claims(strip, marks: pd.DataFrame, colors: dict) -> None:
    """The strip of claims in other units, one row a quantity, labelled while labels have room."""
    other = marks[marks["panel"] == OTHER_PANEL]
    rows = list(dict.fromkeys(other["quantity"]))
    # A row's marks are labelled only while their labels have room: over a long record a
    # label within LABEL_GAP_DAYS of the row's previous one would overprint it.
    last_label: dict[str, pd.Timestamp] = {}
    for cid, m in other.sort_values("date").iterrows():
        y = rows.index(m["quantity"])
        col = colors[m["family"]]
        draw_mark(strip, m["date"], y, np.nan, m["marker"], col, cid, on_scale=False)
        prev = last_label.get(m["quantity"])
        if prev is None or (pd.Timestamp(m["date"]) - prev).days > LABEL_GAP_DAYS:
            # A label goes left of its mark, unless the mark is so early that it would run off the axes.
            early = mdates.date2num(pd.Timestamp(m["date"])) - strip.get_xlim()[0] < EARLY_LABEL_DAYS
            side = {"xytext": (7, 0), "ha": "left"} if early else {"xytext": (-7, 0), "ha": "right"}
            strip.annotate(
                m["text"], (m["date"], y), textcoords="offset points", va="center", fontsize=7.5, color=col, **side
            )
            last_label[m["quantity"]] = pd.Timestamp(m["date"])
    strip.set_yticks(range(len(rows)), [QUANTITY_LABELS[q] for q in rows], fontsize=8)
    strip.set_ylim(-0.6, len(rows) - 0.4)
    strip.invert_yaxis()
    strip.set_title(
        "Claims in other units (not convertible to containers on this axis)", fontsize=8.5, loc="left", color="#444444"
    )
    strip.spines[["top", "right", "left"]].set_visible(False)
    strip.tick_params(axis="y", length=0)
    # Monthly ticks while they fit; quarters over a longer record.
    months = (strip.get_xlim()[1] - strip.get_xlim()[0]) / 30.4
    strip.xaxis.set_major_locator(mdates.MonthLocator() if months <= 14 else mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    strip.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    strip.set_xlabel("Date the claim's count runs to")


def _add_legends(ax, curves: pd.DataFrame, marks: pd.DataFrame, colors: dict, families: dict) -> None:
    """Scopes and sources inside the panel; the claims' wording beside it."""
    scope_handles = [
        Line2D([], [], color=colors[s], lw=2 if s == TOTAL else 1.4, ls="-" if s == TOTAL else "--", label=lab)
        for s, lab in curves.drop_duplicates("scope").set_index("scope")["label"].items()
    ]
    fam_handles = [
        Line2D([], [], ls="none", marker="s", ms=8, color=colors[f], label=f"{families[f]} claim")
        for f in dict.fromkeys(marks["family"])
    ]
    leg = ax.legend(
        handles=scope_handles + fam_handles,
        loc="upper left",
        fontsize=8,
        frameon=False,
        title="Median, 50% and 90% bands; claims by source",
        title_fontsize=8,
    )
    ax.add_artist(leg)
    # A "between" claim is a vertical bar on the curve, so its legend glyph is one too.
    shape_handles = [
        Line2D(
            [],
            [],
            ls="none",
            marker="|" if mk == "_" else mk,
            ms=10 if mk in ("_", ARROW_UP) else 7,
            mew=2 if mk in ("_", ARROW_UP) else 1,
            color="#333333",
            mfc="white" if mk == CAPACITY_MARKER else "#333333",
            label=text,
        )
        for mk, text in QUALIFIER_LEGEND.items()
        if mk in set(marks["marker"])
    ]
    if (marks["lift"] > 0).any():
        shape_handles.append(
            Line2D(
                [],
                [],
                color="#333333",
                lw=0.8,
                ls=":",
                marker="o",
                ms=3,
                label="counted from a later start: raised by\nthe modelled count before that start\n(small dot: the figure as said)",
            )
        )
    ax.legend(
        handles=shape_handles,
        loc="lower left",
        bbox_to_anchor=(1.01, 0),
        fontsize=8,
        frameon=False,
        title="Claim wording",
        title_fontsize=8,
        alignment="left",
    )
