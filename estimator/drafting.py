"""Draft a ledger row from a sentence: the figure, its qualifier and what it counts, from the wording alone.

``estimator claims draft "SENTENCE" --date D --who W --family F --url U``
proposes one row per figure the sentence gives, deterministically and without
any network, in the ledger's own vocabularies (:data:`estimator.claims.QUANTITIES`,
:data:`~estimator.claims.KINDS`, :data:`~estimator.claims.QUALIFIERS`), and
says what it could not decide (the id and the reliability always: the wording
does not carry them).

How a sentence is read
----------------------
*Figures*: digits with or without thousands separators (``6,700``, ``7 000``),
decimals and number words with a scale (``6.7 thousand``, ``two million``,
``$540 million``), ranges (``between X and Y``, ``X to Y``) and the vague
plurals, coded as the ledger's notes code them: "several dozen" and "dozens"
two to six dozen (24-72); "hundreds", "thousands", "millions", "billions" one
to ten of the unit; "hundreds of thousands" 100,000-1,000,000; "tens of X"
10-100 X; "several X" 2-6 X (the "several dozen" rule); "the upper / mid /
lower N range" the top, middle or bottom three tenths of the span of N's
leading digit (upper 200,000 = 270,000-300,000). Numbers that are part of a
designation (``KN-23``), a calibre (``152 mm``), a percentage or a date
(``2024``, ``15 July``) are not figures.

*Qualifier*: the qualifying phrase nearest before the figure among
"more than", "over", "upward of", "in excess of" (``more_than``); "at least",
"no fewer than" (``at_least``); "up to", "as many as", "at most" (``up_to``);
"about", "around", "approximately", "some", "nearly", "almost", "roughly",
"an estimated" (``about``); a bare figure is ``about`` (the ledger codes a
round number so). A range is ``between``. Two conventions of the ledger
follow: on a capacity conversion an approximate figure is ``could_hold``;
a count of missiles launched is one-sided (``about`` becomes ``at_least``:
launches bound deliveries from below), except "nearly" / "almost" X, which
says the count is below X and stays ``about``.

*Quantity*: the first unit noun after the figure (before the next figure):
containers; missiles; shells, rounds, rockets or ammunition (``shells_152mm`` /
``rounds_122mm`` when a calibre, or for 122mm "multiple rocket launchers", is
named after the figure or, failing that, between the last figure of rounds and
it in its sentence, else ``artillery_rounds``: the ledger reads "artillery
shells" as all artillery rounds); dollars (``value_usd``). A bracketed remark
after a figure is part of its noun ("400,000 (artillery) rounds"). A figure
followed by no words, or by a pronoun only ("60 of them"), borrows the last
unit noun before it, else the first after it in the passage; one followed by
words naming none of these (``49 cargo shipments``) is not a ledger figure.
Missiles are ``missiles_launched`` when the verb nearest the figure in its own
sentence (else in the passage) is one of use ("launched", "fired", "used to
attack", "launches of"), ``missiles_delivered`` when it is one of transfer
("supplied", "sent", "procured", "transferred") or there is none.

*Kind*: ``capacity`` when the passage converts containers ("could / can /
would hold, contain, accommodate", "if all were", "if calculated", "convert"),
or offers two calibres as alternatives ("X 152mm rounds or Y 122mm rounds":
one cargo read two ways), for figures of rounds; an uncalibred conversion is
coded 152mm, as the ledger codes them. ``basis_containers`` is the passage's
container figure. When two figures of one quantity nest (a vague one and a
precise one inside it), the narrower is kept.

*Period* (``estimator._draft_periods``): "since [early|mid|late] MONTH
[YEAR | last year]", "since mid-YEAR", "since YEAR", "in YEAR", "last year",
"this year", "as of DAY MONTH YEAR" and "since the beginning of the full-scale
invasion" (2022-02-24, as the ledger codes it), each relative to the date said.
The phrase tables are in ``estimator._draft_phrases``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from estimator import _draft_phrases as P
from estimator import claims as C
from estimator._draft_periods import MONTHS as _MONTHS
from estimator._draft_periods import period as _period
from estimator.errors import InputError, Problem

__all__ = ["Figure", "Draft", "draft_rows", "draft_accuracy", "MEASURED_FIELDS", "add_arguments", "run", "main"]

EXIT_OK, EXIT_INPUT = 0, 2
MEASURED_FIELDS = ("quantity", "kind", "qualifier", "figure", "figure_high")
# The wording never carries these: the analyst writes them.
ALWAYS_UNDECIDED = ("id", "scope", "reliability")


@dataclass
class Figure:
    """One figure found in a sentence: where it is, its low (and high) value, and the convention applied."""

    start: int
    end: int
    low: Decimal
    high: Decimal | None = None
    dollar: bool = False
    note: str = ""


@dataclass
class Draft:
    """A proposed ledger row (every column as text) and what could not be decided."""

    row: dict
    undecided: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The draft as plain data, for ``--format json``."""
        return {"row": self.row, "undecided": self.undecided}


