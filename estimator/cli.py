"""Command line: ``estimator fit``. Thin: parses, calls the package, writes files.

Exit codes: 0 success; 2 bad input (every problem listed, no traceback);
3 ``--strict`` and a diagnostic missed its threshold (files are still written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from estimator import names as N
from estimator.errors import InputError, SamplingWarning

EXIT_INPUT, EXIT_DIAGNOSTICS = 2, 3


def _fmt(x: float) -> str:
    ax = abs(x)
    if ax >= 1e9:
        return f"{x / 1e9:.2f} bn"
    if ax >= 1e6:
        return f"{x / 1e6:.2f} M"
    if ax >= 1e4:
        return f"{x:,.0f}"
    return f"{x:,.0f}" if ax >= 100 else f"{x:.3g}"


def _supported(row, column: str) -> float:
    """A table cell rounded to the digits its Monte Carlo error supports (``mcse_<column>``)."""
    from estimator.summaries import round_to_mcse

    return round_to_mcse(row[column], row.get(f"mcse_{column}", float("nan")))


def format_summary(result, wall: float | None = None) -> str:
    """The human-readable summary the CLI prints.

    Medians and interval ends are rounded to the precision their Monte Carlo
    standard error supports (:func:`estimator.summaries.round_to_mcse`).
    """
    from estimator.inference import vintage_label
    from estimator.summaries import headline_table, prob_shells_above, scope_table

    head = headline_table(result)
    lines = [
        f"Posterior {vintage_label(result.manifest)} (median and 90% interval)",
        f"Valuation basis: {result.priors.valuation_basis}",
        "",
        f"{'':46s}{'median':>12s}{'5%':>12s}{'95%':>12s}",
    ]
    for _, r in head.iterrows():
        lines.append(f"{r['label']:46s}" + "".join(f"{_fmt(_supported(r, c)):>12s}" for c in ("median", "q05", "q95")))
    lines += ["", "Containers as each source family counts them (total x family bias):"]
    for _, r in scope_table(result).iterrows():
        lines.append(f"  {r['label']:44s}" + "".join(f"{_fmt(_supported(r, c)):>12s}" for c in ("median", "q05", "q95")))
    p = prob_shells_above(result)
    lines += ["", f"P(152mm shells delivered > 2 million) = {p:.2f}"]
    d = result.diagnostics
    lines += ["", "Diagnostics: " + ", ".join(f"{check} {value} ({threshold})" for check, value, threshold, _ in d.checks())]
    if d.ok:
        lines.append("All diagnostics pass.")
    else:
        bar = "!" * 78
        lines += [bar, "WARNING: THE SAMPLER MISSED A THRESHOLD; do not trust these numbers yet:"]
        lines += [f"  - {p}" for p in d.problems()]
        lines += ["  Try more draws/tune, another seed, or check the claims and priors.", bar]
    m = result.manifest
    lines.append(
        f"Sampler {m.get('sampler')}, {m.get('dynamics')} rate dynamics, {m.get('chains')} chains x {m.get('draws')} draws (+{m.get('tune')} tune), seed {m.get('seed')}, "
        f"input hash {m.get('input_hash')}"
    )
    if wall is not None:
        lines.append(f"Wall time {wall:.1f} s (model build and sampling {m.get('sampling_seconds', float('nan')):.1f} s)")
    return "\n".join(lines)


def _check_writable(out: Path) -> None:
    """Fail before sampling, not after, when results could not be written."""
    if out.exists() and not out.is_dir():
        raise InputError([_problem(str(out), "--out", "exists and is not a directory")])
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise InputError([_problem(str(out), "--out", "is not writable")])


def _problem(file, field, message):
    from estimator.errors import Problem

    return Problem(file, "command line", field, message)


def cmd_fit(args) -> int:
    from estimator.claims import load_claims
    from estimator.inference import RESULT_FILE, fit
    from estimator.priors import load_priors
    from estimator.summaries import headline_table, summary_dict

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
        claims = load_claims(args.claims, families=set(priors.families) if priors else None)
    except InputError as exc:
        problems += exc.problems
    import datetime as dt

    for flag, value in (("--as-of", args.as_of), ("--known-by", args.known_by)):
        try:
            if value is not None:
                dt.date.fromisoformat(value)
        except ValueError:
            problems.append(_problem(flag, flag, f"'{value}' is not a date (use YYYY-MM-DD)"))
    if problems:
        raise InputError(problems)
    _check_writable(out)

    # The summary below prints any missed threshold in a banner: the Python warning would repeat it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        result = fit(
            claims,
            priors,
            as_of=args.as_of,
            known_by=args.known_by,
            dynamics=args.dynamics,
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
    print(format_summary(result, wall))
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


FIGURE_FORMATS = ("png", "svg", "pdf")
FIGURE_DPI = 110  # small PNGs that stay sharp on screen
REPORT_FILE = "report.md"
# Without creation dates and version stamps, redrawing an unchanged run leaves figure files unchanged.
_NO_TIMESTAMPS = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def _load_for_drawing(args):
    """Validate the result path and formats, then load the run (no refitting)."""
    from estimator.inference import load_result

    problems = []
    path = Path(args.result)
    if not path.is_file():
        problems.append(_problem(str(path), "RESULT", "file not found (run `estimator fit` first)"))
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    for f in formats:
        if f not in FIGURE_FORMATS:
            problems.append(_problem(args.format, "--format", f"unknown format '{f}'; one of {', '.join(FIGURE_FORMATS)}"))
    if not formats:
        problems.append(_problem(args.format, "--format", "name at least one format"))
    if problems:
        raise InputError(problems)
    out = Path(args.out) if args.out else path.parent
    _check_writable(out)
    return load_result(path), out, formats


def _write_figures(result, out: Path, formats, dpi: int) -> dict[str, Path]:
    """Draw the standard figures and write each in every format; return name -> first file."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    from estimator.figures import standard_figures

    written = {}
    for name, (fig, _) in standard_figures(result).items():
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            # Explicit bbox: some imports switch the savefig default, and legends sit outside the axes.
            fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.12, metadata=_NO_TIMESTAMPS.get(fmt))
            written.setdefault(name, path)
        plt.close(fig)
    return written


