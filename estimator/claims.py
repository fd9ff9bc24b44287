"""The claims ledger: one row per public claim, validated at the door.

Format
------
A UTF-8 CSV file with a header row and the columns in :data:`COLUMNS`. CSV was
chosen over TOML because a ledger is a table: one claim is one line in a diff,
analysts open and extend it in a spreadsheet, and every data tool reads it.
Verbatim wording with commas is quoted as usual in CSV. A byte-order mark
(what a spreadsheet's "CSV UTF-8" writes) is ignored; every row has as many
cells as the header, and a quoted cell left open at the end of the file is
refused as a truncated file rather than read as far as it goes.

Numbers are written plainly (``1000``, ``2.5``, ``1e6``) or with thousands
separators in groups of three (``1,000,000`` or ``1_000_000``); the decimal
point is ``.`` (``1.000,5`` is refused, not read as 1.0005). Figures lie
between :data:`MIN_FIGURE` and :data:`MAX_COUNT` (:data:`MAX_VALUE_USD` for
``value_usd``); dates are ``YYYY-MM-DD`` within :data:`FIRST_DATE` to
:data:`LAST_DATE`.

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
``figure``\\*        the number quoted (at least 1)
``figure_high``     upper figure for ``between``; optional override of the
                    next-round-figure rule for ``more_than``/``at_least``
                    (``inf`` reads the bound one-sided, :math:`S \\ge x`)
``basis_containers`` container count behind a capacity conversion (a whole number)
``period_start``    start of the period counted (empty: since shipments began)
``period_end``      end of the period counted (empty: ``date_said``)
``scope``\\*         what was counted, in words
``reliability``\\*   ``official``, ``leak`` or ``press``
``wording``\\*       the figure in the source's own words
``url``\\*           where it was published
``note``            free text: how the row was coded
``restates``        id of the earlier row whose same underlying estimate this
                    row repeats (a restatement: another speaker, or a later
                    day, retelling one estimate); empty for an original. It
                    names an original (a row that restates nothing), said on
                    or before this row, of the same quantity. A ledger
                    without the column loads with every ``restates`` empty.

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
import re
from functools import partial
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
    "MIN_FIGURE",
    "MAX_COUNT",
    "MAX_VALUE_USD",
    "FIRST_DATE",
    "LAST_DATE",
    "load_claims",
    "claims_from_frame",
    "read_claims_text",
    "next_round_figure",
    "claim_bounds",
    "subset_claims",
    "claims_known_by",
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
    "restates",
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

DEFAULT_LEDGER = "claims.csv"

# Plausible magnitudes. They catch figures no source meant (an exponent typo,
# a unit slip, 1e300 or 5e-324 pasted from a calculation) and keep every log
# the model takes finite; they are far too loose to judge an estimate. Below
# one there is nothing to count: no fraction of a container, round, missile or
# dollar is a claim. The ledger's largest count is about 1.2e7 rounds; 1e12 is
# more than a hundred rounds for every person alive. Its largest value is about
# 1e10 USD; 1e15 is about ten times the world's yearly output.
MIN_FIGURE = 1.0
MAX_COUNT = 1e12
MAX_VALUE_USD = 1e15
# Dates a ledger can hold. The shipments it records began in the 2020s; these
# fixed bounds (not the clock, so a ledger loads the same in any year) refuse a
# typo in the year (2924, 1024) before it becomes a model of thousands of months.
# The model additionally refuses a time grid longer than model.MAX_MONTHS.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2099, 12, 31)

# Python's csv refuses cells over 131,072 characters by default; a long note is
# not an error, and the whole file is in memory already, so the limit guards
# nothing here. Raised once (process-wide, never lowered) rather than per read,
# so concurrent reads cannot restore a smaller limit under each other. 2**31 - 1
# is the largest value a C long holds on every platform.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


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
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(str(p), "file", "-", "file not found")]) from None
    except OSError as exc:
        # A folder, a file without read permission: named like any other bad input, not a traceback.
        raise InputError([Problem(str(p), "file", "-", f"cannot be read ({exc.strerror or exc})")]) from None
    try:
        return str(p), data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            [Problem(str(p), "file", "-", f"not UTF-8 text ({exc.reason} at byte {exc.start}, line {line}); save the ledger as 'CSV UTF-8'")]
        ) from None


class _Unreadable(ValueError):
    """A cell that cannot be read, with the whole complaint (it replaces the column's generic one)."""


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_date(text):
    """A ``YYYY-MM-DD`` date between :data:`FIRST_DATE` and :data:`LAST_DATE`.

    Only that form: ``date.fromisoformat`` also reads ``20240223`` and
    ``2024-W08-5``, which no ledger means to write.
    """
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(text)
    day = dt.date.fromisoformat(text)
    if not FIRST_DATE <= day <= LAST_DATE:
        raise _Unreadable(f"is outside the dates a ledger can hold, {FIRST_DATE} to {LAST_DATE} (a typo in the year?)")
    return day


# A number as a ledger writes it, ASCII digits only: plain (1000, 2.5, .5, 1e6), or
# with thousands separators in groups of exactly three (1,000,000 or 1_000_000, one
# kind per number) and no exponent.
_PLAIN_NUMBER = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED_NUMBER = re.compile(r"\+?[0-9]{1,3}([,_])[0-9]{3}(?:\1[0-9]{3})*(?:\.[0-9]+)?")
# Digits and separators only, with a ',' or '_' somewhere: a number whose separators are misplaced.
_MISGROUPED_NUMBER = re.compile(r"\+?[0-9.,_]*[,_][0-9.,_]*")


def _parse_positive(text):
    """A positive finite number written as :data:`_PLAIN_NUMBER` or :data:`_GROUPED_NUMBER`.

    Separators are checked, not stripped: stripping read ``1,0,0`` as 100
    and the European ``1.000,5`` (a thousand and a half) as 1.0005.
    """
    text = text.strip()
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "").replace("_", "")
    elif _MISGROUPED_NUMBER.fullmatch(text):
        raise _Unreadable(
            "is not a positive number as a ledger writes one: '.' is the decimal point and ',' only separates groups of three digits (1,000,000.5)"
        )
    elif not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(text)
    value = float(text)
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


