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


def _records(reader, name, problems):
    """(position, record) of each CSV row; a row csv cannot split ends the file as one problem."""
    position = 0
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(name, f"line {reader.line_num}", "-", f"not valid CSV ({exc}); quote cells that hold line breaks"))
            return
        yield position, rec
        position += 1


def _header_problems(header: list[str], file: str, where: str) -> list[Problem]:
    """Required columns the header lacks, then columns it has that a ledger does not."""
    return [
        *(Problem(file, where, c, "required column is missing" + did_you_mean(c, header)) for c in REQUIRED if c not in header),
        *(Problem(file, where, c, "unknown column" + did_you_mean(c, COLUMNS)) for c in header if c not in COLUMNS),
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
        *_conversion_problems(cells, at),
        *_period_problems(cells, values, at),
    ]


def _parse(text: str, name: str, families, *, by_position: bool) -> pd.DataFrame:
    """Validate ledger text; locate problems by file line, or by row position for a DataFrame."""
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
    problems = _header_problems(reader.fieldnames, name, "columns" if by_position else "header (line 1)")
    if problems:
        raise InputError(problems)

    rows = []
    seen_ids: dict[str, str] = {}
    for position, rec in _records(reader, name, problems):
        here = f"row {position}" if by_position else f"line {reader.line_num}"
        if all((v or "").strip() == "" for k, v in rec.items() if k is not None):
            continue
        if None in rec:
            problems.append(Problem(name, here, "-", "more values than columns"))
            continue
        cells = {k: (v or "").strip() for k, v in rec.items()}
        values, found = _check_row(cells, here, name, families, seen_ids, by_position=by_position)
        problems.extend(found)
        rows.append({**values, "line": reader.line_num})

    if not rows and not problems:
        problems.append(Problem(name, "file", "-", "the ledger has no claims"))
    if problems:
        raise InputError(problems)
    return _frame(rows, name, text)


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
