"""Measure ``estimator claims draft`` on a ledger's own wordings: the share of rows whose fields it recovers.

Each row's ``wording`` is drafted with the row's own date, who, family and url
(:func:`estimator.drafting.draft_accuracy`); the table gives, per field and for
all five together, the share of rows whose drafted value equals the ledger's,
then every row with a field missed.

Usage: ``python benchmarks/draft_accuracy.py [LEDGER]`` (default: the embedded ledger).
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import sys

from estimator.claims import load_claims
from estimator.drafting import MEASURED_FIELDS, draft_accuracy


def main(argv: list[str]) -> int:
    claims = load_claims(argv[0] if argv else None)
    summary, rows = draft_accuracy(claims)
    n = summary["rows"]
    print(f"Ledger: {claims.attrs['source']}, {n} rows\n")
    print("| field | rows recovered | share |")
    print("| --- | ---: | ---: |")
    for f in (*MEASURED_FIELDS, "all five"):
        share = summary["share"][f]
        print(f"| {f} | {round(share * n)} of {n} | {share:.1%} |")
    print("\n| row | fields missed | drafted |")
    print("| --- | --- | --- |")
    for r in rows:
        if r["missed"]:
            drafted = ", ".join(f"{f}={r['drafted'][f] or '(none)'}" for f in r["missed"])
            print(f"| {r['id']} | {', '.join(r['missed'])} | {drafted} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