FRAME_NAME = "<DataFrame>"
# Columns load_claims derives from the others; a DataFrame passed back in has them rebuilt.
DERIVED = ("line", "low", "high")


def unknown_family_message(family: str, families) -> str:
    """The complaint about a claim whose source family the prior file does not declare."""
    return f"unknown source family '{family}'{did_you_mean(family, families)}; the prior file declares " + ", ".join(sorted(families))


def claim_locator(claims: pd.DataFrame, claim_id: str) -> str:
    """Where a loaded claim came from, as load_claims names it: its file line or DataFrame row."""
    if claims.attrs.get("rows") == "positions":
        return f"row {claims.index.get_loc(claim_id)} (id {claim_id})"
    if "line" in claims.columns:
        return f"line {claims.loc[claim_id, 'line']} (id {claim_id})"
    return f"id {claim_id}"


def _cell_text(value) -> str:
    """One DataFrame cell as a ledger file would hold it (empty for missing values)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _frame_text(df: pd.DataFrame) -> str:
    """The user columns of a ledger DataFrame as CSV text (derived columns left out)."""
    if "id" not in df.columns and df.index.name in ("id", "claim"):
        df = df.rename_axis("id").reset_index()
    cols = [c for c in df.columns if c not in DERIVED]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([str(c) for c in cols])
    for row in df[cols].itertuples(index=False, name=None):
        writer.writerow([_cell_text(v) for v in row])
    return buf.getvalue()


def claims_from_frame(df: pd.DataFrame, *, families: set[str] | None = None, name: str = FRAME_NAME) -> pd.DataFrame:
    """Validate a ledger given as a DataFrame, exactly as :func:`load_claims` validates a file.

    The user columns (:data:`COLUMNS`) are written back to CSV text (dates as
    ISO dates, missing values empty, infinity as ``inf``) and loaded from that
    text, so the derived columns (``low``, ``high``, ``line``) are rebuilt from
    the figures as they are now: a ledger loaded, edited and passed back in is
    fitted as edited. A frame whose values still match the text it was loaded
    from keeps that text and its source name, so the manifest of a run holds
    the ledger exactly as fitted.

    Parameters
    ----------
    df : DataFrame
        One row per claim, columns as in a ledger file (a frame from
        :func:`load_claims`, edited or not, or ``pandas.read_csv`` of a ledger).
    families : set of str, optional
        Allowed source families (from the prior file). ``None`` skips that check.
    name : str
        Labels the input in error messages.

    Returns
    -------
    pandas.DataFrame
        As :func:`load_claims` returns it.

    Raises
    ------
    InputError
        Listing every problem found; rows are named by position (``row 0`` is
        ``df.iloc[0]``) and id.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    text = _frame_text(df)
    original = df.attrs.get("text")
    if original:
        try:
            unchanged = _frame_text(load_claims(text=original, name=name)) == text
        except InputError:
            unchanged = False
        if unchanged:
            return load_claims(text=original, name=df.attrs.get("source", name), families=families)
    out = _parse(text, name, families, by_position=True)
    out.attrs["rows"] = "positions"
    return out


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
    return _parse(text, name or "<claims>", families, by_position=False)


