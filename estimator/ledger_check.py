"""Lint a claims ledger: warnings an analyst should look at, never a reason to refuse a fit.

``estimator claims check LEDGER`` loads the ledger as a fit does (a ledger the
loader refuses is invalid input, exit status 2, every problem named by file,
row and field) and then warns, exit status 0, of:

``restatement``
    a probable restatement not marked: two rows of one quantity whose figures
    differ by at most :data:`RESTATEMENT_TOLERANCE` of the larger (both ends
    when both rows give a range), with no ``restates`` link between them
    (neither names the other and they name no common original). The later
    row (by date said, then by place in the file) is the candidate; it is
    warned of once, against its earliest such match, the probable original.
    Counts and capacity conversions are compared alike, since a conversion's
    total quoted as a count is the double count this is meant to catch.
``unknown_id``
    a note naming a row id that the ledger does not hold. A note names a row
    by its id (``kr-mnd-2023-12-29-cap152``: lower-case words, a date
    ``YYYY-MM`` or ``YYYY-MM-DD``, optional suffixes), or by a suffix of its
    own id's stem (``-mrl`` in a note of ``tt-fnf-2025-09-rounds`` names
    ``tt-fnf-2025-09-mrl``). Web addresses in a note are skipped, and so is a
    name in quotes (``'-mortar'``): it mentions the name, it does not refer to a row.
``capacity_range``
    a capacity conversion whose load per container (``figure /
    basis_containers``, and ``figure_high / basis_containers`` for a range)
    lies outside the prior's central 90% interval of that load
    (:func:`per_container_prior_interval`).
``url``
    a ``url`` cell that is not one or more absolute http(s) links
    (several are separated by ``;``).
``surprising``
    with a saved run (``--run``): a claim whose ``p_figure`` under the run's
    posterior predictive is below :data:`estimator.stats.SURPRISE_P`, computed
    by :func:`estimator.scoring.score_claims` exactly as ``estimator score``
    and the claim check table compute it. Nothing is fitted here.

A period that ends before it starts, or after the date said, is refused by the
loader itself (a fit cannot use it), so it is reported as invalid input with
exit status 2, not as a warning.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from estimator import claims as C
from estimator import names as N
from estimator.errors import InputError
from estimator.formatting import fmt_number
from estimator.inference import load_result
from estimator.priors import PriorSet, load_priors
from estimator.scoring import score_claims
from estimator.stats import SURPRISE_P

__all__ = [
    "LedgerWarning",
    "WARNING_KINDS",
    "RESTATEMENT_TOLERANCE",
    "PRIOR_MASS",
    "check_ledger",
    "restatement_warnings",
    "note_id_warnings",
    "capacity_warnings",
    "url_warnings",
    "surprise_warnings",
    "per_container_prior_interval",
    "add_arguments",
    "run",
    "main",
]

EXIT_OK, EXIT_INPUT = 0, 2
RESTATEMENT, UNKNOWN_ID, CAPACITY_RANGE, URL, SURPRISING = (
    "restatement",
    "unknown_id",
    "capacity_range",
    "url",
    "surprising",
)
WARNING_KINDS = (RESTATEMENT, UNKNOWN_ID, CAPACITY_RANGE, URL, SURPRISING)
# Figures within 5% of each other: the rule. It takes 6,700 and "about 7,000" (4.3%)
# as one figure rounded, and keeps apart 13,000 and 16,500 or 5.2 and 6 million.
RESTATEMENT_TOLERANCE = 0.05
# The central 90% of the prior, as every interval the package reports.
PRIOR_MASS = 0.9
# Gauss-Legendre nodes per axis for the capacity prior's distribution function (a smooth
# integrand on the unit square: 200 nodes give it to about 1e-8, far below what a warning needs).
_QUADRATURE_NODES = 200

# A row id as the ledger writes them: lower-case words and a date, optional suffixes.
_ID = re.compile(r"(?<![\w/.\-])[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d{4}-\d{2}(?:-\d{2})?(?:-[a-z0-9]+)*(?![\w/])")
# A suffix reference ("see -mortar and -mrl rows"): a hyphen opening a word.
_SUFFIX = re.compile(r"(?<![\w-])-(?P<suffix>[a-z][a-z0-9]*)\b")
_WEB = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)


@dataclass(frozen=True)
class LedgerWarning:
    """One warning about one row: what kind, where (line and id), the field and the message; ``related`` names the other row."""

    kind: str
    claim: str
    line: int | None
    field: str
    message: str
    related: str = ""

    def __str__(self) -> str:
        where = f"line {self.line} (id {self.claim})" if self.line is not None else f"id {self.claim}"
        return f"{where}: {self.kind}: field '{self.field}': {self.message}"


def _line(claims: pd.DataFrame, cid: str) -> int | None:
    return int(claims.loc[cid, "line"]) if "line" in claims.columns and pd.notna(claims.loc[cid, "line"]) else None


def _restates(claims: pd.DataFrame) -> pd.Series:
    """Each row's ``restates`` (empty when the column is absent or blank)."""
    if "restates" not in claims.columns:
        return pd.Series("", index=claims.index)
    return claims["restates"].fillna("").astype(str)


