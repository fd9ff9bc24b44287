r"""The claims ledger: one row per public claim, validated at the door.

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

``id``\*            unique claim identifier, e.g. ``us-state-2024-02-23``
``date_said``\*     ISO date the figure was published
``who``\*           who said it, in words
``source_family``\* a family declared in the prior file (each has a bias and a
                    noise scale): e.g. ``us_government``
``quantity``\*      what the figure counts: one of :data:`QUANTITIES`
``kind``\*          ``count`` (the figure is an estimate of the quantity) or
                    ``capacity`` (a conversion: ``basis_containers``
                    containers "could hold" ``figure`` rounds; it is evidence
                    on rounds per container, never on rounds delivered)
``qualifier``\*     one of :data:`QUALIFIERS`
``figure``\*        the number quoted (at least 1)
``figure_high``     upper figure for ``between``; optional override of the
                    next-round-figure rule for ``more_than``/``at_least``
                    (``inf`` reads the bound one-sided, :math:`S \ge x`)
``basis_containers`` container count behind a capacity conversion (a whole number)
``period_start``    start of the period counted (empty: since shipments began)
``period_end``      end of the period counted (empty: ``date_said``)
``scope``\*         what was counted, in words
``reliability``\*   ``official``, ``leak`` or ``press``
``wording``\*       the figure in the source's own words
``url``\*           where it was published
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
* ``more_than`` / ``at_least`` x: :math:`x \le S < x^+`, where
  :math:`x^+` is the next figure at the precision quoted (x plus one unit of
  its last non-zero digit: 1,000 -> 2,000; 10,000 -> 20,000;
  2,000,000 -> 3,000,000; 6,700 -> 6,800), because a source whose estimate had
  reached :math:`x^+` would have quoted it. ``figure_high`` overrides
  :math:`x^+`; ``figure_high = inf`` makes the bound one-sided;
* a count of ``missiles_launched`` with ``about``, ``more_than`` or
  ``at_least`` x is always one-sided (:math:`S \ge x` only): launches
  bound deliveries from below, so "nearly 50 launched" says that at least
  about 50 were delivered and nothing about how many more;
* ``between`` x, y: :math:`x \le S \le y`;
* ``up_to`` x on a count: :math:`S \le x`; ``up_to`` / ``could_hold`` on a
  capacity conversion: the stated capacity per container is
  :math:`x / \text{basis}` (a noisy point on rounds per container).

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

from estimator.claim_rows import (
    ABOUT,
    AT_LEAST,
    BETWEEN,
    CAPACITY,
    CAPACITY_QUANTITIES,
    COLUMNS,
    COULD_HOLD,
    COUNT,
    FIRST_DATE,
    KINDS,
    LAST_DATE,
    MAX_COUNT,
    MAX_VALUE_USD,
    MIN_FIGURE,
    MISSILES_LAUNCHED,
    MORE_THAN,
    QUALIFIERS,
    QUANTITIES,
    RELIABILITY,
    REQUIRED,
    UP_TO,
    check_row,
    restates_problems,
    unknown_family_message,
)
from estimator.errors import InputError, Problem, did_you_mean

# Quantity names are the model's variable names, defined once in names.py; the
# model reads them, with the kinds and qualifiers, from here.
from estimator.names import ARTILLERY_ROUNDS, CONTAINERS, MISSILES_DELIVERED, ROUNDS_122MM, SHELLS_152MM, VALUE_USD

__all__ = [
    # What a row may hold (estimator.claim_rows), re-exported: the model and scripts read them here.
    "CONTAINERS",
    "SHELLS_152MM",
    "ROUNDS_122MM",
    "ARTILLERY_ROUNDS",
    "MISSILES_DELIVERED",
    "MISSILES_LAUNCHED",
    "VALUE_USD",
    "CAPACITY_QUANTITIES",
    "COUNT",
    "CAPACITY",
    "ABOUT",
    "MORE_THAN",
    "AT_LEAST",
    "UP_TO",
    "COULD_HOLD",
    "BETWEEN",
    "unknown_family_message",
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
    "restated_originals",
    "restatement_groups",
]


DEFAULT_LEDGER = "claims.csv"

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
    if row["quantity"] == MISSILES_LAUNCHED and not is_capacity and q in (ABOUT, MORE_THAN, AT_LEAST):
        # Launches bound deliveries from below, whatever the wording of the launch count.
        lo, hi = x, math.inf
    elif q == ABOUT or (is_capacity and q in (UP_TO, COULD_HOLD)):
        lo, hi = x, x
    elif q in (MORE_THAN, AT_LEAST):
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
            [
                Problem(
                    str(p),
                    "file",
                    "-",
                    f"not UTF-8 text ({exc.reason} at byte {exc.start}, line {line}); save the ledger as 'CSV UTF-8'",
                )
            ]
        ) from None


FRAME_NAME = "<DataFrame>"
# Columns load_claims derives from the others; a DataFrame passed back in has them rebuilt.
DERIVED = ("line", "low", "high")


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
                problems.append(
                    Problem(
                        name,
                        f"line {reader.line_num}",
                        "-",
                        f"not valid CSV ({exc}); quote cells that hold line breaks or quotes",
                    )
                )
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
    return Problem(
        name,
        f"line {start}",
        column,
        "a quoted cell is opened and never closed: the file may be truncated (or a closing quote is missing)",
    )


def _header_problems(header: list[str], file: str, where: str) -> list[Problem]:
    """Required columns the header lacks, columns it names twice or not at all, then columns it has that a ledger does not."""
    repeated = sorted({c for c in header if c and header.count(c) > 1}, key=header.index)
    return [
        *(
            Problem(file, where, c, "required column is missing" + did_you_mean(c, header))
            for c in REQUIRED
            if c not in header
        ),
        *(Problem(file, where, c, f"column named {header.count(c)} times") for c in repeated),
        *(Problem(file, where, f"column {i}", "column has no name") for i, c in enumerate(header, start=1) if not c),
        *(
            Problem(file, where, c, "unknown column" + did_you_mean(c, COLUMNS))
            for c in header
            if c and c not in COLUMNS and c not in repeated
        ),
    ]


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
        typed, found = check_row(cells, here, name, families, seen_ids, by_position=by_position)
        problems.extend(found)
        rows.append({**typed, "line": line})
        places.append(here)
    problems.extend(restates_problems(rows, places, name))

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
    return Problem(
        name,
        here + (f" (id {cid})" if cid else ""),
        header[len(values)],
        f"{len(values)} values for {len(header)} columns: {why}",
    )


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
    out.attrs = {
        **claims.attrs,
        "text": text,
        "source": f"{source} ({label or f'{len(keep)} of {len(claims)} claims'})",
    }
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
            [
                Problem(
                    claims.attrs.get("source", "<claims>"),
                    "--known-by",
                    "known_by",
                    f"no claim was said by {day}; the first was said on {first}",
                )
            ]
        )
    return subset_claims(claims, keep, label=f"claims known by {day}: {len(keep)} of {len(claims)}")


def restated_originals(claims: pd.DataFrame) -> dict[str, str]:
    """Each claim's original: the row its ``restates`` names if that row is in ``claims``, else ``""``.

    A subset of a ledger may leave an original out; its restatements then stand for it.
    """
    restates = claims["restates"] if "restates" in claims.columns else pd.Series("", index=claims.index)
    ids = set(claims.index)
    return {cid: (r if isinstance(r, str) and r in ids else "") for cid, r in restates.items()}


def restatement_groups(claims: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per claim, 1 + the index of its group (0: in none), and the originals heading the groups.

    A group is an original with every claim that restates it (:func:`restated_originals`).
    """
    originals = restated_originals(claims)
    named = set(originals.values())
    heads = [c for c in claims.index if c in named]
    index = {g: k + 1 for k, g in enumerate(heads)}
    return np.array([index.get(originals[c] or c, 0) for c in claims.index], dtype=np.int64), heads
