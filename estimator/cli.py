"""Command line: ``estimator fit``, ``figures``, ``report``, ``sweep``, ``sensitivity``,
``validate sbc``, ``validate reference``, ``score``, ``backtest``. Thin: parses,
calls the package, writes files.

Every subcommand takes ``--quiet`` (no progress bars, no informational log
messages) and ``-v``/``-vv`` (the package's log on stderr at INFO/DEBUG); every
one that draws figures takes ``--format`` and ``--dpi``.

``estimator cache info`` and ``estimator cache clear`` show and empty the
cache directory (:mod:`estimator.cache`).

Exit codes: 0 success; 1 a failure that is not the input's (compiling or
sampling the model, say: one message naming what failed, the input hash and
whether the cache was used; the trace only with ``-v``); 2 bad input (every
problem listed, no traceback); 3 ``--strict`` and a diagnostic missed its
threshold (files are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

from estimator import cache as estimator_cache
from estimator import names as N
from estimator.errors import FitError, InputError, SamplingWarning
from estimator.formatting import fmt_number, vintage_label

EXIT_FAILURE, EXIT_INPUT, EXIT_DIAGNOSTICS = 1, 2, 3
log = logging.getLogger("estimator.cli")


def _cells(r) -> str:
    """Median, 5% and 95% of a table row at their supported precision, right-aligned in 12-character columns."""
    return "".join(f"{fmt_number(_supported(r, c), 'table'):>12s}" for c in ("median", "q05", "q95"))


def _supported(row, column: str) -> float:
    """A table cell rounded to the digits its Monte Carlo error supports (``mcse_<column>``)."""
    from estimator.summaries import round_to_mcse

    return round_to_mcse(row[column], row.get(f"mcse_{column}", float("nan")))


def format_summary(result, wall: float | None = None) -> str:
    """The human-readable summary the CLI prints.

    Medians and interval ends are rounded to the precision their Monte Carlo
    standard error supports (:func:`estimator.summaries.round_to_mcse`).
    """
    from estimator.summaries import headline_table, prob_shells_above, scope_table

    head = headline_table(result)
    lines = [
        f"Posterior {vintage_label(result.manifest)} (median and 90% interval)",
        f"Valuation basis: {result.priors.valuation_basis}",
        "",
        f"{'':46s}{'median':>12s}{'5%':>12s}{'95%':>12s}",
    ]
    for _, r in head.iterrows():
        lines.append(f"{r['label']:46s}{_cells(r)}")
    lines += ["", "Containers as each source family counts them (total x family bias):"]
    for _, r in scope_table(result).iterrows():
        lines.append(f"  {r['label']:44s}{_cells(r)}")
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
        claims = load_claims(args.claims)
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


def _figure_formats(args) -> list[str]:
    """The formats named by ``--format``, checked before any work is done."""
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    problems = [_problem(args.format, "--format", f"unknown format '{f}'; one of {', '.join(FIGURE_FORMATS)}") for f in formats if f not in FIGURE_FORMATS]
    if not formats:
        problems.append(_problem(args.format, "--format", "name at least one format"))
    if problems:
        raise InputError(problems)
    return list(dict.fromkeys(formats))


def _save_figure(fig, out: Path, stem: str, formats, dpi: int, *, tight: bool = True) -> list[Path]:
    """Write ``fig`` as ``out/stem.<format>`` in every format, close it, return the files."""
    import matplotlib.pyplot as plt

    # Explicit bbox: some imports switch the savefig default, and legends sit outside the axes.
    layout = {"bbox_inches": "tight", "pad_inches": 0.12} if tight else {}
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        fig.savefig(path, dpi=dpi, metadata=_NO_TIMESTAMPS.get(fmt), **layout)
        paths.append(path)
    plt.close(fig)
    return paths


def _load_for_drawing(args):
    """Validate the result path and formats, then load the run (no refitting)."""
    from estimator.inference import load_result

    problems = []
    path = Path(args.result)
    if not path.is_file():
        problems.append(_problem(str(path), "RESULT", "file not found (run `estimator fit` first)"))
    try:
        formats = _figure_formats(args)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    out = Path(args.out) if args.out else path.parent
    _check_writable(out)
    return load_result(path), out, formats


def _write_figures(result, out: Path, formats, dpi: int) -> dict[str, Path]:
    """Draw the standard figures and write each in every format; return name -> first file."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened

    from estimator.figures import standard_figures

    return {name: _save_figure(fig, out, name, formats, dpi)[0] for name, (fig, _) in standard_figures(result).items()}


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

    from estimator.figures import plot_sweep
    from estimator.sweeps import load_sweep, run_sweep

    formats = _figure_formats(args)
    spec = load_sweep(args.file)
    out = Path(args.out)
    _check_writable(out)
    table = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler, mode=args.mode, progress=not args.quiet)
    for quantity in (N.SHELLS_152MM, N.VALUE_USD):
        fig, _ = plot_sweep(table, quantity, spec.grid_keys)
        _save_figure(fig, out, f"sweep_{quantity}", formats, args.dpi)
    failed = int((table["status"] != "ok").sum())
    missed = int((~table["diagnostics_ok"].astype(bool)).sum())
    swept = list(dict.fromkeys(k for p in spec.points for k in p))
    cols = [c for c in (*swept, "shells_152mm_median", "value_usd_median", "method", "diagnostics_ok") if c in table]
    print(table[cols].to_string(index=False))
    print(
        f"{len(table)} points: {failed} failed, {missed} missed a diagnostic threshold. Wrote {out}/sweep.csv, sweep.parquet, sweep.nc and figures ({', '.join(formats)})."
    )
    if "method" in table:
        print("Methods: " + ", ".join(f"{m} {c}" for m, c in table["method"].value_counts().items()))
    return 0


