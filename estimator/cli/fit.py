"""``estimator fit``: fit the model, print the summary, write result.nc, summary.csv and summary.json."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

from estimator.claims import load_claims
from estimator.cli.common import EXIT_DIAGNOSTICS, check_writable, command, problem
from estimator.errors import InputError, SamplingWarning
from estimator.inference import RESULT_FILE, fit
from estimator.likelihood import DEFAULT_RESTATEMENTS, RESTATEMENTS
from estimator.model import DEFAULT_DYNAMICS, DYNAMICS
from estimator.priors import load_priors
from estimator.sampling import DEFAULT_SAMPLER, SAMPLERS
from estimator.summaries import headline_table, summary_dict
from estimator.timeline import FORECAST_MONTHS


def run(args) -> int:
    """Fit, print the summary, and write result.nc, summary.csv and summary.json (inputs checked before any sampling)."""
    t0 = time.perf_counter()
    out = Path(args.out)
    # Validate everything before any sampling: inputs, date, output folder.
    problems = []
    try:
        priors = load_priors(args.priors, cache=not args.no_cache)
    except InputError as exc:
        problems += exc.problems
        priors = None
    try:
        claims = load_claims(args.claims)
    except InputError as exc:
        problems += exc.problems
    for flag, value in (("--as-of", args.as_of), ("--known-by", args.known_by)):
        try:
            if value is not None:
                dt.date.fromisoformat(value)
        except ValueError:
            problems.append(problem(flag, flag, f"'{value}' is not a date (use YYYY-MM-DD)"))
    if problems:
        raise InputError(problems)
    check_writable(out)

    # The summary below prints any missed threshold in a banner: the Python warning would repeat it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        result = fit(
            claims,
            priors,
            as_of=args.as_of,
            known_by=args.known_by,
            dynamics=args.dynamics,
            restatements=args.restatements,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            seed=args.seed,
            sampler=args.sampler,
            progress=not args.quiet,
            cache=not args.no_cache,
        )
    # Print first: a failure while writing files must not cost the answer.
    wall = time.perf_counter() - t0
    print(result.summary_text(wall))
    result.save(out / RESULT_FILE)
    headline_table(result).to_csv(out / "summary.csv")
    summary = summary_dict(result)
    summary["wall_seconds"] = round(wall, 3)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"Wrote {out / RESULT_FILE}, {out / 'summary.csv'}, {out / 'summary.json'}")
    if args.strict and not result.diagnostics.ok:
        print("--strict: exiting with status 3 because a diagnostic missed its threshold.", file=sys.stderr)
        return EXIT_DIAGNOSTICS
    return 0


def register(sub, common) -> None:
    """Add ``estimator fit`` to the subcommands."""
    f = command(
        sub,
        "fit",
        "fit the model and print the posterior summary",
        "Fit the model to a claims ledger and a prior file (by default the embedded ones), print the\n"
        "posterior summary with the sampler diagnostics, and write result.nc, summary.csv and summary.json.",
        """
        estimator fit --out runs/default
        estimator fit --claims my-claims.csv --known-by 2024-01-31 --out runs/january --strict
        """,
        common,
    )
    f.add_argument("--claims", default=None, help="claims ledger CSV (default: the embedded 2023-2024 ledger)")
    f.add_argument("--priors", default=None, help="prior file TOML (default: the embedded priors/default.toml)")
    f.add_argument(
        "--as-of",
        default=None,
        help=f"date of the headline quantities (default: the latest claim's date; a later date is a forecast, up to {FORECAST_MONTHS} months)",
    )
    f.add_argument(
        "--known-by",
        default=None,
        metavar="DATE",
        help="use only the claims said on or before DATE (a vintage; default: every claim)",
    )
    f.add_argument(
        "--dynamics",
        choices=DYNAMICS,
        default=DEFAULT_DYNAMICS,
        help=f"rate dynamics of containers and missiles over time (default {DEFAULT_DYNAMICS})",
    )
    f.add_argument(
        "--restatements",
        choices=RESTATEMENTS,
        default=DEFAULT_RESTATEMENTS,
        help=f"how a claim that restates another counts: excluded from the likelihood, sharing its original's error, or independent (default {DEFAULT_RESTATEMENTS})",
    )
    f.add_argument("--draws", type=int, default=None, help="draws per chain after tuning (default 1000)")
    f.add_argument(
        "--tune", type=int, default=None, help="tuning steps per chain (default 500 with nutpie, 1000 with pymc)"
    )
    f.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    f.add_argument("--seed", type=int, default=20240223, help="random seed (default 20240223)")
    f.add_argument(
        "--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER, help=f"NUTS implementation (default {DEFAULT_SAMPLER})"
    )
    f.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute the elicited priors and the compiled model instead of reusing them from the cache directory "
        "($ESTIMATOR_CACHE_DIR or the user cache directory); the draws are the same either way",
    )
    f.add_argument("--out", default="estimator-run", help="output folder (default ./estimator-run)")
    f.add_argument("--strict", action="store_true", help="exit 3 when a diagnostic misses its threshold")
    f.set_defaults(func=run)
