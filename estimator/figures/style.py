"""How every figure looks: the palette, new Axes, titles and source notes, axes and number labels.

Colours are the Okabe–Ito palette (Okabe & Ito 2008), readable with the common
colour-vision deficiencies; grey marks a prior or a remainder. Numbers on
ticks and labels are :func:`estimator.formatting.fmt_number` in its compact
style, with the dollar sign escaped for matplotlib's mathtext.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from estimator.formatting import fmt_number

__all__ = [
    "OKABE_ITO",
    "PRIOR_COLOR",
    "NOTE_COLOR",
    "fmt_number",
    "label_number",
    "palette_color",
    "family_colors",
    "new_axes",
    "finish",
    "add_note",
    "number_axis",
    "ratio_axis",
    "log_axis",
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
# Okabe-Ito has seven colours besides black (the total's); the default ledger has eight source
# families, so an eighth comes from Paul Tol's muted scheme (also safe for colour-blind readers),
# dark where the others are light. Without it the eighth family repeated the first one's blue.
WINE = "#882255"
# Series (families, sweep settings) take these in order; yellow comes last
# because thin yellow lines vanish on white.
SERIES_ORDER = ("blue", "vermillion", "bluish_green", "reddish_purple", "orange", "sky_blue", "wine", "yellow")
_SERIES_COLORS = {**OKABE_ITO, "wine": WINE}
PRIOR_COLOR = "#999999"  # priors, and what no single factor explains
NOTE_COLOR = "#555555"


def label_number(v: float, money: bool = False) -> str:
    r"""A number for a tick or label: 2 M, \$1.5 bn, 6,700."""
    return fmt_number(v, "compact", money=money, mathtext=True)


def palette_color(i: int) -> str:
    """The ``i``-th colour of a series (wrapping round the palette)."""
    return _SERIES_COLORS[SERIES_ORDER[i % len(SERIES_ORDER)]]


def family_colors(families) -> dict[str, str]:
    """Colour of each source family, in the order given (Okabe–Ito)."""
    return {f: palette_color(i) for i, f in enumerate(families)}


def new_axes(ax, n=1, **kwargs):
    """Return (fig, axes) for ``ax=None`` (a new figure of ``n`` Axes in a row) or the Axes given."""
    if ax is None:
        fig, axes = plt.subplots(1, n, layout="constrained", **kwargs)
        return fig, axes
    axes = np.atleast_1d(ax)
    if axes.size != n:
        raise ValueError(f"this figure draws on {n} Axes; got {axes.size}")
    return axes.flat[0].figure, (axes.flat[0] if n == 1 else axes)


def add_note(fig, note: str, bottom: float = 0.035) -> None:
    """The source note at the bottom-left, with at least ``bottom`` of the height kept free for it.

    The space grows with the note's lines (7-point type, about 0.13 inch a line), so a
    two-line note never runs into the x-axis label.
    """
    fig.text(0.01, 0.005, note, fontsize=7, color=NOTE_COLOR, ha="left", va="bottom")
    lines = note.count("\n") + 1
    bottom = max(bottom, (0.13 * lines + 0.06) / fig.get_figheight())
    engine = fig.get_layout_engine()
    # Only a figure laid out here is adjusted; a caller's layout is theirs.
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0, bottom, 1, 1 - bottom))


def finish(fig, title: str, note: str, subtitle: str | None = None, ax=None) -> None:
    """Title on top, an optional subtitle over ``ax``, the source note at the bottom-left."""
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    if subtitle:
        # An Axes title (not a second suptitle line) so it can be lighter and the layout makes room.
        ax.set_title(subtitle, loc="left", fontsize=9.5, color="#444444")
    add_note(fig, note)


def number_axis(axis, money: bool = False, minor: bool = False) -> None:
    """Label an axis's ticks with :func:`label_number` (and its minor ticks too with ``minor``)."""
    fmt = ticker.FuncFormatter(lambda v, _: label_number(v, money))
    axis.set_major_formatter(fmt)
    if minor:
        axis.set_minor_formatter(fmt)


def ratio_axis(axis) -> None:
    """Label an axis of ratios: 0.5×, 1×, 2×."""
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}×"))


def log_axis(ax, money: bool = False, subs=(1.0, 2.0, 5.0)) -> None:
    """A log-scaled x axis of densities: labelled ticks at ``subs`` of each decade, no y ticks."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=subs))
    number_axis(ax.xaxis, money)
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_yticks([])
    ax.set_ylim(bottom=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