def _number(text: str, scale: str | None) -> Decimal:
    """The value of a matched number (digits or words) times its scale word."""
    t = re.sub(r"\s+", " ", text.strip().lower())
    value = Decimal(P.WORD_NUMBERS[t]) if t in P.WORD_NUMBERS else Decimal(re.sub(r"[,\u00a0\u202f ]", "", t))
    return value * P.SCALES[scale.lower()] if scale else value


def _is_number_context(text: str, m: re.Match, prefix: str = "") -> bool:
    """False for a designation (KN-23), a calibre (152 mm), a percentage, or a date part (2024, 15 July)."""
    num = m[f"{prefix}num"]
    start, end = m.start(f"{prefix}num"), m.end(f"{prefix}num")
    if P.DESIGNATION.search(text[max(0, start - 2) : start]) or P.NOT_A_COUNT_AFTER.match(text[end:]):
        return False
    before, after = text[:start].lower(), text[end:].lower()
    if m[f"{prefix}scale"] is None and re.fullmatch(r"\d+", num):
        if re.fullmatch(r"(?:19|20)\d\d", num) and not P.UNIT.match(after.lstrip()):
            return False  # a year
        if re.match(r"\s*(?:" + "|".join(_MONTHS) + r")\b", after) or re.search(
            r"\b(?:" + "|".join(_MONTHS) + r")\s*$", before
        ):
            return False  # a day of the month
    return True


def _figures(text: str) -> list[Figure]:
    """Every figure in the sentence, in order; vague plurals and ranges are taken before single numbers."""
    found: list[Figure] = []
    taken: list[tuple[int, int]] = []

    def free(a, b):
        return all(b <= s or a >= e for s, e in taken)

    def add(fig):
        found.append(fig)
        taken.append((fig.start, fig.end))

    for m in P.PART_RANGE.finditer(text):
        n = _number(m["num"], m["scale"])
        unit = Decimal(10) ** (len(str(int(n))) - 1)
        lo, hi = P.PARTS[m["part"].lower()]
        low, high = n + lo * unit, n + hi * unit
        add(Figure(m.start(), m.end(), low, high, note=f"'{m[0]}' coded as between {int(low):,} and {int(high):,}"))
    for pattern, bounds, note in P.VAGUE:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                lo, hi = bounds(m)
                add(Figure(m.start(), m.end(), Decimal(lo), Decimal(hi), note=note.format(t=m[0], lo=lo, hi=hi)))
    for pattern in P.RANGES:
        for m in pattern.finditer(text):
            if not (
                free(m.start(), m.end()) and _is_number_context(text, m, "a_") and _is_number_context(text, m, "b_")
            ):
                continue
            scale_a, scale_b = m["a_scale"], m["b_scale"]
            hi = _number(m["b_num"], scale_b)
            lo = _number(m["a_num"], scale_a or scale_b)  # "5.7 to 6.7 million": the scale is said once
            if lo < hi:
                add(Figure(m.start(), m.end(), lo, hi, dollar=bool(m["a_dollar"] or m["b_dollar"])))
    for m in P.SINGLE.finditer(text):
        if free(m.start(), m.end()) and _is_number_context(text, m):
            add(Figure(m.start(), m.end(), _number(m["num"], m["scale"]), dollar=bool(m["dollar"])))
    return sorted(found, key=lambda f: f.start)


