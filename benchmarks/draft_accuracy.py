"""Measure ``estimator claims draft`` on a ledger's own wordings: the share of rows whose fields it recovers.

Each row's ``wording`` is drafted with the row's own date, who, family and url
(:func:`estimator.drafting.draft_accuracy`), two ways: each wording alone (the
measure the goal is set on), and each statement's wordings (the rows sharing
date said, who and url) read together as one passage. The tables give, per field
and for all five together, the share of rows whose drafted value equals the
ledger's, then every row with a field missed.

Usage: ``python benchmarks/draft_accuracy.py [LEDGER]`` (default: the embedded ledger,
whose result is saved to ``benchmarks/results/draft_accuracy.json``).
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import sys

from resultfile import save

from estimator.claims import load_claims
from estimator.drafting import MEASURED_FIELDS, draft_accuracy


def main(argv: list[str]) -> int:
    claims = load_claims(argv[0] if argv else None)
    (alone, alone_rows), (whole, whole_rows) = draft_accuracy(claims), draft_accuracy(claims, by_statement=True)
    n = alone["rows"]
    out = [
        f"Ledger: {claims.attrs['source']}, {n} rows, {claims.groupby(['date_said', 'who', 'url'], dropna=False).ngroups} statements",
        "",
        "| field | each wording alone | each statement's wordings together |",
        "| --- | ---: | ---: |",
    ]
    for f in (*MEASURED_FIELDS, "all five"):
        a, w = alone["share"][f], whole["share"][f]
        out.append(f"| {f} | {round(a * n)} of {n} ({a:.1%}) | {round(w * n)} of {n} ({w:.1%}) |")
    out += ["", "| row | missed alone | drafted alone | missed with its statement |", "| --- | --- | --- | --- |"]
    for r, t in zip(alone_rows, whole_rows, strict=True):
        if r["missed"] or t["missed"]:
            drafted = ", ".join(f"{f}={r['drafted'][f] or '(none)'}" for f in r["missed"])
            out.append(f"| {r['id']} | {', '.join(r['missed'])} | {drafted} | {', '.join(t['missed']) or '(none)'} |")
    print("\n".join(out))
    if not argv:
        save("draft_accuracy", "python benchmarks/draft_accuracy.py", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