def _add_figure_arguments(p, dpi: int = FIGURE_DPI) -> None:
    p.add_argument("--format", default="png", help=f"comma-separated figure formats from {', '.join(FIGURE_FORMATS)} (default png)")
    p.add_argument("--dpi", type=int, default=dpi, help=f"resolution of raster figures (default {dpi})")


def _add_drawing_arguments(p) -> None:
    p.add_argument("result", metavar="RESULT", help="a saved run (result.nc from `estimator fit`)")
    p.add_argument("--out", default=None, help="output folder (default: the folder holding RESULT)")
    _add_figure_arguments(p)


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
    """Print the sensitivity tables; write them as CSV and the two figures in each --format."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from estimator import sensitivity as S
    from estimator.figures import plot_influence_tornado, plot_variance_shares

    formats = _figure_formats(args)
    result, path, out = _saved_run_and_out(args)
    method = "auto" if args.refit else S.PSIS
    source = f"Source: estimator sensitivity, run {result.manifest.get('input_hash')} ({path.name})"

    psense = S.sensitivity_table(result)
    pool = {"workers": args.workers, "scheduler": args.scheduler, "progress": not args.quiet}
    influence = S.influence_table(result, method=method, **pool)
    recon = S.reconciliation_table(result, method=method, **pool)
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
    # These figures place their source note themselves: a tight bounding box would crop its margin.
    for name, (fig, _) in {
        "sensitivity_tornado": plot_influence_tornado(influence, source=source),
        "sensitivity_variance_shares": plot_variance_shares(shares, source=source),
    }.items():
        _save_figure(fig, out, name, formats, args.dpi, tight=False)
    print(f"Wrote sensitivity_*.csv and the figures sensitivity_tornado, sensitivity_variance_shares ({', '.join(formats)}) to {out}")
    return 0


def cmd_validate_reference(args) -> int:
    """``validate reference``: a run's quantiles against an importance-sampling reference posterior."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from estimator import validation as V
    from estimator.figures import plot_reference_comparison, source_note

    formats = _figure_formats(args)
    result, _, out = _saved_run_and_out(args)
    ref = V.reference_posterior(
        result.claims,
        result.priors,
        as_of=result.manifest.get("as_of"),
        dynamics=result.manifest.get("dynamics"),
        draws=args.reference_draws,
        seed=args.seed,
        progress=not args.quiet,
    )
    table = V.compare_with_reference(result, ref)
    with pd.option_context("display.width", 200, "display.float_format", "{:,.4g}".format):
        print(table.to_string(index=False))
    print(f"Importance sampling: {ref['draws']:,} prior draws, ESS {ref['ess']:,.0f}, Pareto k-hat {ref['khat']:.2f} (reliable below 0.7)")
    if not ref["khat"] <= 0.7:
        print(
            f"WARNING: k-hat {ref['khat']:.2f} > 0.7: the prior is too far from this posterior for importance sampling; "
            "the reference is not reliable and agreement below means nothing (fit fewer claims, e.g. --known-by, to check the sampler).",
            file=sys.stderr,
        )
    table.to_csv(out / "reference_comparison.csv", index=False)
    (out / "reference_diagnostics.json").write_text(json.dumps({k: ref[k] for k in ("draws", "ess", "khat")}, indent=2) + "\n")
    note = f"{source_note(result)} Reference: {ref['draws']:,} prior draws reweighted by the likelihood, ESS {ref['ess']:,.0f}, k-hat {ref['khat']:.2f}."
    fig, _ = plot_reference_comparison(table, note=note)
    _save_figure(fig, out, "reference_comparison", formats, args.dpi)
    print(
        f"{int(table['agrees'].sum())} of {len(table)} quantiles agree within 4 standard errors. "
        f"Wrote {out}/reference_comparison.csv, reference_diagnostics.json and the figure reference_comparison ({', '.join(formats)})"
    )
    return 0