def _qualifier(text: str, fig: Figure, floor: int) -> tuple[str, str, str]:
    """The qualifier of a figure (the nearest qualifying phrase before it, after ``floor``) and a note when a rule decided it."""
    if fig.high is not None:
        return C.BETWEEN, "", ""
    window = text[max(floor, fig.start - 60) : fig.start]
    window = re.split(r"[;:]|\.\s", window)[-1]
    # The nearest phrase wins ("up to approximately 3 million" is approximate), and only one
    # word may stand between it and the figure.
    close = [m for m in P.QUALIFIER.finditer(window) if len(window[m.end() :].split()) <= 1]
    if not close:
        return C.ABOUT, "a figure without a qualifier is coded about", ""
    last = close[-1]
    return last.lastgroup, "", last[0].lower()


def _unit(text: str, fig: Figure, stop: int) -> tuple[str | None, str]:
    """(unit, the words it was read from): the first unit noun in the figure's clause, else the last one before it.

    A figure with no unit noun in its clause (none at all, or only a pronoun: "60 of them")
    and none before it takes the first one after it in the passage ("Kyiv counted at least
    24. All were North Korean missiles."): a bare number counts what the passage names.
    ``None`` with words: the figure counts something that is not a ledger quantity.
    """
    after = text[fig.end : stop].lstrip(" \"'")
    # A remark in brackets right after the figure is part of its noun: "400,000 (artillery) rounds".
    after = re.sub(r"^\(([^()\d]*)\)", r"\1", after)
    clause = after[: m.start()] if (m := P.CLAUSE_END.search(after)) else after
    words = " ".join(clause.split()[:10])
    if fig.dollar:
        return "value", words
    if (u := P.UNIT.search(words)) is not None:
        return u.lastgroup, words
    if words.strip(" .,") and not P.PRONOUN.match(words):
        return None, words
    if before := list(P.UNIT.finditer(text[: fig.start])):
        return before[-1].lastgroup, text[: fig.start]
    later = P.UNIT.search(text, fig.end)
    return (later.lastgroup, text[fig.end :]) if later else (None, "")


def _sentence_start(text: str, fig: Figure) -> int:
    """Where the sentence holding the figure begins."""
    return max([0] + [m.end() for m in P.SENTENCE_END.finditer(text, 0, fig.start)])


def _launched(text: str, fig: Figure) -> bool:
    """Whether a missile figure counts launches: the verb nearest the figure in its own sentence, else in the passage.

    A verb of use ("launched", "fired", "used to attack") makes it launches, one of transfer
    ("supplied", "sent", "procured") deliveries; the figure's own sentence decides before
    the rest of the passage, so "North Korea supplied 100 missiles. Russia launched 60 of
    them." gives one of each. With no such verb anywhere the count is of deliveries.
    """
    start = _sentence_start(text, fig)
    end = m.end() if (m := P.SENTENCE_END.search(text, fig.end)) else len(text)
    for lo, hi in ((start, end), (0, len(text))):
        # (gap between the verb and the figure, 0 for a launch so a tie goes to it, is a launch)
        verbs = [
            (max(v.start() - fig.end, fig.start - v.end(), 0), int(not launch), launch)
            for pattern, launch in ((P.LAUNCH, True), (P.DELIVERY, False))
            for v in pattern.finditer(text, lo, hi)
        ]
        if verbs:
            return min(verbs)[2]
    return False


_ROUNDS = (C.SHELLS_152MM, C.ROUNDS_122MM, C.ARTILLERY_ROUNDS)
_ALL_ARTILLERY = "shells or rounds of no stated calibre read as all artillery rounds (the ledger's convention)"