def cmd_figures(args) -> int:
    result, out, formats = _load_for_drawing(args)
    written = _write_figures(result, out, formats, args.dpi)
    print(f"Wrote {len(written)} figures ({', '.join(formats)}) to {out}")
    return 0


def cmd_report(args) -> int:
    from estimator.report import report_markdown

    result, out, formats = _load_for_drawing(args)
    written = _write_figures(result, out, formats, args.dpi)
    # Link the PNG when there is one: every Markdown viewer shows it.
    links = {name: path.with_suffix(".png").name if "png" in formats else path.name for name, path in written.items()}
    (out / REPORT_FILE).write_text(report_markdown(result, links), encoding="utf-8")
    print(f"Wrote {out / REPORT_FILE} and {len(written)} figures ({', '.join(formats)})")
    return 0


def cmd_sweep(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from estimator.figures import plot_sweep
    from estimator.sweeps import load_sweep, run_sweep

    spec = load_sweep(args.file)
    out = Path(args.out)
    _check_writable(out)
    table = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler, mode=args.mode, progress=not args.quiet)
    for quantity in (N.SHELLS_152MM, N.VALUE_USD):
        fig, _ = plot_sweep(table, quantity, spec.grid_keys)
        fig.savefig(out / f"sweep_{quantity}.png", dpi=FIGURE_DPI, bbox_inches="tight")
        plt.close(fig)
    failed = int((table["status"] != "ok").sum())
    missed = int((~table["diagnostics_ok"].astype(bool)).sum())
    swept = list(dict.fromkeys(k for p in spec.points for k in p))
    cols = [c for c in (*swept, "shells_152mm_median", "value_usd_median", "method", "diagnostics_ok") if c in table]
    print(table[cols].to_string(index=False))
    print(f"{len(table)} points: {failed} failed, {missed} missed a diagnostic threshold. Wrote {out}/sweep.csv, sweep.parquet, sweep.nc and figures.")
    if "method" in table:
        print("Methods: " + ", ".join(f"{m} {c}" for m, c in table["method"].value_counts().items()))
    return 0