def cmd_validate_sbc(args) -> int:
    """``validate sbc``: simulation-based calibration of the model on a ledger's shape."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from estimator import validation as V
    from estimator.figures import plot_sbc_ecdf, plot_sbc_ranks
    from estimator.inference import sampler_steps

    formats = _figure_formats(args)
    draws, tune = sampler_steps(args.draws, args.tune, "nutpie")
    out = Path(args.out)
    _check_writable(out)
    t0 = time.perf_counter()
    table = V.run_sbc(
        args.simulations,
        out,
        seed=args.seed,
        claims=args.claims,
        priors=args.priors,
        workers=args.workers,
        scheduler=args.scheduler,
        draws=draws,
        tune=tune,
        chains=args.chains,
        progress=not args.quiet,
    )
    summary = V.sbc_summary(table)
    summary.to_csv(out / "sbc_summary.csv")
    with pd.option_context("display.width", 200, "display.float_format", "{:,.3f}".format):
        print(summary.to_string())
    missed = int((~table["diagnostics_ok"].astype(bool)).sum())
    reasons = (
        f"{int((table['divergences'] > 0).sum())} with divergences, {int((table['max_rhat'] > 1.01).sum())} with R-hat > 1.01, "
        f"{int((table['min_ess_bulk'] < 100 * args.chains).sum())} with bulk ESS < {100 * args.chains}"
    )
    ledger = f" (ledger {Path(args.claims).name})" if args.claims else ""
    note = (
        f"Source: estimator validate sbc{ledger}, {len(table)} simulations, seed {args.seed}, {args.chains} chains × {draws} draws each. "
        f"Refits missing a diagnostic threshold are kept (dropping them would bias the ranks): {reasons}."
    )
    for name, (fig, _) in {"sbc_ecdf_difference": plot_sbc_ecdf(table, summary, note=note), "sbc_rank_histograms": plot_sbc_ranks(table, note=note)}.items():
        _save_figure(fig, out, name, formats, args.dpi)
    print(
        f"{len(table)} simulations in {time.perf_counter() - t0:.0f} s; {missed} missed a diagnostic threshold ({reasons}). "
        f"Wrote {out}/sbc.csv, sbc_summary.csv and the figures sbc_ecdf_difference, sbc_rank_histograms ({', '.join(formats)})"
    )
    return 0


def cmd_score(args) -> int:
    """Score claims (new ones, or without --claims the fitted ones) against a run's posterior predictive."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from estimator.claims import load_claims
    from estimator.figures import plot_claim_scores, source_note
    from estimator.scoring import coverage_summary, score_claims

    formats = _figure_formats(args)
    result, _, out = _saved_run_and_out(args)
    claims = load_claims(args.claims) if args.claims else result.claims
    scores = score_claims(result, claims, horizon=args.horizon, seed=args.seed)
    summary = coverage_summary(scores)
    cols = ["quantity", "qualifier", "low", "high", "pred_q05", "pred_q50", "pred_q95", "p_figure", "in_50", "in_90", "months_extrapolated"]
    with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        print(scores[cols].to_string())
    what = "new claims" if args.claims else "fitted claims (posterior predictive check)"
    print(
        f"\n{summary['claims']} {what}: coverage of the 50% interval {summary['coverage_50']:.2f} (nominal 0.50), "
        f"of the 90% interval {summary['coverage_90']:.2f} (nominal 0.90)"
    )
    print(f"Surprising (p < {summary['surprise_threshold']}): {', '.join(summary['surprising']) or 'none'}")
    print(
        f"Fitted months end {summary['last_fitted_month']}; forecasts continue the rates' {result.manifest.get('dynamics', 'random_walk')} dynamics up to "
        f"{summary['max_months_extrapolated']} months past them (horizon {summary['horizon']})."
    )
    stem = "scores" if args.claims else "fitted_scores"
    scores.to_csv(out / f"{stem}.csv")
    (out / f"{stem}_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = "How surprising is each new claim?" if args.claims else "Where each fitted claim falls in its posterior predictive"
    fig, _ = plot_claim_scores(scores, note=source_note(result), title=title)
    _save_figure(fig, out, stem, formats, args.dpi)
    print(f"Wrote {out}/{stem}.csv, {stem}_summary.json and the figure {stem} ({', '.join(formats)})")
    return 0


def cmd_backtest(args) -> int:
    """Leave-future-out backtest over vintages: scores, beliefs, figures and a summary."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")

    from estimator.backtest import run_backtest
    from estimator.figures.backtest import plot_backtest_beliefs, plot_backtest_pit

    formats = _figure_formats(args)
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
        out,
        claims=args.claims,
        priors=args.priors,
        vintages=vintages,
        horizon_months=args.horizon_months,
        dynamics=args.dynamics,
        method=args.method,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    s = res.summary
    print(
        f"Backtest ({s.get('dynamics')} rate dynamics, method {s.get('method')}): {s.get('vintages')} vintages, {s.get('exact_fits')} exact fits, "
        f"{s.get('pairs', 0)} (vintage, later claim) pairs over {s.get('claims_scored', 0)} claims, horizon {s.get('horizon_months')} months"
    )
    if s.get("pairs"):
        print(f"Coverage of later claims: 50% interval {s['coverage_50']:.2f} (nominal 0.50), 90% interval {s['coverage_90']:.2f} (nominal 0.90)")
        print(f"Mean log predictive density per claim, on the {s['pairs_common']} pairs every method scores:")
        print(f"  model {s['model_lpd']:.3f}   prior only {s['prior_lpd']:.3f}   latest claim carried forward {s['persistence_lpd']:.3f}")
        print(f"  (over all {s['pairs']} pairs: model {s['model_lpd_all']:.3f}, prior only {s['prior_lpd_all']:.3f})")
    if s.get("fits_missing_diagnostics"):
        print(
            f"WARNING: {s['fits_missing_diagnostics']} of {s['exact_fits']} exact fits missed a sampler diagnostic threshold (see beliefs.csv).",
            file=sys.stderr,
        )
    note = f"Source: {len(res.claims)} public claims, leave-future-out fits at {s.get('vintages')} vintages ({s.get('dynamics')} rate dynamics); estimator backtest."
    for name, (fig, _) in (
        ("backtest_beliefs", plot_backtest_beliefs(res.beliefs, res.claims, note=note)),
        ("backtest_pit", plot_backtest_pit(res.scores, note=note)),
    ):
        _save_figure(fig, out, name, formats, args.dpi)
    print(f"Wrote {out}/backtest.csv, backtest.nc, beliefs.csv, summary.json and the figures backtest_beliefs, backtest_pit ({', '.join(formats)})")
    return 0


def _output_options() -> argparse.ArgumentParser:
    """Options every subcommand shares: how much it says while it works."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no informational messages (results and warnings still print)")
    group.add_argument("-v", "--verbose", action="count", default=0, help="log the package's steps to stderr (-vv: with debugging detail)")
    return common


