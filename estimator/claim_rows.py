"""One ledger row: the columns a ledger has, each cell parsed and each row checked.

The ledger's format (columns, numbers, dates, qualifiers) is described in
:mod:`estimator.claims`, which reads a file or a DataFrame into rows and
builds the table; this module holds what one row may contain and
:func:`check_row`, which types a row's cells and lists every problem with it,
plus :func:`restates_problems`, the one check that looks across rows. Every
problem names the file, the row and the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import partial

import numpy as np

from estimator.errors import Problem, did_you_mean

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
    "QUANTITIES",
    "CAPACITY_QUANTITIES",
    "KINDS",
    "QUALIFIERS",
    "RELIABILITY",
    "COLUMNS",
    "REQUIRED",
    "MIN_FIGURE",
    "MAX_COUNT",
    "MAX_VALUE_USD",
    "FIRST_DATE",
    "LAST_DATE",
    "check_row",
    "restates_problems",
    "unknown_family_message",
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
# The model additionally refuses a time grid longer than timeline.MAX_MONTHS.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2099, 12, 31)


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


def unknown_family_message(family: str, families) -> str:
    """The complaint about a claim whose source family the prior file does not declare."""
    return f"unknown source family '{family}'{did_you_mean(family, families)}; the prior file declares " + ", ".join(
        sorted(families)
    )


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
        problems.append(
            at(
                "figure_high",
                "a 'between' range needs a finite figure_high (for an open bound use 'more_than' with figure_high inf)",
            )
        )
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
            problems.append(
                at("quantity", f"a capacity conversion is about {' or '.join(CAPACITY_QUANTITIES)}, not '{quantity}'")
            )
    elif kind == COUNT:
        if basis:
            problems.append(at("basis_containers", "only capacity conversions take basis_containers"))
        if cells.get("qualifier", "") == COULD_HOLD:
            problems.append(
                at("qualifier", "'could_hold' is a capacity statement: set kind=capacity and basis_containers")
            )
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
            problems.append(
                at(
                    c,
                    f"'{cells[c]}' is below {MIN_FIGURE:g}: no claim counts a fraction of one container, round, missile or dollar",
                )
            )
        elif x > top:
            problems.append(
                at(c, f"'{cells[c]}' is above {top:g}, implausible for {unit} (a typo in the exponent or the unit?)")
            )
    basis = values["basis_containers"]
    if not np.isnan(basis) and (basis != math.floor(basis) or not 1 <= basis <= MAX_COUNT):
        problems.append(
            at(
                "basis_containers",
                f"'{cells['basis_containers']}' is not a whole number of containers from 1 to {MAX_COUNT:g}",
            )
        )
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


def check_row(
    cells: dict[str, str], here: str, file: str, families, seen_ids: dict[str, str], *, by_position: bool
) -> tuple[dict, list[Problem]]:
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


def restates_problems(rows: list[dict], places: list[str], file: str) -> list[Problem]:
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
            problems.append(
                at(f"'{target}' itself restates '{original['restates']}': name the original, '{original['restates']}'")
            )
        elif row["quantity"] and original["quantity"] and row["quantity"] != original["quantity"]:
            problems.append(
                at(
                    f"'{target}' counts {original['quantity']}, this row {row['quantity']}: a restatement repeats an estimate of the same quantity"
                )
            )
        elif (
            row["date_said"] is not None
            and original["date_said"] is not None
            and original["date_said"] > row["date_said"]
        ):
            problems.append(
                at(
                    f"'{target}' was said on {original['date_said']}, after this row ({row['date_said']}): the original comes first"
                )
            )
    return problems