def _add_drawing_arguments(p) -> None:
    p.add_argument("result", metavar="RESULT", help="a saved run (result.nc from `estimator fit`)")
    p.add_argument("--out", default=None, help="output folder (default: the folder holding RESULT)")
    p.add_argument("--format", default="png", help=f"comma-separated figure formats from {', '.join(FIGURE_FORMATS)} (default png)")
    p.add_argument("--dpi", type=int, default=FIGURE_DPI, help=f"resolution of raster figures (default {FIGURE_DPI})")


def _saved_run_and_out(args):
    """Load RESULT and prepare --out, naming a missing file before anything is computed."""
    from estimator.inference import load_result

    path = Path(args.result)
    if not path.is_file():
        raise InputError([_problem(str(path), "RESULT", "file not found (give the result.nc that 'estimator fit' wrote)")])
    out = Path(args.out)
    _check_writable(out)
    return load_result(path), path, out


def cmd_sensitivity(args) -> int:
    """Print the sensitivity tables; write them as CSV and the two figures as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from estimator import sensitivity as S
    from estimator.sensitivity_plots import plot_influence_tornado, plot_variance_shares

    result, path, out = _saved_run_and_out(args)
    method = "auto" if args.refit else S.PSIS
    source = f"Source: estimator sensitivity, run {result.manifest.get('input_hash')} ({path.name})"

    psense = S.sensitivity_table(result)
    influence = S.influence_table(result, method=method)
    recon = S.reconciliation_table(result, method=method)
    shares = S.value_variance_shares(result)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 110, "display.float_format", "{:,.3g}".format):
        print("Power-scaling sensitivity (>= 0.05 flags a component):")
        print(psense[["prior", "likelihood", "in_words"]].to_string())
        print("\nInfluence: shift of each median when a claim or family is left out (%):")
        wide = influence.pivot_table(index=["level", "left_out"], columns="quantity", values="shift_median_pct", sort=False)
        meta = influence.drop_duplicates(["level", "left_out"]).set_index(["level", "left_out"])[["method", "khat", "reliable"]]
        print(wide.join(meta).to_string())
        print(f"\nReconciliation of {N.LABELS[N.SHELLS_152MM]}:")
        print(recon.drop(columns="claims").to_string())
        print(recon.attrs["conflict"])
        print("\nShare of the posterior variance of value:")
        print(shares.to_string())
    if not args.refit and not influence["reliable"].all():
        print("\nSome PSIS rows have k-hat above the threshold (reliable = False); rerun with --refit for exact refits.")

    psense.to_csv(out / "sensitivity_psense.csv")
    influence.to_csv(out / "sensitivity_influence.csv", index=False)
    recon.to_csv(out / "sensitivity_reconciliation.csv")
    shares.to_csv(out / "sensitivity_variance_shares.csv")
    for name, (fig, _) in {
        "sensitivity_tornado.png": plot_influence_tornado(influence, source=source),
        "sensitivity_variance_shares.png": plot_variance_shares(shares, source=source),
    }.items():
        fig.savefig(out / name, dpi=150)
        plt.close(fig)
    print(f"Wrote sensitivity_*.csv, sensitivity_tornado.png and sensitivity_variance_shares.png to {out}")
    return 0


def cmd_validate(args) -> int:
    """``validate sbc``: simulation-based calibration; ``validate reference``: IS reference vs a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from estimator import validation as V

    out = Path(args.out)
    _check_writable(out)
    if args.action == "reference":
        from estimator.inference import load_result

        path = Path(args.result)
        if not path.is_file():
            raise InputError([_problem(str(path), "RESULT", "file not found (give the result.nc that 'estimator fit' wrote)")])
        result = load_result(path)
        ref = V.reference_posterior(result.claims, result.priors, as_of=result.manifest.get("as_of"), dynamics=result.manifest.get("dynamics"), draws=args.reference_draws, seed=args.seed)
        table = V.compare_with_reference(result, ref)
        with pd.option_context("display.width", 200, "display.float_format", "{:,.4g}".format):
            print(table.to_string(index=False))
        print(f"Importance sampling: {ref['draws']:,} prior draws, ESS {ref['ess']:,.0f}, Pareto k-hat {ref['khat']:.2f} (reliable below 0.7)")
        table.to_csv(out / "reference_comparison.csv", index=False)
        (out / "reference_diagnostics.json").write_text(json.dumps({k: ref[k] for k in ("draws", "ess", "khat")}, indent=2) + "\n")
        print(f"{int(table['agrees'].sum())} of {len(table)} quantiles agree within 4 standard errors. Wrote {out}/reference_comparison.csv")
        return 0
    from estimator.validation_plots import plot_sbc_ecdf, plot_sbc_ranks

    t0 = time.perf_counter()
    table = V.run_sbc(args.simulations, out, seed=args.seed, claims=args.claims, priors=args.priors, workers=args.workers, draws=args.draws, tune=args.tune, chains=args.chains, progress=not args.quiet)
    summary = V.sbc_summary(table)
    summary.to_csv(out / "sbc_summary.csv")
    with pd.option_context("display.width", 200, "display.float_format", "{:,.3f}".format):
        print(summary.to_string())
    missed = int((~table["diagnostics_ok"].astype(bool)).sum())
    reasons = (f"{int((table['divergences'] > 0).sum())} with divergences, {int((table['max_rhat'] > 1.01).sum())} with R-hat > 1.01, "
               f"{int((table['min_ess_bulk'] < 100 * args.chains).sum())} with bulk ESS < {100 * args.chains}")
    ledger = f" (ledger {Path(args.claims).name})" if args.claims else ""
    note = (f"Source: estimator validate sbc{ledger}, {len(table)} simulations, seed {args.seed}, {args.chains} chains × {args.draws} draws each. "
            f"Refits missing a diagnostic threshold are kept (dropping them would bias the ranks): {reasons}.")
    for name, (fig, _) in {"sbc_ecdf_difference.png": plot_sbc_ecdf(table, summary, note=note), "sbc_rank_histograms.png": plot_sbc_ranks(table, note=note)}.items():
        fig.savefig(out / name, dpi=FIGURE_DPI, bbox_inches="tight")
        plt.close(fig)
    print(f"{len(table)} simulations in {time.perf_counter() - t0:.0f} s; {missed} missed a diagnostic threshold ({reasons}). "
          f"Wrote {out}/sbc.csv, sbc_summary.csv, sbc_ecdf_difference.png, sbc_rank_histograms.png")
    return 0