def _quantity(unit: str, words: str, launched: bool, lead: str = "") -> tuple[str, str]:
    """The ledger quantity of a unit noun, with a note when a convention of the ledger decided it.

    The calibre is the one the figure's own words name, else one named in ``lead``, the
    words between the previous figure of rounds (or the start of the sentence) and this
    one: "converted into 122mm ammunition, the 1,000 containers are 80,000 rounds".
    """
    if unit == "containers":
        return C.CONTAINERS, ""
    if unit == "value":
        return C.VALUE_USD, ""
    if unit == "missiles":
        launched = launched or re.match(r"\s*launches\b", words, re.I)  # "60 launches of such missiles"
        return (C.MISSILES_LAUNCHED, "") if launched else (C.MISSILES_DELIVERED, "")
    for said in (words, lead):
        if P.CALIBRE_152.search(said):
            return C.SHELLS_152MM, ""
        if re.search(P.CALIBRE_122_SIZE, said, re.I):
            return C.ROUNDS_122MM, ""
    # "Rockets for multiple rocket launchers" are 122mm; "artillery and rocket rounds" are not all rockets.
    if P.CALIBRE_122.search(words) and not re.search(r"\bartillery\b", words, re.I):
        return C.ROUNDS_122MM, "MRL rockets coded rounds_122mm, as the ledger codes them"
    return C.ARTILLERY_ROUNDS, _ALL_ARTILLERY


def _cell(x: Decimal | None) -> str:
    """A figure as the ledger writes it: a plain whole number, or a plain decimal."""
    if x is None:
        return ""
    return str(int(x)) if x == x.to_integral_value() else format(x.normalize(), "f")


def draft_rows(sentence: str, *, date: str | dt.date, who: str = "", family: str = "", url: str = "") -> list[Draft]:
    """Propose ledger rows from a sentence: one per figure of a ledger quantity, in the sentence's order.

    Parameters
    ----------
    sentence : str
        The wording, verbatim.
    date : str or date
        The date said (``YYYY-MM-DD``): relative periods ("last year") are read from it.
    who, family, url : str
        Copied into the row as given.

    Returns
    -------
    list of Draft
        Each with every ledger column as text and the list of what could not
        be decided. A sentence with no figure gives one draft whose figure is
        undecided.

    Raises
    ------
    InputError
        When ``date`` is not a ``YYYY-MM-DD`` date or the sentence is empty.
    """
    said = date if isinstance(date, dt.date) else _parse_date(date)
    text = re.sub(r"[\u2018\u2019]", "'", re.sub(r"[\u201c\u201d]", '"', sentence)).strip()
    if not text:
        raise InputError([Problem("<sentence>", "SENTENCE", "wording", "is empty")])
    figures = _figures(text)
    capacity = bool(P.CAPACITY.search(text))
    start, end, period_notes = _period(text, said)
    read = []  # (figure, quantity, notes, undecided)
    skipped = []
    last_rounds = 0  # where the last figure of rounds ends: a calibre named before it is that figure's
    for i, fig in enumerate(figures):
        stop = figures[i + 1].start if i + 1 < len(figures) else len(text)
        unit, words = _unit(text, fig, stop)
        if unit is None and words.strip():
            skipped.append(
                f"figure '{text[fig.start : fig.end]}' ({words.strip()}) is not a ledger quantity: not drafted"
            )
            continue
        lead = text[max(last_rounds, _sentence_start(text, fig)) : fig.start]
        quantity, note = _quantity(unit, words, _launched(text, fig), lead) if unit else (None, "")
        last_rounds = fig.end if quantity in _ROUNDS else last_rounds
        read.append((fig, quantity, [fig.note, note], [] if quantity else ["quantity", "kind"]))
    read = _narrowest(read)
    capacity = capacity or _alternative_calibres(text, read)
    container_figure = next((f for f, q, _, _ in read if q == C.CONTAINERS), None)
    drafts = []
    for fig, quantity, notes, undecided in read or [(None, None, [], ["quantity", "kind", "figure"])]:
        floor = max((f.end for f in figures if fig is not None and f.end <= fig.start), default=0)
        qualifier, qnote, phrase = _qualifier(text, fig, floor) if fig is not None else ("", "", "")
        kind = C.COUNT
        basis = None
        if capacity and quantity in _ROUNDS:
            kind = C.CAPACITY
            if quantity == C.ARTILLERY_ROUNDS:
                quantity = C.SHELLS_152MM
                notes = [n for n in notes if n != _ALL_ARTILLERY] + [
                    "a conversion of no stated calibre coded 152mm, as the ledger codes them"
                ]
            if qualifier == C.ABOUT:
                qualifier, qnote = C.COULD_HOLD, "an approximate capacity is coded could_hold"
            basis = container_figure.low if container_figure is not None else None
            if basis is None:
                undecided.append("basis_containers")
        elif quantity == C.MISSILES_LAUNCHED and qualifier == C.ABOUT and not P.FROM_BELOW.fullmatch(phrase):
            qualifier, qnote = C.AT_LEAST, "a launch count is coded at_least: launches bound deliveries from below"
        if not family:
            undecided.append("source_family")
        row = dict.fromkeys(C.COLUMNS, "")
        row.update(
            date_said=said.isoformat(),
            who=who,
            source_family=family,
            quantity=quantity or "",
            kind=kind if quantity else "",
            qualifier=qualifier,
            figure=_cell(fig.low) if fig else "",
            figure_high=_cell(fig.high) if fig else "",
            basis_containers=_cell(basis),
            period_start=start,
            period_end=end,
            wording=sentence.strip(),
            url=url,
            note=" ".join(n[0].upper() + n[1:] + "." for n in [*notes, qnote, *period_notes] if n),
        )
        drafts.append(Draft(row, [*ALWAYS_UNDECIDED, *dict.fromkeys(undecided), *skipped]))
    return drafts


