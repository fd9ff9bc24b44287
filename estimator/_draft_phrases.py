"""The phrase tables of :mod:`estimator.drafting`: how figures, qualifiers, units and verbs are spelled.

Kept apart from the reading rules that use them so :mod:`estimator.drafting` stays one
module of rules a reader can follow; every table here is described, with the ledger
convention it follows, in that module's docstring.
"""

from __future__ import annotations

import re
from decimal import Decimal

from estimator import claims as C

WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12, "a dozen": 12, "a hundred": 100, "a thousand": 1000,
}  # fmt: skip
SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "bn": 10**9}

WORDNUM = (
    r"(?:a\s+dozen|a\s+hundred|a\s+thousand|"
    + "|".join(sorted((w for w in WORD_NUMBERS if " " not in w), key=len, reverse=True))
    + r")"
)
# Digits: grouped in threes by ',' or by (no-break) spaces, or plain, with an optional decimal part.
# A space-grouped number never ends in a calibre ("400,000 122mm" is two numbers).
DIGITS = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d{1,3}(?:[\u00a0\u202f ]\d{3})+(?!\d)(?!\s*-?\s*(?:mm|millimet|centimet))(?:\.\d+)?|\d+(?:\.\d+)?"
SCALE = r"(?:hundred|thousand|million|billion|trillion|bn)\b"
FIG = rf"(?P<@dollar>\$\s?)?(?P<@num>{DIGITS}|\b{WORDNUM}\b)(?:\s*(?P<@scale>{SCALE}))?"
ONE = FIG.replace("@", "")
A, B = FIG.replace("@", "a_"), FIG.replace("@", "b_")
# Not a figure: part of a designation (KN-23, KN-23/24), a calibre, a percentage.
DESIGNATION = re.compile(r"[A-Za-z][-/]?$|\d/$|/$")
NOT_A_COUNT_AFTER = re.compile(r"^\s*(?:-\s*)?(?:mm\b|millimet|centimet|cm\b|%|percent|per\s*cent)", re.I)

PLURAL_UNITS = {"dozens": 12, "hundreds": 100, "thousands": 10**3, "millions": 10**6, "billions": 10**9}
VAGUE = (
    (
        re.compile(r"\b(?:several|a\s+few)\s+dozen\b|\bdozens\b", re.I),
        lambda m: (24, 72),
        "'{t}' coded as between two and six dozen (the ledger's 'several dozen' convention)",
    ),
    (
        re.compile(r"\b(hundreds|thousands|millions|billions)\s+of\s+(thousands|millions|billions)\b", re.I),
        lambda m: (
            PLURAL_UNITS[m[1].lower()] * PLURAL_UNITS[m[2].lower()],
            10 * PLURAL_UNITS[m[1].lower()] * PLURAL_UNITS[m[2].lower()],
        ),
        "'{t}' coded as between {lo:,} and {hi:,} (the ledger's convention: one to ten of the unit)",
    ),
    (
        re.compile(r"\btens\s+of\s+(thousands|millions|billions)\b", re.I),
        lambda m: (10 * PLURAL_UNITS[m[1].lower()], 100 * PLURAL_UNITS[m[1].lower()]),
        "'{t}' coded as between {lo:,} and {hi:,}",
    ),
    (
        re.compile(r"\bseveral\s+(hundred|thousand|million|billion)\b", re.I),
        lambda m: (2 * SCALES[m[1].lower()], 6 * SCALES[m[1].lower()]),
        "'{t}' coded as between {lo:,} and {hi:,} (two to six, as 'several dozen')",
    ),
    (
        re.compile(r"\b(hundreds|thousands|millions|billions)\b(?!\s+of\s+(?:thousands|millions|billions))", re.I),
        lambda m: (PLURAL_UNITS[m[1].lower()], 10 * PLURAL_UNITS[m[1].lower()]),
        "'{t}' coded as between {lo:,} and {hi:,} (the ledger's convention: one to ten of the unit)",
    ),
)
PART_RANGE = re.compile(rf"\b(?P<part>upper|lower|mid|middle)\s+{ONE}\s+range\b", re.I)
PARTS = {
    "lower": (Decimal(0), Decimal("0.3")),
    "mid": (Decimal("0.3"), Decimal("0.7")),
    "middle": (Decimal("0.3"), Decimal("0.7")),
    "upper": (Decimal("0.7"), Decimal(1)),
}
RANGES = (
    re.compile(rf"\bbetween\s+{A}\s+and\s+{B}", re.I),
    re.compile(rf"(?:\bfrom\s+)?{A}\s*(?:to|-|–)\s*{B}", re.I),
)
SINGLE = re.compile(ONE, re.I)