@contextlib.contextmanager
def _log_levels(verbose: int, quiet: bool):
    """``-v``: the ``estimator`` log on stderr at INFO (``-vv`` DEBUG); ``--quiet``: only warnings.

    Every level set here, and the handler added, are undone on exit, so a
    caller of :func:`main` (a test, a notebook) keeps its own logging setup.
    """
    package = logging.getLogger("estimator")
    changed = []

    def set_level(logger, level):
        changed.append((logger, logger.level))
        logger.setLevel(level)

    handler = None
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)
        set_level(package, logging.DEBUG if verbose > 1 else logging.INFO)
    elif quiet:
        # PyMC's own handler prints which sampler runs which variables: informational.
        for name in ("estimator", "pymc"):
            set_level(logging.getLogger(name), logging.WARNING)
    try:
        yield
    finally:
        for logger, level in reversed(changed):
            logger.setLevel(level)
        if handler is not None:
            package.removeHandler(handler)


def _command(sub, name: str, help: str, description: str, examples: str, parents):
    """A subcommand whose --help says what it does and shows how it is run."""
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line.strip()}" for line in examples.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )


def build_parser() -> argparse.ArgumentParser:

    from estimator import __version__
    from estimator.inference import DEFAULT_SAMPLER, SAMPLERS
    from estimator.model import DEFAULT_DYNAMICS, DYNAMICS, FORECAST_MONTHS

    parser = argparse.ArgumentParser(
        prog="estimator",
        description="Reconcile conflicting public estimates with Bayesian inference.",
        epilog="Run 'estimator COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = [_output_options()]
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    f = _command(
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
    f.add_argument("--known-by", default=None, metavar="DATE", help="use only the claims said on or before DATE (a vintage; default: every claim)")
    f.add_argument(
        "--dynamics", choices=DYNAMICS, default=DEFAULT_DYNAMICS, help=f"rate dynamics of containers and missiles over time (default {DEFAULT_DYNAMICS})"
    )
    f.add_argument("--draws", type=int, default=None, help="draws per chain after tuning (default 1000)")
    f.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default 500 with nutpie, 1000 with pymc)")
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
    f.set_defaults(func=cmd_fit)
    g = _command(
        sub,
        "figures",
        "draw the standard figures of a saved run (no refitting)",
        "Draw the standard figures of a saved run: containers over time with every claim, 152mm shells,\n"
        "value, loads and cargo mix, each claim against its prediction, and each family's bias.",
        """
        estimator figures runs/default/result.nc --out runs/default/figures --format png,svg
        """,
        common,
    )
    _add_drawing_arguments(g)
    g.set_defaults(func=cmd_figures)
    r = _command(
        sub,
        "report",
        "write a Markdown report of a saved run, with its figures",
        "Write report.md for a saved run (headline table, diagnostics, priors, claims) next to its figures.",
        """
        estimator report runs/default/result.nc --out runs/default/report
        """,
        common,
    )
    _add_drawing_arguments(r)
    r.set_defaults(func=cmd_report)
    s = _command(
        sub,
        "sweep",
        "refit the model at many prior settings (a grid or a list), resumably",
        "Refit the model at every point of a sweep file (a grid of prior settings, or a list of points)\n"
        "and write sweep.csv, sweep.parquet, sweep.nc and figures of 152mm shells and value across it.\n"
        "Rerunning into the same folder resumes: finished points are not refitted.",
        """
        estimator sweep sweeps/prices-and-fill.toml --out sweep-run --workers 2
        estimator sweep sweeps/prices-and-fill.toml --out sweep-run --mode approx --format png,pdf
        """,
        common,
    )
    s.add_argument("file", metavar="FILE", help="sweep file (TOML; see sweeps/prices-and-fill.toml)")
    s.add_argument("--out", default="sweep-run", help="output folder (default ./sweep-run); rerunning resumes")
    s.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    s.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    s.add_argument("--mode", choices=("exact", "approx"), default="exact", help="exact refits, or PSIS reweighting of one reference fit")
    _add_figure_arguments(s)
    s.set_defaults(func=cmd_sweep)
    v = _command(
        sub,
        "sensitivity",
        "prior/likelihood sensitivity, claim influence, reconciliation and variance shares of a run",
        "How much a saved run depends on its inputs: power-scaling sensitivity of prior and likelihood,\n"
        "the shift of each headline median when a claim or a source family is left out, shells from the\n"
        "count x capacity chain against the direct estimates, and the sources of the value's variance.",
        """
        estimator sensitivity runs/default/result.nc --out runs/default/sensitivity
        estimator sensitivity runs/default/result.nc --no-refit --format svg
        estimator sensitivity runs/default/result.nc --workers 2
        """,
        common,
    )
    v.add_argument("result", metavar="RESULT", help="result.nc written by 'estimator fit'")
    v.add_argument("--out", default="estimator-sensitivity", help="output folder (default ./estimator-sensitivity)")
    v.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refit exactly where PSIS k-hat is too high (default); --no-refit reweights only and flags those rows",
    )
    v.add_argument("--workers", type=int, default=1, help="local worker processes for the exact refits (default 1)")
    v.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    _add_figure_arguments(v, dpi=150)
    v.set_defaults(func=cmd_sensitivity)
    val = _command(
        sub,
        "validate",
        "simulation-based calibration, or compare a run with an importance-sampling reference",
        "Check the inference itself. 'sbc' fits the model to ledgers simulated from its prior and tests\n"
        "that the true values rank uniformly in their posteriors; 'reference' compares a saved run's\n"
        "quantiles with an importance-sampling posterior computed without MCMC.",
        """
        estimator validate sbc --simulations 300 --workers 2 --out build/sbc
        estimator validate reference runs/default/result.nc --out build/reference
        """,
        [],
    )
    vsub = val.add_subparsers(dest="action", required=True, metavar="CHECK")
    sbc = _command(
        vsub,
        "sbc",
        "simulation-based calibration of the model on a ledger's shape",
        "Simulation-based calibration: draw parameters from the prior, simulate a ledger of the same shape,\n"
        "refit, and rank each true value in its posterior. Writes sbc.csv, sbc_summary.csv and the ECDF and\n"
        "rank-histogram figures. Rerunning into the same folder resumes.",
        """
        estimator validate sbc --simulations 300 --workers 2 --out build/sbc
        estimator validate sbc --simulations 1000 --scheduler tcp://HOST:8786 --out build/sbc
        """,
        common,
    )
    sbc.add_argument("--claims", default=None, help="ledger whose shape is simulated (default: the embedded ledger)")
    sbc.add_argument("--priors", default=None, help="prior file (default: the embedded priors)")
    sbc.add_argument("--simulations", type=int, default=200, help="simulations (default 200)")
    sbc.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    sbc.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    sbc.add_argument("--draws", type=int, default=None, help="draws per chain of each refit (default 1000, as estimator fit)")
    sbc.add_argument("--tune", type=int, default=None, help="tuning steps per chain of each refit (default 500, as estimator fit)")
    sbc.add_argument("--chains", type=int, default=4, help="chains of each refit (default 4)")
    sbc.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    sbc.add_argument("--out", default="estimator-validation", help="output folder (default ./estimator-validation); rerunning resumes")
    _add_figure_arguments(sbc)
    sbc.set_defaults(func=cmd_validate_sbc)
    ref = _command(
        vsub,
        "reference",
        "compare a saved run with an importance-sampling reference posterior",
        "Reweight prior draws by the likelihood (self-normalised importance sampling, no MCMC) and test\n"
        "whether each headline quantile of RESULT agrees with it within 4 standard errors. Writes\n"
        "reference_comparison.csv, reference_diagnostics.json and the figure reference_comparison.",
        """
        estimator validate reference runs/default/result.nc --out build/reference
        """,
        common,
    )
    ref.add_argument("result", metavar="RESULT", help="result.nc written by 'estimator fit'")
    ref.add_argument("--reference-draws", type=int, default=4_000_000, help="prior draws of the reference (default 4 million)")
    ref.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    ref.add_argument("--out", default="estimator-validation", help="output folder (default ./estimator-validation)")
    _add_figure_arguments(ref)
    ref.set_defaults(func=cmd_validate_reference)
    sc = _command(
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
    sc.add_argument("--claims", default=None, help="ledger of claims to score (same format); default: the fitted claims")
    sc.add_argument("--horizon", default=None, help="latest date a claim may speak of (default: 24 months after the fitted months)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the random-walk continuation for forecasts (default 0)")
    sc.add_argument("--out", default="estimator-scores", help="output folder (default ./estimator-scores)")
    _add_figure_arguments(sc)
    sc.set_defaults(func=cmd_score)
    bt = _command(
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
    bt.add_argument("--vintages", default=None, help="comma-separated vintage dates (default: every month end from the first claim to the last)")
    bt.add_argument("--horizon-months", type=int, default=12, help="score claims at most this many months past the vintage (default 12)")
    bt.add_argument("--dynamics", choices=DYNAMICS, default=DEFAULT_DYNAMICS, help=f"rate dynamics (default {DEFAULT_DYNAMICS})")
    bt.add_argument(
        "--method",
        choices=("auto", "exact"),
        default="auto",
        help="auto: PSIS from the latest exact fit where k-hat allows (default); exact: refit every vintage",
    )
    bt.add_argument("--draws", type=int, default=None, help="draws per chain of each exact fit (default 1000, as estimator fit)")
    bt.add_argument("--tune", type=int, default=None, help="tuning steps per chain of each exact fit (default 500, as estimator fit)")
    bt.add_argument("--chains", type=int, default=4, help="chains of each exact fit (default 4)")
    bt.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    bt.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    bt.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)")
    bt.add_argument("--out", default="estimator-backtest", help="output folder (default ./estimator-backtest); rerunning resumes")
    _add_figure_arguments(bt)
    bt.set_defaults(func=cmd_backtest)
    ca = _command(
        sub,
        "cache",
        "show or empty the cache directory (compiled models, elicited priors, prior draws)",
        "Show where the cache directory is and what it holds (info), or remove every entry (clear).\n"
        f"The directory is ${estimator_cache.ENV_VAR} if set, else the user cache directory; every\n"
        "entry is rebuilt when needed, so clearing it is always safe.",
        """
        estimator cache info
        estimator cache clear
        """,
        common,
    )
    ca.add_argument("action", choices=("info", "clear"), help="info: location, entries and size; clear: remove every entry")
    ca.set_defaults(func=cmd_cache)
    return parser


def cmd_cache(args) -> int:
    if args.action == "clear":
        freed = estimator_cache.clear()
        print(f"Cleared {estimator_cache.cache_dir()} ({_megabytes(freed)} freed)")
        return 0
    found = estimator_cache.info()
    print(f"Cache directory: {found['location']} (${estimator_cache.ENV_VAR} overrides it)")
    for kind, k in found["kinds"].items():
        print(f"  {kind + '/':10s} {k['entries']:5d} entries {_megabytes(k['bytes']):>10s}  {k['what']}")
    print(f"  {'total':10s} {'':13s} {_megabytes(found['bytes']):>10s}")
    return 0


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("draws", "tune", "chains", "workers", "simulations", "reference_draws", "dpi"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    with _log_levels(args.verbose, args.quiet):
        log.info("estimator %s", " ".join(argv if argv is not None else sys.argv[1:]))
        try:
            return args.func(args)
        except InputError as exc:
            print(f"estimator: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except FitError as exc:
            return _failed(str(exc), exc, args.verbose)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one message, never a trace unless asked
            return _failed(f"unexpected error: {type(exc).__name__}: {exc}", exc, args.verbose)


def _failed(message: str, exc: BaseException, verbose: int) -> int:
    """Print one message for a failure that is not the input's (the trace too under ``-v``); exit status 1."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"estimator: {message}", file=sys.stderr)
    if not verbose:
        print("estimator: run again with -v for the full trace", file=sys.stderr)
    return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