def _alternative_calibres(text: str, read: list) -> bool:
    """Whether two figures of different calibres are offered as alternatives: "X 152mm rounds or Y 122mm rounds".

    One cargo read in two calibres is a conversion, not two counts (two counts are joined
    by "and"), so the passage is read as converting though no conversion verb is said.
    """
    calibred = [(f, q) for f, q, _, _ in read if q in (C.SHELLS_152MM, C.ROUNDS_122MM)]
    return any(
        q1 != q2 and re.fullmatch(r"[^.;]*\bor\b[^.;]*", text[f1.end : f2.start], re.I)
        for (f1, q1), (f2, q2) in zip(calibred, calibred[1:], strict=False)
    )


def _narrowest(read: list) -> list:
    """Of two figures of one quantity where one range holds the other, keep the narrower (a vague figure restated precisely)."""
    keep = []
    for item in read:
        fig, quantity = item[0], item[1]
        hi = fig.high if fig.high is not None else fig.low
        holder = next(
            (k for k in keep if k[1] == quantity and k[0].high is not None and k[0].low <= fig.low and hi <= k[0].high),
            None,
        )
        if holder is not None:
            keep[keep.index(holder)] = (
                fig,
                quantity,
                [n for n in item[2] if n] + ["the narrower of two figures the sentence gives for it"],
                item[3],
            )
        else:
            keep.append(item)
    return keep


def _parse_date(text: str) -> dt.date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError(text)
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            [Problem("<arguments>", "--date", "date_said", f"'{text}' is not a date (use YYYY-MM-DD)")]
        ) from None