def _records(reader, text: str, name: str, problems: list[Problem]) -> list[tuple[int, int, list[str]]]:
    """(position, last line, cells) of each non-blank CSV record after the header.

    A record csv cannot split ends the file as one problem. The reader is
    strict, so a quoted cell still open at the end of the file (a file cut
    short) is refused, named by the line where that record starts and the
    column of the open cell, rather than read as far as it goes.
    """
    out = []
    while True:
        first = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                problems.append(_unterminated_cell(text, first, name))
            else:
                problems.append(Problem(name, f"line {reader.line_num}", "-", f"not valid CSV ({exc}); quote cells that hold line breaks or quotes"))
            return out
        if cells:
            out.append((len(out), reader.line_num, cells))


def _unterminated_cell(text: str, first: int, name: str) -> Problem:
    """The problem of a quoted cell left open at the end of the file, in the record read from line ``first`` on."""
    lines = io.StringIO(text, newline=None).readlines()
    # csv reads blank lines as empty records: the open record starts at the first other line.
    start = next((i for i in range(first, len(lines) + 1) if lines[i - 1].strip("\n")), first)
    header = next(csv.reader(io.StringIO(text, newline=None)))
    # Read leniently, the rest of the file is one record whose last cell is the open one.
    cells = next(csv.reader(io.StringIO("".join(lines[start - 1 :]))), [""])
    column = header[len(cells) - 1].strip() if len(cells) <= len(header) else "-"
    return Problem(name, f"line {start}", column, "a quoted cell is opened and never closed: the file may be truncated (or a closing quote is missing)")


def _header_problems(header: list[str], file: str, where: str) -> list[Problem]:
    """Required columns the header lacks, columns it names twice or not at all, then columns it has that a ledger does not."""
    repeated = sorted({c for c in header if c and header.count(c) > 1}, key=header.index)
    return [
        *(Problem(file, where, c, "required column is missing" + did_you_mean(c, header)) for c in REQUIRED if c not in header),
        *(Problem(file, where, c, f"column named {header.count(c)} times") for c in repeated),
        *(Problem(file, where, f"column {i}", "column has no name") for i, c in enumerate(header, start=1) if not c),
        *(Problem(file, where, c, "unknown column" + did_you_mean(c, COLUMNS)) for c in header if c and c not in COLUMNS and c not in repeated),
    ]


def _typed_values(cells: dict[str, str], at) -> tuple[dict, list[Problem]]:
    """A row's values: dates and numbers parsed (missing: ``None`` or NaN), other cells as text.

    ``period_end`` defaults to ``date_said``. ``at(field, message)`` makes a problem at this row.
    """
    values: dict = {c: cells.get(c, "") for c in COLUMNS}
    problems = []
    for cols, parse, missing, complaint in _PARSED:
        for c in cols:
            values[c] = missing
            if cells.get(c, ""):
                try:
                    values[c] = parse(cells[c])
                except _Unreadable as exc:
                    problems.append(at(c, f"'{cells[c]}' {exc}"))
                except ValueError:
                    problems.append(at(c, f"'{cells[c]}' {complaint}"))
    if values["period_end"] is None:
        values["period_end"] = values["date_said"]
    return values, problems


