"""The claims ledger: one row per public claim, validated at the door.

Format
------
A UTF-8 CSV file with a header row and the columns in :data:`COLUMNS`. CSV was
chosen over TOML because a ledger is a table: one claim is one line in a diff,
analysts open and extend it in a spreadsheet, and every data tool reads it.
Verbatim wording with commas is quoted as usual in CSV.

Columns (required ones marked *):

``id``\\*            unique claim identifier, e.g. ``us-state-2024-02-23``
``date_said``\\*     ISO date the figure was published
``who``\\*           who said it, in words
``source_family``\\* a family declared in the prior file (each has a bias and a
                    noise scale): e.g. ``us_government``
``quantity``\\*      what the figure counts: one of :data:`QUANTITIES`
``kind``\\*          ``count`` (the figure is an estimate of the quantity) or
                    ``capacity`` (a conversion: ``basis_containers``
                    containers "could hold" ``figure`` rounds; it is evidence
                    on rounds per container, never on rounds delivered)
``qualifier``\\*     one of :data:`QUALIFIERS`
``figure``\\*        the number quoted (positive)
``figure_high``     upper figure for ``between``; optional override of the
                    next-round-figure rule for ``more_than``/``at_least``
                    (``inf`` reads the bound one-sided, :math:`S \\ge x`)
``basis_containers`` container count behind a capacity conversion
``period_start``    start of the period counted (empty: since shipments began)
``period_end``      end of the period counted (empty: ``date_said``)
``scope``\\*         what was counted, in words
``reliability``\\*   ``official``, ``leak`` or ``press``
``wording``\\*       the figure in the source's own words
``url``\\*           where it was published
``note``            free text: how the row was coded

Qualifiers as likelihoods
-------------------------
Let :math:`S` be the source's own (unobserved) estimate. Then

* ``about`` x: :math:`S = x` (a noisy point);
* ``more_than`` / ``at_least`` x: :math:`x \\le S < x^+`, where
  :math:`x^+` is the next figure at the precision quoted (x plus one unit of
  its last non-zero digit: 1,000 -> 2,000; 10,000 -> 20,000;
  2,000,000 -> 3,000,000; 6,700 -> 6,800), because a source whose estimate had
  reached :math:`x^+` would have quoted it. ``figure_high`` overrides
  :math:`x^+`; ``figure_high = inf`` makes the bound one-sided. For
  ``missiles_launched`` the bound is always one-sided (:math:`S \\ge x`
  only), since launches bound deliveries from below;
* ``between`` x, y: :math:`x \\le S \\le y`;
* ``up_to`` x on a count: :math:`S \\le x`; ``up_to`` / ``could_hold`` on a
  capacity conversion: the stated capacity per container is
  :math:`x / \\text{basis}` (a noisy point on rounds per container).

How :math:`S` relates to the latent quantities is in :mod:`estimator.model`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from estimator.errors import InputError, Problem, did_you_mean

# Quantity names are the model's variable names, defined once in names.py.
from estimator.names import (
    ARTILLERY_ROUNDS,
    CONTAINERS,
    MISSILES_DELIVERED,
    MISSILES_LAUNCHED,
    ROUNDS_122MM,
    SHELLS_152MM,
    VALUE_USD,
)

__all__ = [
    "COLUMNS",
    "REQUIRED",
    "QUANTITIES",
    "QUALIFIERS",
    "KINDS",
    "RELIABILITY",
    "DEFAULT_LEDGER",
    "load_claims",
    "read_claims_text",
    "next_round_figure",
    "claim_bounds",
]


QUANTITIES = (
    CONTAINERS,
    SHELLS_152MM,
    ROUNDS_122MM,
    ARTILLERY_ROUNDS,
    MISSILES_DELIVERED,
    MISSILES_LAUNCHED,
    VALUE_USD,
)
CAPACITY_QUANTITIES = (SHELLS_152MM, ROUNDS_122MM)

COUNT = "count"
CAPACITY = "capacity"
KINDS = (COUNT, CAPACITY)

ABOUT = "about"
MORE_THAN = "more_than"
AT_LEAST = "at_least"
UP_TO = "up_to"
COULD_HOLD = "could_hold"
BETWEEN = "between"
QUALIFIERS = (ABOUT, MORE_THAN, AT_LEAST, UP_TO, COULD_HOLD, BETWEEN)

RELIABILITY = ("official", "leak", "press")

COLUMNS = (
    "id",
    "date_said",
    "who",
    "source_family",
    "quantity",
    "kind",
    "qualifier",
    "figure",
    "figure_high",
    "basis_containers",
    "period_start",
    "period_end",
    "scope",
    "reliability",
    "wording",
    "url",
    "note",
)
REQUIRED = (
    "id",
    "date_said",
    "who",
    "source_family",
    "quantity",
    "kind",
    "qualifier",
    "figure",
    "scope",
    "reliability",
    "wording",
    "url",
)
_OPTIONAL = tuple(c for c in COLUMNS if c not in REQUIRED)

DEFAULT_LEDGER = "claims-2023-2024.csv"


def next_round_figure(x: float) -> float:
    """Return x plus one unit of its last non-zero digit (1,000 -> 2,000; 6,700 -> 6,800).

    This is the figure a source would have quoted instead of "more than x" had
    its own estimate reached it.
    """
    if not x > 0:
        raise ValueError("figure must be positive")
    value = float(x)
    if value != round(value):
        # Fractional figures: use the decimal precision as written.
        text = repr(value).rstrip("0")
        decimals = len(text.split(".")[1]) if "." in text else 0
        return value + 10.0 ** (-decimals)
    unit = 1
    n = int(round(value))
    while n % (unit * 10) == 0:
        unit *= 10
    return value + unit


def claim_bounds(row) -> tuple[float, float]:
    """Return (low, high) of the source's estimate implied by a claim.

    For a point (``about``; ``up_to``/``could_hold`` on a capacity) low == high.
    One-sided bounds use ``-inf`` or ``inf``. For capacity conversions the
    bounds are per container (divided by ``basis_containers``).
    """
    q, x = row["qualifier"], float(row["figure"])
    high_given = row.get("figure_high")
    high_given = None if high_given is None or pd.isna(high_given) else float(high_given)
    is_capacity = row["kind"] == CAPACITY
    if q == ABOUT or (is_capacity and q in (UP_TO, COULD_HOLD)):
        lo, hi = x, x
    elif q in (MORE_THAN, AT_LEAST):
        if row["quantity"] == MISSILES_LAUNCHED and not is_capacity:
            lo, hi = x, math.inf
        else:
            lo, hi = x, high_given if high_given is not None else next_round_figure(x)
    elif q == BETWEEN:
        lo, hi = x, high_given
    elif q == UP_TO:
        lo, hi = -math.inf, x
    else:  # pragma: no cover - validated earlier
        raise ValueError(f"unknown qualifier {q}")
    if is_capacity:
        basis = float(row["basis_containers"])
        lo, hi = lo / basis, hi / basis
    return lo, hi


def _default_ledger_path():
    return resources.files("estimator.data").joinpath(DEFAULT_LEDGER)


def read_claims_text(path: str | Path | None = None) -> tuple[str, str]:
    """Return (display name, text) of a ledger; ``None`` means the embedded default."""
    if path is None:
        res = _default_ledger_path()
        return f"<embedded>/{DEFAULT_LEDGER}", res.read_text(encoding="utf-8")
    p = Path(path)
    try:
        return str(p), p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(str(p), "file", "-", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(p), "file", "-", f"not UTF-8 text ({exc.reason})")]) from None


def _parse_date(text):
    return dt.date.fromisoformat(text.strip())


def _parse_positive(text):
    value = float(text.replace(",", "").replace("_", ""))
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive finite number")
    return value


def _parse_positive_or_inf(text):
    if text.strip().lower() in ("inf", "infinity"):
        return math.inf
    return _parse_positive(text)


_PARSED = (
    (("date_said", "period_start", "period_end"), _parse_date, None, "is not a date (use YYYY-MM-DD)"),
    (("figure", "basis_containers"), _parse_positive, np.nan, "is not a positive number"),
    (("figure_high",), _parse_positive_or_inf, np.nan, "is not a positive number or 'inf'"),
)


def load_claims(
    path: str | Path | None = None,
    *,
    families: set[str] | None = None,
    text: str | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Load and validate a claims ledger.

    Parameters
    ----------
    path : path-like, optional
        CSV ledger; ``None`` loads the embedded default ledger.
    families : set of str, optional
        Allowed source families (from the prior file). ``None`` skips that check.
    text, name : str, optional
        Parse this text instead of reading ``path`` (``name`` labels errors).

    Returns
    -------
    pandas.DataFrame
        One row per claim, typed columns plus ``line`` (line number in the
        file), ``low``/``high`` (bounds on the source's estimate, per container
        for capacity conversions). ``attrs`` hold ``source`` and ``text``.

    Raises
    ------
    InputError
        Listing every problem (file, row, field) found.
    """
    if text is None:
        name, text = read_claims_text(path)
    name = name or "<claims>"
    problems: list[Problem] = []
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    header = [h.strip() for h in header]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    for c in missing:
        problems.append(
            Problem(name, "header (line 1)", c, "required column is missing" + did_you_mean(c, header))
        )
    for c in header:
        if c not in COLUMNS:
            problems.append(
                Problem(name, "header (line 1)", c, "unknown column" + did_you_mean(c, COLUMNS))
            )
    if problems:
        raise InputError(problems)

    rows = []
    seen_ids: dict[str, int] = {}
    for rec in reader:
        line = reader.line_num
        if rec is None or all((v or "").strip() == "" for k, v in rec.items() if k is not None):
            continue
        if None in rec:
            problems.append(Problem(name, f"line {line}", "-", "more values than columns"))
            continue
        rec = {k: (v or "").strip() for k, v in rec.items()}
        cid = rec.get("id", "")
        where = f"line {line}" + (f" (id {cid})" if cid else "")

        def bad(field, message):
            problems.append(Problem(name, where, field, message))

        for c in REQUIRED:
            if rec.get(c, "") == "":
                bad(c, "is empty")
        out = {c: rec.get(c, "") for c in COLUMNS}
        out["line"] = line
        if cid:
            if cid in seen_ids:
                bad("id", f"duplicate id, first used on line {seen_ids[cid]}")
            else:
                seen_ids[cid] = line

        for cols, parse, missing, complaint in _PARSED:
            for c in cols:
                out[c] = missing
                if rec.get(c, ""):
                    try:
                        out[c] = parse(rec[c])
                    except ValueError:
                        bad(c, f"'{rec[c]}' {complaint}")

        q = rec.get("quantity", "")
        if q and q not in QUANTITIES:
            bad("quantity", f"unknown quantity '{q}'{did_you_mean(q, QUANTITIES)}; one of {', '.join(QUANTITIES)}")
        k = rec.get("kind", "")
        if k and k not in KINDS:
            bad("kind", f"unknown kind '{k}'{did_you_mean(k, KINDS)}; one of {', '.join(KINDS)}")
        qual = rec.get("qualifier", "")
        if qual and qual not in QUALIFIERS:
            bad(
                "qualifier",
                f"unknown qualifier '{qual}'{did_you_mean(qual, QUALIFIERS)}; one of {', '.join(QUALIFIERS)}",
            )
        rel = rec.get("reliability", "")
        if rel and rel not in RELIABILITY:
            bad("reliability", f"unknown reliability '{rel}'{did_you_mean(rel, RELIABILITY)}; one of {', '.join(RELIABILITY)}")
        fam = rec.get("source_family", "")
        if fam and families is not None and fam not in families:
            bad(
                "source_family",
                f"unknown source family '{fam}'{did_you_mean(fam, families)}; the prior file declares "
                + ", ".join(sorted(families)),
            )

        fig, high = out["figure"], out["figure_high"]
        if qual == BETWEEN and rec.get("figure_high", "") == "":
            bad("figure_high", "a 'between' claim needs figure_high")
        if rec.get("figure_high", "") and qual not in (BETWEEN, MORE_THAN, AT_LEAST) and qual in QUALIFIERS:
            bad("figure_high", f"figure_high has no meaning for qualifier '{qual}'")
        if qual == BETWEEN and high == math.inf:
            bad("figure_high", "a 'between' range needs a finite figure_high (for an open bound use 'more_than' with figure_high inf)")
        if not (np.isnan(fig) or np.isnan(high)) and high <= fig:
            bad("figure_high", f"low figure {fig:g} is not below figure_high {high:g}")
        if k == CAPACITY:
            if rec.get("basis_containers", "") == "":
                bad("basis_containers", "a capacity conversion needs the container count it converts")
            if q and q not in CAPACITY_QUANTITIES:
                bad("quantity", f"a capacity conversion is about {' or '.join(CAPACITY_QUANTITIES)}, not '{q}'")
        elif k == COUNT:
            if rec.get("basis_containers", ""):
                bad("basis_containers", "only capacity conversions take basis_containers")
            if qual == COULD_HOLD:
                bad("qualifier", "'could_hold' is a capacity statement: set kind=capacity and basis_containers")
        start, end, said = out["period_start"], out["period_end"], out["date_said"]
        if end is None and said is not None:
            out["period_end"] = end = said
        if start is not None and end is not None and end < start:
            bad("period_end", f"period ends ({end}) before it starts ({start})")
        if said is not None and end is not None and rec.get("period_end", "") and end > said:
            bad("period_end", f"period ends ({end}) after the claim was made ({said})")
        rows.append(out)

    if not rows and not problems:
        problems.append(Problem(name, "file", "-", "the ledger has no claims"))
    if problems:
        raise InputError(problems)

    df = pd.DataFrame(rows, columns=[*COLUMNS, "line"])
    bounds = [claim_bounds(r) for _, r in df.iterrows()]
    df["low"] = [b[0] for b in bounds]
    df["high"] = [b[1] for b in bounds]
    df = df.set_index("id", drop=False)
    df.index.name = "claim"
    df.attrs["source"] = name
    df.attrs["text"] = text
    return df
