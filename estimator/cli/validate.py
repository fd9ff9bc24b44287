"""``estimator validate sbc`` and ``estimator validate reference``: checks of the inference itself."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from estimator import validation as V
from estimator.cli.common import (
    add_figure_arguments,
    check_writable,
    command,
    figure_formats,
    save_figure,
    saved_run_and_out,
    use_agg,
)
from estimator.sampling import sampler_steps


def run_reference(args) -> int:
    """``validate reference``: a run's quantiles against an importance-sampling reference posterior."""
    use_agg()
    from estimator.figures import plot_reference_comparison, source_note  # noqa: PLC0415 - matplotlib, only when drawing

    formats = figure_formats(args)
    result, _, out = saved_run_and_out(args)
    ref = V.reference_posterior(
        result.claims,
        result.priors,
        as_of=result.manifest.get("as_of"),
        dynamics=result.manifest.get("dynamics"),
        restatements=result.manifest.get("restatements"),
        draws=args.reference_draws,
        seed=args.seed,
        progress=not args.quiet,
    )
    table = V.compare_with_reference(result, ref)
    with pd.option_context("display.width", 200, "display.float_format", "{:,.4g}".format):
        print(table.to_string(index=False))
    print(
        f"Importance sampling: {ref['draws']:,} prior draws, ESS {ref['ess']:,.0f}, Pareto k-hat {ref['khat']:.2f} (reliable below 0.7)"
    )
    if not ref["khat"] <= 0.7:
        print(
            f"WARNING: k-hat {ref['khat']:.2f} > 0.7: the prior is too far from this posterior for importance sampling; "
            "the reference is not reliable and agreement below means nothing (fit fewer claims, e.g. --known-by, to check the sampler).",
            file=sys.stderr,
        )
    table.to_csv(out / "reference_comparison.csv", index=False)
    (out / "reference_diagnostics.json").write_text(
        json.dumps({k: ref[k] for k in ("draws", "ess", "khat")}, indent=2) + "\n"
    )
    note = f"{source_note(result)} Reference: {ref['draws']:,} prior draws reweighted by the likelihood, ESS {ref['ess']:,.0f}, k-hat {ref['khat']:.2f}."
    fig, _ = plot_reference_comparison(table, note=note)
    save_figure(fig, out, "reference_comparison", formats, args.dpi)
    print(
        f"{int(table['agrees'].sum())} of {len(table)} quantiles agree within 4 standard errors. "
        f"Wrote {out}/reference_comparison.csv, reference_diagnostics.json and the figure reference_comparison ({', '.join(formats)})"
    )
    return 0


def run_sbc(args) -> int:
    """``validate sbc``: simulation-based calibration of the model on a ledger's shape."""
    use_agg()
    from estimator.figures import plot_sbc_ecdf, plot_sbc_ranks  # noqa: PLC0415 - matplotlib, only when drawing

    formats = figure_formats(args)
    draws, tune = sampler_steps(args.draws, args.tune, "nutpie")
    out = Path(args.out)
    check_writable(out)
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
    for name, (fig, _) in {
        "sbc_ecdf_difference": plot_sbc_ecdf(table, summary, note=note),
        "sbc_rank_histograms": plot_sbc_ranks(table, note=note),
    }.items():
        save_figure(fig, out, name, formats, args.dpi)
    print(
        f"{len(table)} simulations in {time.perf_counter() - t0:.0f} s; {missed} missed a diagnostic threshold ({reasons}). "
        f"Wrote {out}/sbc.csv, sbc_summary.csv and the figures sbc_ecdf_difference, sbc_rank_histograms ({', '.join(formats)})"
    )
    return 0


def register(sub, common) -> None:
    """Add ``estimator validate sbc`` and ``estimator validate reference`` to the subcommands."""
    val = command(
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
    sbc = command(
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
    sbc.add_argument(
        "--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)"
    )
    sbc.add_argument(
        "--draws", type=int, default=None, help="draws per chain of each refit (default 1000, as estimator fit)"
    )
    sbc.add_argument(
        "--tune", type=int, default=None, help="tuning steps per chain of each refit (default 500, as estimator fit)"
    )
    sbc.add_argument("--chains", type=int, default=4, help="chains of each refit (default 4)")
    sbc.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    sbc.add_argument(
        "--out",
        default="estimator-validation",
        help="output folder (default ./estimator-validation); rerunning resumes",
    )
    add_figure_arguments(sbc)
    sbc.set_defaults(func=run_sbc)
    ref = command(
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
    ref.add_argument(
        "--reference-draws", type=int, default=4_000_000, help="prior draws of the reference (default 4 million)"
    )
    ref.add_argument("--seed", type=int, default=20240223, help="seed (default 20240223)")
    ref.add_argument("--out", default="estimator-validation", help="output folder (default ./estimator-validation)")
    add_figure_arguments(ref)
    ref.set_defaults(func=run_reference)
