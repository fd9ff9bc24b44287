"""``estimator score``: claims against a saved run's posterior predictive."""

from __future__ import annotations

import json

import pandas as pd

from estimator.claims import load_claims
from estimator.cli.common import add_figure_arguments, command, figure_formats, save_figure, saved_run_and_out, use_agg
from estimator.reweighting import absorption
from estimator.scoring import coverage_summary, score_claims


def run(args) -> int:
    """Score claims (new ones, or without --claims the fitted ones) against a run's posterior predictive."""
    use_agg()
    from estimator.figures import plot_claim_scores, source_note  # noqa: PLC0415 - matplotlib, only when drawing

    formats = figure_formats(args)
    result, _, out = saved_run_and_out(args)
    claims = load_claims(args.claims) if args.claims else result.claims
    scores = score_claims(result, claims, horizon=args.horizon, seed=args.seed)
    summary = coverage_summary(scores)
    cols = [
        "quantity",
        "qualifier",
        "low",
        "high",
        "pred_q05",
        "pred_q50",
        "pred_q95",
        "p_figure",
        "in_50",
        "in_90",
        "months_extrapolated",
    ]
    with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        print(scores[cols].to_string())
    what = "new claims" if args.claims else "fitted claims (posterior predictive check)"
    print(
        f"\n{summary['claims']} {what}: coverage of the 50% interval {summary['coverage_50']:.2f} (nominal 0.50), "
        f"of the 90% interval {summary['coverage_90']:.2f} (nominal 0.90)"
    )
    print(f"Surprising (p < {summary['surprise_threshold']}): {', '.join(summary['surprising']) or 'none'}")
    if args.claims:
        # The decision FitResult.update and sweeps take: could the run's draws absorb these claims?
        decision = absorption(result, claims, horizon=scores.attrs["horizon"], seed=args.seed)
        if decision is not None:
            verdict = "reweighting the run's draws by PSIS" if decision.holds else "an exact refit"
            print(f"Adding the new claims to the run would take {verdict} ({decision.describe()}).")
            summary.update(
                absorbable=decision.holds, khat=decision.khat, khat_threshold=decision.threshold, ess=decision.ess
            )
    print(
        f"Fitted months end {summary['last_fitted_month']}; forecasts continue the rates' {result.manifest.get('dynamics', 'random_walk')} dynamics up to "
        f"{summary['max_months_extrapolated']} months past them (horizon {summary['horizon']})."
    )
    stem = "scores" if args.claims else "fitted_scores"
    scores.to_csv(out / f"{stem}.csv")
    (out / f"{stem}_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = (
        "How surprising is each new claim?"
        if args.claims
        else "Where each fitted claim falls in its posterior predictive"
    )
    fig, _ = plot_claim_scores(scores, note=source_note(result), title=title)
    save_figure(fig, out, stem, formats, args.dpi)
    print(f"Wrote {out}/{stem}.csv, {stem}_summary.json and the figure {stem} ({', '.join(formats)})")
    return 0


def register(sub, common) -> None:
    """Add ``estimator score`` to the subcommands."""
    sc = command(
        sub,
        "score",
        "score claims not used in a fit (or, without --claims, the fitted ones) against its posterior predictive",
        "Place each claim of a ledger in a saved run's posterior predictive: p-values, coverage of the 50%\n"
        "and 90% intervals, and how far a forecast reaches past the fitted months. Without --claims the\n"
        "fitted claims are scored (a posterior predictive check).",
        """
        estimator score runs/default/result.nc --claims tests/data/new_claims.csv --out build/scores
        estimator score runs/default/result.nc --out build/scores
        """,
        common,
    )
    sc.add_argument("result", metavar="RESULT", help="result.nc written by 'estimator fit'")
    sc.add_argument(
        "--claims", default=None, help="ledger of claims to score (same format); default: the fitted claims"
    )
    sc.add_argument(
        "--horizon", default=None, help="latest date a claim may speak of (default: 24 months after the fitted months)"
    )
    sc.add_argument(
        "--seed", type=int, default=0, help="seed of the random-walk continuation for forecasts (default 0)"
    )
    sc.add_argument("--out", default="estimator-scores", help="output folder (default ./estimator-scores)")
    add_figure_arguments(sc)
    sc.set_defaults(func=run)