def draft_accuracy(claims, *, by_statement: bool = False) -> tuple[dict, list[dict]]:
    """Share of ledger rows whose :data:`MEASURED_FIELDS` a draft of their own wording recovers.

    Each row's wording is drafted with its own date, who and family. Rows of
    one statement that share one wording (one sentence giving two figures) are
    paired one to one with the sentence's drafts, the pairing that agrees on
    most fields (:func:`_paired`). A field counts as recovered when the draft's text equals the
    row's value written as the ledger writes it (figures compared as numbers).

    With ``by_statement``, the distinct wordings of one statement (the rows
    sharing date said, who and url), each read as a sentence, are drafted
    together as one passage, and its drafts are paired one to one with the
    statement's rows: what the drafts recover from everything the ledger quotes
    of a statement rather than from one quoted fragment.

    Returns
    -------
    (dict, list of dict)
        Per field and for all five together: the share recovered and the
        number of rows; and per row, which fields differ.
    """
    statement = ["date_said", "who", "url"] + ([] if by_statement else ["wording"])
    rows = []
    for _, group in claims.groupby(statement, sort=False, dropna=False):
        r = group.iloc[0]
        wordings = list(dict.fromkeys(group["wording"]))
        passage = " ".join(w if w.rstrip()[-1:] in ".!?" else f"{w.rstrip()}." for w in wordings)
        drafts = draft_rows(
            passage if by_statement else r["wording"],
            date=r["date_said"],
            who=r["who"],
            family=r["source_family"],
            url=r["url"],
        )
        for cid, row, d in _paired(group, [d.row for d in drafts]):
            missed = [f for f in MEASURED_FIELDS if not _same(f, row[f], d[f])]
            rows.append({"id": cid, "missed": missed, "drafted": {f: d[f] for f in MEASURED_FIELDS}})
    order = {cid: k for k, cid in enumerate(claims.index)}
    rows.sort(key=lambda x: order[x["id"]])
    n = len(rows)
    shares = {f: sum(f not in x["missed"] for x in rows) / n for f in MEASURED_FIELDS}
    shares["all five"] = sum(not x["missed"] for x in rows) / n
    return {"rows": n, "share": shares}, rows


def _paired(group: pd.DataFrame, drafts: list[dict]):
    """``(id, row, draft)`` for each row of ``group``: rows and drafts paired one to one, most fields agreeing.

    A sentence's drafts come in the order its figures are written, a
    statement's rows in the ledger's order; pairing by position would count a
    right draft as missed when the two orders differ. The pairing is the
    assignment that maximises the number of agreeing fields over all pairs
    (:func:`scipy.optimize.linear_sum_assignment`), each draft used at most once;
    a row left without a draft (fewer drafts than rows) is compared with an empty one.
    """
    empty = dict.fromkeys(C.COLUMNS, "")
    items = list(group.iterrows())
    agree = np.array(
        [[sum(_same(f, row[f], d[f]) for f in MEASURED_FIELDS) for d in drafts] for _, row in items]
    ).reshape(len(items), len(drafts))
    chosen = dict(zip(*linear_sum_assignment(agree, maximize=True), strict=True)) if drafts else {}
    for i, (cid, row) in enumerate(items):
        yield cid, row, drafts[chosen[i]] if i in chosen else empty


def _same(column: str, value, drafted: str) -> bool:
    if column in ("figure", "figure_high"):
        missing = value is None or value != value  # NaN
        return drafted == "" if missing else drafted != "" and float(drafted) == float(value)
    return str(value) == drafted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``estimator claims draft``."""
    parser.add_argument("sentence", help="the wording, verbatim, in quotes")
    parser.add_argument(
        "--date", required=True, help="date said, YYYY-MM-DD (relative periods such as 'last year' are read from it)"
    )
    parser.add_argument("--who", default="", help="who said it, in words")
    parser.add_argument("--family", default="", help="source family (e.g. us_government)")
    parser.add_argument("--url", default="", help="where it was published")
    parser.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        dest="output",
        help="csv: the rows under the ledger's header; json: for scripts",
    )


def run(args) -> int:
    """Print the drafted rows (CSV with the ledger's header, or JSON) and what could not be decided."""
    try:
        drafts = draft_rows(args.sentence, date=args.date, who=args.who, family=args.family, url=args.url)
    except InputError as exc:
        print(f"estimator: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.output == "json":
        print(
            json.dumps(
                {"columns": list(C.COLUMNS), "drafts": [d.as_dict() for d in drafts]}, indent=2, ensure_ascii=False
            )
        )
        return EXIT_OK
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(C.COLUMNS)
    writer.writerows([d.row[c] for c in C.COLUMNS] for d in drafts)
    print(buf.getvalue(), end="")
    for i, d in enumerate(drafts, start=1):
        print(f"# row {i}: could not decide: {'; '.join(d.undecided)}", file=sys.stderr)
    return EXIT_OK


def main(argv=None) -> int:
    """``estimator claims draft`` as a function: parse ``argv`` and run."""
    parser = argparse.ArgumentParser(prog="estimator claims draft", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