# Qualifying phrases, matched just before a figure (the nearest wins).
QUALIFIER_PHRASES = (
    (
        C.MORE_THAN,
        r"more\s+than|well\s+over|over|upwards?\s+of|in\s+excess\s+of|exceeding|above|greater\s+than|north\s+of",
    ),
    (C.AT_LEAST, r"at\s+least|no\s+fewer\s+than|no\s+less\s+than|not\s+less\s+than|a\s+minimum\s+of"),
    (C.UP_TO, r"up\s+to|as\s+many\s+as|as\s+much\s+as|at\s+most|no\s+more\s+than|a\s+maximum\s+of"),
    (
        C.ABOUT,
        r"about|around|approximately|approx\.|roughly|some|nearly|almost|close\s+to|an\s+estimated|estimated|circa",
    ),
)
QUALIFIER = re.compile(r"\b(?:" + "|".join(f"(?P<{q}>{p})" for q, p in QUALIFIER_PHRASES) + r")\b", re.I)

UNIT = re.compile(
    r"\b(?P<containers>containers?)\b|\b(?P<missiles>missiles?|launches)\b|\b(?P<rounds>shells?|rounds?|rockets?|ammunition)\b|(?P<value>\bdollars?\b|\bUSD\b)",
    re.I,
)
CALIBRE_152 = re.compile(r"\b15[25]\s*-?\s*(?:mm|millimet(?:er|re)s?)\b|\b15\s*-?\s*centimet(?:er|re)s?\b", re.I)
CALIBRE_122_SIZE = r"\b122\s*-?\s*(?:mm|millimet(?:er|re)s?)\b"
CALIBRE_122 = re.compile(rf"{CALIBRE_122_SIZE}|\bmultiple[-\s]rocket|\bMRLs?\b", re.I)
LAUNCH = re.compile(r"\b(?:launch(?:es|ed|ing)?|fired|firing|used|attacks?|struck)\b", re.I)
# Verbs of a transfer: a missile count they govern is of deliveries, whatever else the passage says.
DELIVERY = re.compile(
    r"\b(?:suppl(?:y|ies|ied|ying)|sen[dt]|sending|ship(?:s|ped|ping)?|deliver(?:s|ed|ing|y|ies)?|transfer(?:s|red|ring)?"
    r"|provid(?:e|es|ed|ing)|procur(?:e|es|ed|ing)|acquir(?:e|es|ed|ing)|receiv(?:e|es|ed|ing)|export(?:s|ed|ing)?|g[ai]ve)\b",
    re.I,
)
# "60 of them": a pronoun, so the figure counts what the passage names elsewhere.
PRONOUN = re.compile(r"(?:of\s+)?(?:them|these|those|which|it)\b", re.I)
# A sentence ends at '.', '!' or '?' followed by a space (not a decimal point), or at the passage's end.
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
CAPACITY = re.compile(
    r"\b(?:could|can|would|might|may)\s+(?:\w+\s+)?(?:hold|contain|accommodate|carry|fit)\b"
    r"|\bif\s+(?:all\s+)?(?:were|carried|calculated|filled|loaded)\b|\bconvert(?:s|ed|ing)?\b",
    re.I,
)
# Approximations from below: "nearly 50" launches cannot be a lower bound of 50, so it stays about.
FROM_BELOW = re.compile(r"nearly|almost|close\s+to")
# A clause ends at these: a unit noun after one is not the figure's.
CLAUSE_END = re.compile(r"[;:()\"]|,\s|\.\s|\.$|\s[-–—]\s")
