"""``estimator backtest``: leave-future-out fits at each vintage, every later claim scored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from estimator.backtest import run_backtest
from estimator.cli.common import (
    add_figure_arguments,
    check_writable,
    command,
    figure_formats,
    problem,
    save_figure,
    use_agg,
)
from estimator.errors import InputError
from estimator.likelihood import DEFAULT_RESTATEMENTS, RESTATEMENTS
from estimator.model import DEFAULT_DYNAMICS, DYNAMICS


def _vintages(text: str | None) -> list[dt.date] | None:
    """The dates of ``--vintages``, every bad one named before any fit."""
    if not text:
        return None
    vintages, problems = [], []
    for v in text.split(","):
        try:
            vintages.append(dt.date.fromisoformat(v.strip()))
        except ValueError:
            problems.append(
                problem("--vintages", "--vintages", f"'{v.strip()}' is not a date (use YYYY-MM-DD, comma-separated)")
            )
    if problems:
        raise InputError(problems)
    return vintages


def run(args) -> int:
    """Leave-future-out backtest over vintages: scores, beliefs, figures and a summary."""
    use_agg()
    from estimator.figures.backtest import plot_backtest_beliefs, plot_backtest_pit  # noqa: PLC0415 - matplotlib, only when drawing

    formats = figure_formats(args)
    vintages = _vintages(args.vintages)
    out = Path(args.out)
    check_writable(out)
    res = run_backtest(
        out,
        claims=args.claims,
        priors=args.priors,
        vintages=vintages,
        horizon_months=args.horizon_months,
        dynamics=args.dynamics,
        restatements=args.restatements,
        method=args.method,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    print(res.summary_text())
    s = res.summary
    note = f"Source: {len(res.claims)} public claims, leave-future-out fits at {s.get('vintages')} vintages ({s.get('dynamics')} rate dynamics); estimator backtest."
    for name, (fig, _) in (
        ("backtest_beliefs", plot_backtest_beliefs(res.beliefs, res.claims, note=note)),
        ("backtest_pit", plot_backtest_pit(res.scores, note=note)),
    ):
        save_figure(fig, out, name, formats, args.dpi)
    print(
        f"Wrote {out}/backtest.csv, backtest.nc, beliefs.csv, summary.json and the figures backtest_beliefs, backtest_pit ({', '.join(formats)})"
    )
    return 0


def register(sub, common) -> None:
    """Add ``estimator backtest`` to the subcommands."""
    bt = command(
        sub,
        "backtest",
        "leave-future-out backtest: fit at each vintage, score every later claim, against two baselines",
        "For each vintage (default: every month end from the first claim to the last), fit on the claims\n"
        "known then and score every later claim, against forward Monte Carlo from the priors and the\n"
        "latest claim carried forward. Rerunning into the same folder resumes.",
        """
        estimator backtest --out backtest-run --workers 2
        estimator backtest --vintages 2023-12-31,2024-06-30 --method exact --format png,svg
        """,
        common,
    )
    bt.add_argument("--claims", default=None, help="claims ledger CSV (default: the embedded ledger)")
    bt.add_argument("--priors", default=None, help="prior file TOML (default: the embedded priors)")
    bt.add_argument(
        "--vintages",
        default=None,
        help="comma-separated vintage dates (default: every month end from the first claim to the last)",
    )
    bt.add_argument(
        "--horizon-months",
        type=int,
        default=12,
        help="score claims at most this many months past the vintage (default 12)",
    )
    bt.add_argument(
        "--dynamics", choices=DYNAMICS, default=DEFAULT_DYNAMICS, help=f"rate dynamics (default {DEFAULT_DYNAMICS})"
    )
    bt.add_argument(
        "--restatements",
        choices=RESTATEMENTS,
        default=DEFAULT_RESTATEMENTS,
        help=f"how restatements enter the likelihood (default {DEFAULT_RESTATEMENTS})",
    )
    bt.add_argument(
        "--method",
        choices=("auto", "exact"),
        default="auto",
        help="auto: PSIS from the latest exact fit where k-hat allows (default); exact: refit every vintage",
    )
    bt.add_argument(
        "--draws", type=int, default=None, help="draws per chain of each exact fit (default 1000, as estimator fit)"
    )
    bt.add_argument(
        "--tune",
        type=int,
        default=None,
        help="tuning steps per chain of each exact fit (default 500, as estimator fit)",
    )
    bt.add_argument("--chains", type=int, default=4, help="chains of each exact fit (default 4)")
    bt.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    bt.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    bt.add_argument(
        "--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)"
    )
    bt.add_argument(
        "--out", default="estimator-backtest", help="output folder (default ./estimator-backtest); rerunning resumes"
    )
    add_figure_arguments(bt)
    bt.set_defaults(func=run)
