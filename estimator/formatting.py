"""Numbers as text: one rule, rendered for a terminal table, a report, a figure or a prior.

The rule: a magnitude of a billion or more is given in billions, of a million
or more in millions, of 100 or more as a whole number with thousands
separators, and anything smaller to three significant digits. The styles
differ only in how they write it:

========== ==================== =====================================
style      2,468,000 / 3.76e9   used by
========== ==================== =====================================
compact    2.47 M / 3.76 bn     figures (ticks, labels, legends)
words      2.47 million         the Markdown report and the HTML summary
table      2.47 M / 11.0 M      the command line (zeros that are significant kept)
plain      2.468e+06            prior parameters (``digits`` significant)
========== ==================== =====================================

Missing values print as an en dash and infinities as ∞. This module imports
no plotting library, so the command line can print numbers without loading
one.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["STYLES", "fmt_number", "vintage_label"]

STYLES = ("compact", "words", "table", "plain")
# (scale, compact suffix, word), largest first.
_SCALES = ((1e9, "bn", "billion"), (1e6, "M", "million"))
WHOLE_FROM = 100  # from here on, whole numbers with thousands separators


def fmt_number(x, style: str = "compact", *, money: bool = False, mathtext: bool = False, digits: int = 3) -> str:
    """A number (or a sequence of numbers, in brackets) as text.

    Parameters
    ----------
    x : float, sequence of float or None
    style : {"compact", "words", "table", "plain"}
        See the module docstring.
    money : bool
        Prefix a dollar sign.
    mathtext : bool
        Escape the dollar sign, which would otherwise start mathtext in a
        matplotlib label.
    digits : int
        Significant digits below :data:`WHOLE_FROM` and of the scaled value
        (``table`` keeps trailing zeros that are among them, "11.0 M", so a
        value rounded to its Monte Carlo error shows no false digits and no
        dropped ones); of every value in ``plain``.

    Returns
    -------
    str
    """
    if style not in STYLES:
        raise ValueError(f"unknown style '{style}'; one of {', '.join(STYLES)}")
    if x is not None and np.ndim(x):
        return (
            "["
            + ", ".join(fmt_number(v, style, money=money, mathtext=mathtext, digits=digits) for v in np.ravel(x))
            + "]"
        )
    if x is None or math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    x = float(x)
    sign = (r"\$" if mathtext else "$") if money else ""
    if style == "plain":
        return f"{sign}{x:.{digits}g}"
    for scale, short, word in _SCALES:
        if abs(x) >= scale:
            if style == "table":
                value = np.format_float_positional(
                    x / scale, precision=digits, unique=False, fractional=False, trim="k"
                ).rstrip(".")
            else:
                value = f"{x / scale:.{digits}g}"
            return f"{sign}{value} {word if style == 'words' else short}"
    if abs(x) >= WHOLE_FROM:
        return f"{sign}{x:,.0f}"
    return f"{sign}{x:.{digits}g}"


def vintage_label(manifest: dict) -> str:
    """'as of DATE, claims known by DATE' in words, with any months of forecast."""
    known = manifest.get("known_by")
    text = f"as of {manifest.get('as_of')}, " + (f"claims known by {known}" if known else "all claims in the ledger")
    months = int(manifest.get("months_extrapolated") or 0)
    if months:
        text += f"; a forecast {months} month{'s' if months > 1 else ''} past the latest claim"
    return text
