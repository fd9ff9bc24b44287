"""``estimator claims check`` and ``estimator claims draft``: lint a ledger, and propose a row from a sentence."""

from __future__ import annotations

from estimator import drafting, ledger_check
from estimator.cli.common import command


def register(sub, common) -> None:
    """Add ``estimator claims check`` and ``estimator claims draft`` to the subcommands."""
    group = command(
        sub,
        "claims",
        "lint a claims ledger, or draft a ledger row from a sentence",
        "Tools for the analyst keeping the ledger. 'check' warns of probable restatements not marked,\n"
        "notes naming missing rows, conversions outside the prior's per-container range, links that are\n"
        "not http(s) and, given a saved run, surprising claims; it never refuses a ledger a fit accepts.\n"
        "'draft' proposes a row from a sentence's wording alone and says what it could not decide.",
        """
        estimator claims check estimator/data/claims.csv
        estimator claims draft "more than 10,000 containers since September 2023" --date 2024-02-23 --family us_government
        """,
        [],
    )
    csub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = command(
        csub,
        "check",
        "warnings about a ledger (exit 0 with warnings, 2 when the ledger is invalid)",
        "Load LEDGER as a fit does (a ledger it refuses is invalid input: exit 2, every problem named by\n"
        "file, row and field), then print one warning per finding: restatement, unknown_id,\n"
        "capacity_range, url and, with --run, surprising (p < 0.05 under the run's posterior predictive,\n"
        "as 'estimator score' computes it; nothing is fitted). Exit 0 whether or not it warns.",
        """
        estimator claims check estimator/data/claims.csv
        estimator claims check estimator/data/claims.csv --run runs/default --format json
        """,
        common,
    )
    ledger_check.add_arguments(check)
    check.set_defaults(func=ledger_check.run)
    draft = command(
        csub,
        "draft",
        "propose a ledger row from a sentence's wording (no network, deterministic)",
        "Read the figure, qualifier, quantity, kind, basis and period from SENTENCE by the ledger's own\n"
        "phrase conventions, and print the row under the ledger's header with what could not be decided\n"
        "(on stderr; in the JSON with --format json). A sentence with several figures gives one row each.",
        """
        estimator claims draft "could hold more than 6 million 152-millimeter artillery shells" --date 2024-08-27 --family south_korean_government
        estimator claims draft "In 2024, Ukraine recorded around 60 launches" --date 2024-11-27 --format json
        """,
        common,
    )
    drafting.add_arguments(draft)
    draft.set_defaults(func=drafting.run)