def cmd_score(args) -> int:
    """Score claims (new ones, or without --claims the fitted ones) against a run's posterior predictive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from estimator.claims import load_claims
    from estimator.figures import source_note
    from estimator.validation import coverage_summary, score_claims
    from estimator.validation_plots import plot_claim_scores

    result, _, out = _saved_run_and_out(args)
    claims = load_claims(args.claims, families=set(result.priors.families)) if args.claims else result.claims
    scores = score_claims(result, claims, horizon=args.horizon, seed=args.seed)
    summary = coverage_summary(scores)
    cols = ["quantity", "qualifier", "low", "high", "pred_q05", "pred_q50", "pred_q95", "p_figure", "in_50", "in_90", "months_extrapolated"]
    with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        print(scores[cols].to_string())
    what = "new claims" if args.claims else "fitted claims (posterior predictive check)"
    print(f"\n{summary['claims']} {what}: coverage of the 50% interval {summary['coverage_50']:.2f} (nominal 0.50), "
          f"of the 90% interval {summary['coverage_90']:.2f} (nominal 0.90)")
    print(f"Surprising (p < {summary['surprise_threshold']}): {', '.join(summary['surprising']) or 'none'}")
    print(f"Fitted months end {summary['last_fitted_month']}; forecasts extrapolate the rate's random walk up to "
          f"{summary['max_months_extrapolated']} months past them (horizon {summary['horizon']}).")
    stem = "scores" if args.claims else "fitted_scores"
    scores.to_csv(out / f"{stem}.csv")
    (out / f"{stem}_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = "How surprising is each new claim?" if args.claims else "Where each fitted claim falls in its posterior predictive"
    fig, _ = plot_claim_scores(scores, note=source_note(result), title=title)
    fig.savefig(out / f"{stem}.png", dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"Wrote {out}/{stem}.csv, {stem}_summary.json and {stem}.png")
    return 0


def cmd_backtest(args) -> int:
    """Leave-future-out backtest over vintages: scores, beliefs, figures and a summary."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from estimator.backtest import run_backtest
    from estimator.backtest_plots import plot_backtest_beliefs, plot_backtest_pit

    vintages = None
    if args.vintages:
        vintages, problems = [], []
        for v in args.vintages.split(","):
            try:
                vintages.append(dt.date.fromisoformat(v.strip()))
            except ValueError:
                problems.append(_problem("--vintages", "--vintages", f"'{v.strip()}' is not a date (use YYYY-MM-DD, comma-separated)"))
        if problems:
            raise InputError(problems)
    out = Path(args.out)
    _check_writable(out)
    res = run_backtest(
        out, claims=args.claims, priors=args.priors, vintages=vintages, horizon_months=args.horizon_months, dynamics=args.dynamics,
        method=args.method, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed, workers=args.workers,
        scheduler=args.scheduler, progress=not args.quiet,
    )
    s = res.summary
    print(f"Backtest ({s.get('dynamics')} rate dynamics, method {s.get('method')}): {s.get('vintages')} vintages, {s.get('exact_fits')} exact fits, "
          f"{s.get('pairs', 0)} (vintage, later claim) pairs over {s.get('claims_scored', 0)} claims, horizon {s.get('horizon_months')} months")
    if s.get("pairs"):
        print(f"Coverage of later claims: 50% interval {s['coverage_50']:.2f} (nominal 0.50), 90% interval {s['coverage_90']:.2f} (nominal 0.90)")
        print(f"Mean log predictive density per claim, on the {s['pairs_common']} pairs every method scores:")
        print(f"  model {s['model_lpd']:.3f}   prior only {s['prior_lpd']:.3f}   latest claim carried forward {s['persistence_lpd']:.3f}")
        print(f"  (over all {s['pairs']} pairs: model {s['model_lpd_all']:.3f}, prior only {s['prior_lpd_all']:.3f})")
    if s.get("fits_missing_diagnostics"):
        print(f"WARNING: {s['fits_missing_diagnostics']} of {s['exact_fits']} exact fits missed a sampler diagnostic threshold (see beliefs.csv).", file=sys.stderr)
    note = f"Source: {len(res.claims)} public claims, leave-future-out fits at {s.get('vintages')} vintages ({s.get('dynamics')} rate dynamics); estimator backtest."
    formats = args.format.split(",")
    for name, (fig, _) in (("backtest_beliefs", plot_backtest_beliefs(res.beliefs, res.claims, note=note)), ("backtest_pit", plot_backtest_pit(res.scores, note=note))):
        for fmt in formats:
            fig.savefig(out / f"{name}.{fmt}", dpi=args.dpi, bbox_inches="tight", pad_inches=0.12, metadata=_NO_TIMESTAMPS.get(fmt))
        plt.close(fig)
    print(f"Wrote {out}/backtest.csv, backtest.nc, beliefs.csv, summary.json and the figures backtest_beliefs, backtest_pit ({args.format})")
    return 0