def _empty_required(cells: dict[str, str], at) -> list[Problem]:
    return [at(c, "is empty") for c in REQUIRED if cells.get(c, "") == ""]


def _duplicate_id(cid: str, here: str, seen: dict[str, str], at, *, by_position: bool) -> list[Problem]:
    """A second use of an id (``seen`` maps each id to where it was first used, and learns this row's)."""
    if not cid:
        return []
    if cid in seen:
        return [at("id", f"duplicate id, first used {'in' if by_position else 'on'} {seen[cid]}")]
    seen[cid] = here
    return []


# Columns whose value is one of a fixed set, named as each complaint names them.
_CHOICE_COLUMNS = (("quantity", QUANTITIES), ("kind", KINDS), ("qualifier", QUALIFIERS), ("reliability", RELIABILITY))


def _unknown_choices(cells: dict[str, str], families, at) -> list[Problem]:
    """Values outside their column's choices, and a family the prior file does not declare."""
    problems = [
        at(c, f"unknown {c} '{v}'{did_you_mean(v, allowed)}; one of {', '.join(allowed)}")
        for c, allowed in _CHOICE_COLUMNS
        if (v := cells.get(c, "")) and v not in allowed
    ]
    fam = cells.get("source_family", "")
    if fam and families is not None and fam not in families:
        problems.append(at("source_family", unknown_family_message(fam, families)))
    return problems


def _figure_high_problems(cells: dict[str, str], values: dict, at) -> list[Problem]:
    """``figure_high`` where the qualifier needs it, absent where it means nothing, and above ``figure``."""
    qual, given = cells.get("qualifier", ""), cells.get("figure_high", "")
    fig, high = values["figure"], values["figure_high"]
    problems = []
    if qual == BETWEEN and given == "":
        problems.append(at("figure_high", "a 'between' claim needs figure_high"))
    if given and qual not in (BETWEEN, MORE_THAN, AT_LEAST) and qual in QUALIFIERS:
        problems.append(at("figure_high", f"figure_high has no meaning for qualifier '{qual}'"))
    if qual == BETWEEN and high == math.inf:
        problems.append(at("figure_high", "a 'between' range needs a finite figure_high (for an open bound use 'more_than' with figure_high inf)"))
    if not (np.isnan(fig) or np.isnan(high)) and high <= fig:
        problems.append(at("figure_high", f"low figure {fig:g} is not below figure_high {high:g}"))
    return problems


def _conversion_problems(cells: dict[str, str], at) -> list[Problem]:
    """A capacity conversion has a container count and a per-container quantity; a count has neither."""
    kind, quantity, basis = cells.get("kind", ""), cells.get("quantity", ""), cells.get("basis_containers", "")
    problems = []
    if kind == CAPACITY:
        if basis == "":
            problems.append(at("basis_containers", "a capacity conversion needs the container count it converts"))
        if quantity and quantity not in CAPACITY_QUANTITIES:
            problems.append(at("quantity", f"a capacity conversion is about {' or '.join(CAPACITY_QUANTITIES)}, not '{quantity}'"))
    elif kind == COUNT:
        if basis:
            problems.append(at("basis_containers", "only capacity conversions take basis_containers"))
        if cells.get("qualifier", "") == COULD_HOLD:
            problems.append(at("qualifier", "'could_hold' is a capacity statement: set kind=capacity and basis_containers"))
    return problems