def _close(a: float, b: float, tolerance: float) -> bool:
    """Both finite and within ``tolerance`` of the larger, or both missing (no range end)."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return not np.isfinite(a) and not np.isfinite(b)
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def _same_figure(a: pd.Series, b: pd.Series, tolerance: float) -> bool:
    if not _close(float(a["figure"]), float(b["figure"]), tolerance):
        return False
    if a["qualifier"] == C.BETWEEN and b["qualifier"] == C.BETWEEN:
        return _close(float(a["figure_high"]), float(b["figure_high"]), tolerance)
    return True


def restatement_warnings(claims: pd.DataFrame, tolerance: float = RESTATEMENT_TOLERANCE) -> list[LedgerWarning]:
    """Probable restatements not marked (module docstring): one warning per later row, against its earliest match."""
    restates = _restates(claims)
    # A row's estimate: the original it restates, else its own.
    estimate = {cid: restates[cid] or cid for cid in claims.index}
    order = sorted(range(len(claims)), key=lambda i: (claims["date_said"].iloc[i], i))
    ids = [claims.index[i] for i in order]
    out = []
    for j, later in enumerate(ids):
        b = claims.loc[later]
        matches = [
            earlier
            for earlier in ids[:j]
            if claims.loc[earlier, "quantity"] == b["quantity"]
            and estimate[earlier] != estimate[later]
            and _same_figure(claims.loc[earlier], b, tolerance)
        ]
        if not matches:
            continue
        first = claims.loc[matches[0]]
        others = f"; it also matches {', '.join(matches[1:])}" if len(matches) > 1 else ""
        message = (
            f"{_figure_text(b)} {b['quantity']} ({b['kind']}, said {b['date_said']}) is within {tolerance:.0%} of "
            f"{matches[0]}'s {_figure_text(first)} ({first['kind']}, said {first['date_said']}), and restates is not set: "
            f"if it repeats that estimate, set restates = {estimate[matches[0]]}{others}"
        )
        out.append(LedgerWarning(RESTATEMENT, later, _line(claims, later), "restates", message, related=matches[0]))
    return out


def _figure_text(row) -> str:
    high = float(row["figure_high"]) if pd.notna(row["figure_high"]) else math.nan
    if row["qualifier"] == C.BETWEEN:
        return f"{fmt_number(float(row['figure']), 'words')} to {fmt_number(high, 'words')}"
    return f"{row['qualifier'].replace('_', ' ')} {fmt_number(float(row['figure']), 'words')}"


def note_id_warnings(claims: pd.DataFrame) -> list[LedgerWarning]:
    """Notes naming row ids that the ledger does not hold (module docstring: how a note names a row)."""
    known = set(claims.index)
    out = []
    for cid, note in claims["note"].fillna("").items():
        text = _WEB.sub(" ", str(note))
        named = [m[0] for m in _ID.finditer(text) if not _quoted(text, m)]
        stem = _stem(cid)
        named += (
            [f"{stem}-{m['suffix']}" for m in _SUFFIX.finditer(text) if not _quoted(text, m)] if stem != cid else []
        )
        for ref in dict.fromkeys(named):
            if ref not in known:
                out.append(
                    LedgerWarning(
                        UNKNOWN_ID,
                        cid,
                        _line(claims, cid),
                        "note",
                        f"the note names '{ref}', which is not a row of this ledger",
                    )
                )
    return out


def _quoted(text: str, m: re.Match) -> bool:
    """A name in quotes ('-mortar') is the name mentioned, not a row referred to."""
    before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
    return before in ("'", '"') and after == before


def _stem(cid: str) -> str:
    """An id without the suffixes after its date (``tt-fnf-2025-09-rounds`` -> ``tt-fnf-2025-09``); the id itself if it has none."""
    m = re.match(r"(.*?-\d{4}-\d{2}(?:-\d{2})?)(?:-[a-z][a-z0-9]*)+$", cid)
    return m[1] if m else cid


def per_container_prior_interval(priors: PriorSet, quantity: str, mass: float = PRIOR_MASS) -> tuple[float, float]:
    r"""Central ``mass`` interval of the prior of the load per container that a capacity conversion speaks of.

    For 122mm rounds the load is a parameter with its own prior
    (``rounds_per_container_122mm``): its quantiles are the distribution's own.
    For 152mm shells the model derives it, :math:`K = P F / M` with payload
    :math:`P`, fill :math:`F` and shell mass :math:`M` independent a priori
    (:mod:`estimator.model`), so its distribution function is

    .. math:: F_K(x) = \int_0^1\!\!\int_0^1 F_P\big(x\, Q_M(u) / Q_F(v)\big)\, du\, dv,

    with :math:`Q` the quantile functions, computed by Gauss-Legendre quadrature
    on the unit square and inverted by root finding. No conversion noise is
    added: the interval is the prior of the load itself.
    """
    lo_p, hi_p = (1 - mass) / 2, (1 + mass) / 2
    P = priors.parameters
    if quantity == C.ROUNDS_122MM:
        q = P[N.ROUNDS_PER_CONTAINER_122MM].preliz().ppf(np.array([lo_p, hi_p]))
        return float(q[0]), float(q[1])
    if quantity != C.SHELLS_152MM:
        raise ValueError(f"no per-container prior for {quantity}")
    payload, mass_kg, fill = (P[n].preliz() for n in (N.CONTAINER_PAYLOAD_KG, N.SHELL_MASS_152MM_KG, N.FILL_152MM))
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    u, w = (nodes + 1) / 2, weights / 2
    ratio = np.asarray(mass_kg.ppf(u))[:, None] / np.asarray(fill.ppf(u))[None, :]
    weight = w[:, None] * w[None, :]

    def cdf(x):
        return float(np.sum(weight * np.asarray(payload.cdf((x * ratio).ravel())).reshape(ratio.shape)))

    top = float(payload.ppf(0.999999) / mass_kg.ppf(1e-6))
    return tuple(float(brentq(lambda x, p=p: cdf(x) - p, 1e-9, top, xtol=1e-6)) for p in (lo_p, hi_p))


def capacity_warnings(claims: pd.DataFrame, priors: PriorSet, mass: float = PRIOR_MASS) -> list[LedgerWarning]:
    """Capacity conversions implying a load per container outside the prior's central ``mass`` interval."""
    out = []
    intervals = {}
    for cid, r in claims[claims["kind"] == C.CAPACITY].iterrows():
        q = r["quantity"]
        if q not in intervals:
            intervals[q] = per_container_prior_interval(priors, q, mass)
        lo, hi = intervals[q]
        basis = float(r["basis_containers"])
        loads = [float(r["figure"]) / basis] + (
            [float(r["figure_high"]) / basis] if r["qualifier"] == C.BETWEEN else []
        )
        outside = [x for x in loads if not lo <= x <= hi]
        if outside:
            said = " to ".join(f"{x:,.0f}" for x in loads)
            out.append(
                LedgerWarning(
                    CAPACITY_RANGE,
                    cid,
                    _line(claims, cid),
                    "figure",
                    f"{fmt_number(float(r['figure']), 'words')} / {basis:,.0f} containers = {said} {q} a container, outside the prior's "
                    f"{mass:.0%} interval {lo:,.0f} to {hi:,.0f} ({priors.source})",
                )
            )
    return out


