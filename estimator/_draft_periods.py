"""The period a drafted claim speaks of, read from its wording (a helper of :mod:`estimator.drafting`).

Kept apart from the figure and phrase rules so each stays one screen: the period is
read from the whole passage, relative to the date said, and needs nothing of the ledger
but its ISO dates. The phrases, each relative to the date said: "since [early|mid|late]
MONTH [YEAR | last year]", "since mid-YEAR", "since YEAR", "in YEAR", "last year", "this
year", "as of DAY MONTH YEAR" and "since the beginning of the full-scale invasion"
(2022-02-24, as the ledger dates it).
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["MONTHS", "period"]

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def period(sentence: str, said: dt.date) -> tuple[str, str, list[str]]:
    """(period_start, period_end, notes) named by the sentence, relative to the date said; empty when none is named."""
    s = sentence.lower()
    month = r"(?P<month>" + "|".join(MONTHS) + r")"
    notes: list[str] = []
    start = end = ""

    def year_of(m, month_no):
        if m["year"]:
            return int(m["year"])
        if m["rel"]:
            return said.year - 1 if "last" in m["rel"] else said.year
        # A month without a year is its latest occurrence before the date said.
        return said.year if month_no <= said.month else said.year - 1

    if m := re.search(r"since\s+the\s+(?:beginning|start)\s+of\s+the\s+full[-\s]scale\s+(?:invasion|war)", s):
        start = "2022-02-24"
        notes.append("'full-scale invasion' dated 2022-02-24, as the ledger dates it")
    elif m := re.search(
        rf"since\s+(?:(?P<part>early|mid|late)[-\s])?{month}(?:\s+(?P<year>\d{{4}})|\s+(?P<rel>last\s+year|this\s+year))?",
        s,
    ):
        month_no = MONTHS.index(m["month"]) + 1
        day = {"early": 1, None: 1, "mid": 15, "late": 21}[m["part"]]
        start = dt.date(year_of(m, month_no), month_no, day).isoformat()
        if m["part"] in ("mid", "late"):
            notes.append(f"'{m[0]}' read as from day {day} of the month: check the source")
    elif m := re.search(r"since\s+mid-?\s*(?P<year>\d{4})", s):
        start = f"{m['year']}-07-01"
        notes.append(f"'{m[0]}' coded as from 1 July, as the ledger codes 'mid-2022'")
    elif m := re.search(r"since\s+(?P<year>\d{4})\b", s):
        start = f"{m['year']}-01-01"
    elif m := re.search(r"\b(?:in|during|throughout)\s+(?P<year>20\d\d)\b", s):
        year = int(m["year"])
        start = f"{year}-01-01"
        end = f"{year}-12-31" if dt.date(year, 12, 31) < said else ""
    elif re.search(r"\blast\s+year\b", s) and not re.search(r"since\s+last\s+year", s):
        start, end = f"{said.year - 1}-01-01", f"{said.year - 1}-12-31"
    elif re.search(r"\bthis\s+year\b", s):
        start = f"{said.year}-01-01"
    if m := re.search(
        rf"as\s+of\s+(?:(?P<day>\d{{1,2}})\s+)?{month}(?:\s+(?P<day2>\d{{1,2}}),?)?(?:\s+(?P<year>\d{{4}}))?", s
    ):
        month_no = MONTHS.index(m["month"]) + 1
        year = int(m["year"]) if m["year"] else (said.year if month_no <= said.month else said.year - 1)
        day = int(m["day"] or m["day2"] or 0)
        if day:
            end = dt.date(year, month_no, day).isoformat()
        else:
            nxt = dt.date(year + month_no // 12, month_no % 12 + 1, 1)
            end = min(nxt - dt.timedelta(days=1), said).isoformat()
    if end and end > said.isoformat():
        notes.append(f"period end {end} is after the date said: left empty")
        end = ""
    return start, end, notes