def _magnitude_problems(cells: dict[str, str], values: dict, at) -> list[Problem]:
    """Figures within the plausible magnitudes (:data:`MIN_FIGURE` to :data:`MAX_COUNT` or :data:`MAX_VALUE_USD`).

    ``basis_containers`` is a whole number of containers. Each bound is explained where it is defined.

    The two ends of a ``between`` range are exempt: they bound what the source
    would accept rather than report a figure, and a range reaching far past
    every plausible value on both sides is how a statement that carries no
    information is coded (its likelihood is flat, so it moves nothing).
    """
    if cells.get("qualifier") == BETWEEN:
        checked = ()
    else:
        checked = ("figure", "figure_high")
    top, unit = (MAX_VALUE_USD, "US dollars") if cells.get("quantity") == VALUE_USD else (MAX_COUNT, "a count")
    problems = []
    for c in checked:
        x = values[c]
        if np.isnan(x) or math.isinf(x):
            continue
        if x < MIN_FIGURE:
            problems.append(at(c, f"'{cells[c]}' is below {MIN_FIGURE:g}: no claim counts a fraction of one container, round, missile or dollar"))
        elif x > top:
            problems.append(at(c, f"'{cells[c]}' is above {top:g}, implausible for {unit} (a typo in the exponent or the unit?)"))
    basis = values["basis_containers"]
    if not np.isnan(basis) and (basis != math.floor(basis) or not 1 <= basis <= MAX_COUNT):
        problems.append(at("basis_containers", f"'{cells['basis_containers']}' is not a whole number of containers from 1 to {MAX_COUNT:g}"))
    return problems


def _period_problems(cells: dict[str, str], values: dict, at) -> list[Problem]:
    """The period counted starts before it ends, and (when given) ends by the day the claim was made."""
    start, end, said = values["period_start"], values["period_end"], values["date_said"]
    problems = []
    if start is not None and end is not None and end < start:
        problems.append(at("period_end", f"period ends ({end}) before it starts ({start})"))
    if said is not None and end is not None and cells.get("period_end", "") and end > said:
        problems.append(at("period_end", f"period ends ({end}) after the claim was made ({said})"))
    return problems


def _check_row(cells: dict[str, str], here: str, file: str, families, seen_ids: dict[str, str], *, by_position: bool) -> tuple[dict, list[Problem]]:
    """One row's typed values and every problem with it, each problem named by file, row (and id) and field."""
    cid = cells.get("id", "")
    at = partial(Problem, file, here + (f" (id {cid})" if cid else ""))
    values, unparsed = _typed_values(cells, at)
    return values, [
        *_empty_required(cells, at),
        *_duplicate_id(cid, here, seen_ids, at, by_position=by_position),
        *unparsed,
        *_unknown_choices(cells, families, at),
        *_figure_high_problems(cells, values, at),
        *_magnitude_problems(cells, values, at),
        *_conversion_problems(cells, at),
        *_period_problems(cells, values, at),
    ]


def _restates_problems(rows: list[dict], places: list[str], file: str) -> list[Problem]:
    """Each ``restates`` names an original row said on or before the restatement, of the same quantity.

    An original is a row that restates nothing, so every restatement points
    straight at the estimate it repeats and no chain or cycle can form.
    ``places`` locates each row as the other problems do (line or position).
    """
    by_id = {r["id"]: r for r in rows if r["id"]}
    problems = []
    for row, here in zip(rows, places):
        target = row["restates"]
        if not target:
            continue
        at = partial(Problem, file, here + (f" (id {row['id']})" if row["id"] else ""), "restates")
        original = by_id.get(target)
        if target == row["id"]:
            problems.append(at("a row cannot restate itself"))
        elif original is None:
            problems.append(at(f"'{target}' is not the id of a row in this ledger{did_you_mean(target, by_id)}"))
        elif original["restates"]:
            problems.append(at(f"'{target}' itself restates '{original['restates']}': name the original, '{original['restates']}'"))
        elif row["quantity"] and original["quantity"] and row["quantity"] != original["quantity"]:
            problems.append(at(f"'{target}' counts {original['quantity']}, this row {row['quantity']}: a restatement repeats an estimate of the same quantity"))
        elif row["date_said"] is not None and original["date_said"] is not None and original["date_said"] > row["date_said"]:
            problems.append(at(f"'{target}' was said on {original['date_said']}, after this row ({row['date_said']}): the original comes first"))
    return problems