def url_warnings(claims: pd.DataFrame) -> list[LedgerWarning]:
    """``url`` cells that are not one or more absolute http(s) links separated by ``;``."""
    out = []
    for cid, cell in claims["url"].fillna("").items():
        bad = [part for part in (p.strip() for p in str(cell).split(";")) if not _is_web_link(part)]
        if bad:
            out.append(
                LedgerWarning(URL, cid, _line(claims, cid), "url", f"'{bad[0]}' is not an absolute http(s) link")
            )
    return out


def _is_web_link(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", text)


def surprise_warnings(claims: pd.DataFrame, result, seed: int = 0) -> list[LedgerWarning]:
    """Claims whose ``p_figure`` under the run's posterior predictive is below :data:`estimator.stats.SURPRISE_P`."""
    scores = score_claims(result, claims, seed=seed)
    out = []
    for cid, s in scores[scores["p_figure"] < SURPRISE_P].iterrows():
        message = (
            f"p = {s['p_figure']:.3g} < {SURPRISE_P} ({s['p_meaning']}) under run {result.manifest.get('input_hash', '?')}: "
            f"its 90% predictive interval is {fmt_number(s['pred_q05'], 'words')} to {fmt_number(s['pred_q95'], 'words')}"
            + (" a container" if s["kind"] == C.CAPACITY else "")
        )
        out.append(LedgerWarning(SURPRISING, cid, _line(claims, cid), "figure", message))
    return out


def check_ledger(
    claims: pd.DataFrame, priors: PriorSet | None = None, result=None, *, seed: int = 0
) -> list[LedgerWarning]:
    """Every warning about a loaded ledger, in :data:`WARNING_KINDS` order, then by place in the file.

    ``priors`` default to the run's when ``result`` is given, else to the
    embedded default; ``surprising`` is checked only when ``result`` is given.
    """
    priors = priors if priors is not None else (result.priors if result is not None else load_priors())
    found = [
        *restatement_warnings(claims),
        *note_id_warnings(claims),
        *capacity_warnings(claims, priors),
        *url_warnings(claims),
    ]
    if result is not None:
        found += surprise_warnings(claims, result, seed=seed)
    place = {cid: i for i, cid in enumerate(claims.index)}
    return sorted(found, key=lambda w: (WARNING_KINDS.index(w.kind), place.get(w.claim, 0)))


def _run_file(path: str) -> Path:
    """A run given as its folder (holding ``result.nc``) or as the file itself."""
    p = Path(path)
    return p / "result.nc" if p.is_dir() else p


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``estimator claims check``."""
    parser.add_argument("ledger", help="the claims ledger (CSV) to check")
    parser.add_argument(
        "--priors",
        default=None,
        help="prior file for the per-container range (default: the run's priors, else the embedded default)",
    )
    parser.add_argument(
        "--run",
        default=None,
        help="a saved run (its folder or result.nc): warn of claims its posterior finds surprising",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the scoring's continuation past the fitted months (default 0)"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", dest="output", help="text (default) or json for scripts"
    )


def run(args) -> int:
    """Load the ledger (exit 2 when invalid), print the warnings; exit 0 whether or not there are any."""
    try:
        claims = C.load_claims(args.ledger)
        result = load_result(_run_file(args.run)) if args.run else None
        priors = load_priors(args.priors) if args.priors else None
        warnings = check_ledger(claims, priors, result, seed=args.seed)
    except InputError as exc:
        if args.output == "json":
            print(
                json.dumps(
                    {"ledger": args.ledger, "valid": False, "problems": [asdict(p) for p in exc.problems]}, indent=2
                )
            )
        print(f"estimator: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.output == "json":
        counts = {k: sum(w.kind == k for w in warnings) for k in WARNING_KINDS}
        doc = {
            "ledger": claims.attrs.get("source", args.ledger),
            "valid": True,
            "claims": len(claims),
            "counts": counts,
            "warnings": [asdict(w) for w in warnings],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    for w in warnings:
        print(f"warning: {w}")
    checked = "" if args.run else " (no --run given: surprising claims not checked)"
    print(
        f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} in {len(claims)} claims of {claims.attrs.get('source', args.ledger)}{checked}"
    )
    return EXIT_OK


def main(argv=None) -> int:
    """``estimator claims check`` as a function: parse ``argv`` and run."""
    parser = argparse.ArgumentParser(prog="estimator claims check", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