def build_parser() -> argparse.ArgumentParser:

    from estimator.inference import DEFAULT_SAMPLER, SAMPLERS
    from estimator.model import DEFAULT_DYNAMICS, DYNAMICS, FORECAST_MONTHS

    from estimator import __version__

    parser = argparse.ArgumentParser(prog="estimator", description="Reconcile conflicting public estimates with Bayesian inference.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit the model and print the posterior summary")
    f.add_argument("--claims", default=None, help="claims ledger CSV (default: the embedded 2023-2024 ledger)")
    f.add_argument("--priors", default=None, help="prior file TOML (default: the embedded priors/default.toml)")
    f.add_argument("--as-of", default=None, help=f"date of the headline quantities (default: the latest claim's date; a later date is a forecast, up to {FORECAST_MONTHS} months)")
    f.add_argument("--known-by", default=None, metavar="DATE", help="use only the claims said on or before DATE (a vintage; default: every claim)")
    f.add_argument("--dynamics", choices=DYNAMICS, default=DEFAULT_DYNAMICS, help=f"rate dynamics of containers and missiles over time (default {DEFAULT_DYNAMICS})")
    f.add_argument("--draws", type=int, default=None, help="draws per chain after tuning (default 1000 with pymc, 500 with nutpie)")
    f.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: as many as draws)")
    f.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    f.add_argument("--seed", type=int, default=20240223, help="random seed (default 20240223)")
    f.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER, help=f"NUTS implementation (default {DEFAULT_SAMPLER})")
    f.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute the elicited priors and the compiled model instead of reusing them from the cache directory "
        "($ESTIMATOR_CACHE_DIR or the user cache directory); the draws are the same either way",
    )
    f.add_argument("--out", default="estimator-run", help="output folder (default ./estimator-run)")
    f.add_argument("--strict", action="store_true", help="exit 3 when a diagnostic misses its threshold")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fit)
    g = sub.add_parser("figures", help="draw the standard figures of a saved run (no refitting)")
    _add_drawing_arguments(g)
    g.set_defaults(func=cmd_figures)
    r = sub.add_parser("report", help="write a Markdown report of a saved run, with its figures")
    _add_drawing_arguments(r)
    r.set_defaults(func=cmd_report)
    s = sub.add_parser("sweep", help="refit the model at many prior settings (a grid or a list), resumably")
    s.add_argument("file", metavar="FILE", help="sweep file (TOML; see sweeps/prices-and-fill.toml)")
    s.add_argument("--out", default="sweep-run", help="output folder (default ./sweep-run); rerunning resumes")
    s.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    s.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    s.add_argument("--mode", choices=("exact", "approx"), default="exact", help="exact refits, or PSIS reweighting of one reference fit")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
    v = sub.add_parser("sensitivity", help="prior/likelihood sensitivity, claim influence, reconciliation and variance shares of a run")
    v.add_argument("result", help="result.nc written by 'estimator fit'")
    v.add_argument("--out", default="estimator-sensitivity", help="output folder (default ./estimator-sensitivity)")
    v.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refit exactly where PSIS k-hat is too high (default); --no-refit reweights only and flags those rows",
    )
    v.set_defaults(func=cmd_sensitivity)
    val = sub.add_parser("validate", help="simulation-based calibration, or compare a run with an importance-sampling reference")
    val.add_argument("action", choices=("sbc", "reference"), help="sbc: calibrate the default model; reference: check RESULT against importance sampling")
    val.add_argument("result", nargs="?", metavar="RESULT", help="result.nc (reference only)")
    val.add_argument("--claims", default=None, help="ledger whose shape SBC simulates (default: the embedded ledger)")
    val.add_argument("--priors", default=None, help="prior file for SBC (default: the embedded priors)")
    val.add_argument("--simulations", type=int, default=200, help="SBC simulations (default 200)")
    val.add_argument("--workers", type=int, default=1, help="local worker processes for SBC (default 1)")
    val.add_argument("--draws", type=int, default=1000, help="draws per chain of each SBC refit (default 1000)")
    val.add_argument("--tune", type=int, default=1000, help="tuning steps per chain of each SBC refit (default 1000)")
    val.add_argument("--chains", type=int, default=2, help="chains of each SBC refit (default 2)")
    val.add_argument("--reference-draws", type=int, default=4_000_000, help="prior draws of the importance-sampling reference (default 4 million)")
    val.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    val.add_argument("--out", default="estimator-validation", help="output folder (default ./estimator-validation); an SBC rerun resumes")
    val.add_argument("--quiet", action="store_true", help="no progress bar")
    val.set_defaults(func=cmd_validate)
    sc = sub.add_parser("score", help="score claims not used in a fit (or, without --claims, the fitted ones) against its posterior predictive")
    sc.add_argument("result", metavar="RESULT", help="result.nc written by 'estimator fit'")
    sc.add_argument("--claims", default=None, help="ledger of claims to score (same format); default: the fitted claims")
    sc.add_argument("--horizon", default=None, help="latest date a claim may speak of (default: 24 months after the fitted months)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the random-walk continuation for forecasts (default 0)")
    sc.add_argument("--out", default="estimator-scores", help="output folder (default ./estimator-scores)")
    sc.set_defaults(func=cmd_score)
    bt = sub.add_parser(
        "backtest",
        help="leave-future-out backtest: fit at each vintage, score every later claim, against two baselines",
        description="For each vintage (default: every month end from the first claim to the last), fit on the claims known then and score every later claim, against forward Monte Carlo from the priors and the latest claim carried forward.",
        epilog="example: estimator backtest --out backtest-run --workers 2",
    )
    bt.add_argument("--claims", default=None, help="claims ledger CSV (default: the embedded ledger)")
    bt.add_argument("--priors", default=None, help="prior file TOML (default: the embedded priors)")
    bt.add_argument("--vintages", default=None, help="comma-separated vintage dates (default: every month end from the first claim to the last)")
    bt.add_argument("--horizon-months", type=int, default=12, help="score claims at most this many months past the vintage (default 12)")
    bt.add_argument("--dynamics", choices=DYNAMICS, default=DEFAULT_DYNAMICS, help=f"rate dynamics (default {DEFAULT_DYNAMICS})")
    bt.add_argument("--method", choices=("auto", "exact"), default="auto", help="auto: PSIS from the latest exact fit where k-hat allows (default); exact: refit every vintage")
    bt.add_argument("--draws", type=int, default=1000, help="draws per chain of each exact fit (default 1000)")
    bt.add_argument("--tune", type=int, default=1000, help="tuning steps per chain of each exact fit (default 1000)")
    bt.add_argument("--chains", type=int, default=2, help="chains of each exact fit (default 2)")
    bt.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    bt.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    bt.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    bt.add_argument("--out", default="estimator-backtest", help="output folder (default ./estimator-backtest); rerunning resumes")
    bt.add_argument("--format", default="png", help="figure formats, comma-separated: png, svg, pdf (default png)")
    bt.add_argument("--dpi", type=int, default=FIGURE_DPI, help=f"figure resolution (default {FIGURE_DPI})")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.set_defaults(func=cmd_backtest)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("draws", "tune", "chains", "workers", "simulations", "reference_draws"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    if getattr(args, "action", None) == "reference" and not args.result:
        parser.error("validate reference needs RESULT (a result.nc from 'estimator fit')")
    try:
        return args.func(args)
    except InputError as exc:
        print(f"estimator: {exc}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