def _parse(text: str, name: str, families, *, by_position: bool) -> pd.DataFrame:
    """Validate ledger text; locate problems by file line, or by row position for a DataFrame."""
    # A spreadsheet's "CSV UTF-8" starts with a byte-order mark, which is no part of the first column's name.
    text = text.removeprefix("\ufeff")
    # Universal newlines: CR, LF and CRLF files count lines alike; strict: see _records.
    reader = csv.reader(io.StringIO(text, newline=None), strict=True)
    where = "columns" if by_position else "header (line 1)"
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error:
        raise InputError([Problem(name, where, "-", "the header is not valid CSV (a quote left open?)")]) from None
    problems = _header_problems(header, name, where)
    if problems:
        raise InputError(problems)

    records = _records(reader, text, name, problems)
    rows, places = [], []
    seen_ids: dict[str, str] = {}
    for position, line, values in records:
        here = f"row {position}" if by_position else f"line {line}"
        if all(v.strip() == "" for v in values):
            continue
        if len(values) > len(header):
            problems.append(Problem(name, here, "-", "more values than columns"))
            continue
        if len(values) < len(header):
            problems.append(_short_row(name, here, header, values, last=position == len(records) - 1))
            continue
        cells = {k: v.strip() for k, v in zip(header, values)}
        typed, found = _check_row(cells, here, name, families, seen_ids, by_position=by_position)
        problems.extend(found)
        rows.append({**typed, "line": line})
        places.append(here)
    problems.extend(_restates_problems(rows, places, name))

    if not rows and not problems:
        problems.append(Problem(name, "file", "-", "the ledger has no claims"))
    if problems:
        raise InputError(problems)
    return _frame(rows, name, text)


def _short_row(name: str, here: str, header: list[str], values: list[str], *, last: bool) -> Problem:
    """A record with fewer cells than the header, named by its first missing column.

    Read as it stands, its cells would be taken as empty: a last row cut short
    would lose its optional cells silently, or report each required one as empty.
    """
    id_col = header.index("id")
    cid = values[id_col].strip() if id_col < len(values) else ""
    why = "the file may be truncated" if last else "a separator is missing or the row was cut short"
    return Problem(name, here + (f" (id {cid})" if cid else ""), header[len(values)], f"{len(values)} values for {len(header)} columns: {why}")


def _frame(rows: list[dict], name: str, text: str) -> pd.DataFrame:
    """The validated rows as the ledger table: bounds derived, indexed by claim id, source and text in ``attrs``."""
    df = pd.DataFrame(rows, columns=[*COLUMNS, "line"])
    bounds = [claim_bounds(r) for _, r in df.iterrows()]
    df["low"] = [b[0] for b in bounds]
    df["high"] = [b[1] for b in bounds]
    df = df.set_index("id", drop=False)
    df.index.name = "claim"
    df.attrs["source"] = name
    df.attrs["text"] = text
    return df


def subset_claims(claims: pd.DataFrame, keep, label: str | None = None) -> pd.DataFrame:
    """Rows ``keep`` (ids) of a ledger, with the ledger text cut to the same rows.

    The text is what a saved run stores as its ledger, so it must hold
    exactly the claims fitted.
    """
    keep = list(keep)
    out = claims.loc[keep].copy()
    text = claims.attrs.get("text", "")
    if text:
        rows = list(csv.reader(io.StringIO(text)))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(rows[0])
        id_col = rows[0].index("id")
        kept = set(keep)
        writer.writerows(r for r in rows[1:] if r and r[id_col] in kept)
        text = buf.getvalue()
    source = claims.attrs.get("source", "<claims>")
    out.attrs = {**claims.attrs, "text": text, "source": f"{source} ({label or f'{len(keep)} of {len(claims)} claims'})"}
    return out


def claims_known_by(claims: pd.DataFrame, known_by) -> pd.DataFrame:
    """The vintage of a ledger: only the claims said on or before ``known_by``.

    Raises
    ------
    InputError
        When no claim was said by then.
    """
    day = known_by if isinstance(known_by, dt.date) else dt.date.fromisoformat(str(known_by))
    keep = [cid for cid, said in claims["date_said"].items() if said <= day]
    if not keep:
        first = min(claims["date_said"])
        raise InputError(
            [Problem(claims.attrs.get("source", "<claims>"), "--known-by", "known_by", f"no claim was said by {day}; the first was said on {first}")]
        )
    return subset_claims(claims, keep, label=f"claims known by {day}: {len(keep)} of {len(claims)}")
