"""``estimator sweep``: refit the model at every point of a sweep file, resumably."""

from __future__ import annotations

from pathlib import Path

from estimator import names as N
from estimator.cli.common import add_figure_arguments, check_writable, command, figure_formats, save_figure, use_agg
from estimator.sweep_file import load_sweep
from estimator.sweeps import run_sweep


def run(args) -> int:
    """Run or resume a sweep, print its table and draw its two figures."""
    use_agg()
    from estimator.figures import plot_sweep  # noqa: PLC0415 - loads matplotlib, only when drawing

    formats = figure_formats(args)
    spec = load_sweep(args.file)
    out = Path(args.out)
    check_writable(out)
    table = run_sweep(
        spec, out, workers=args.workers, scheduler=args.scheduler, mode=args.mode, progress=not args.quiet
    )
    for quantity in (N.SHELLS_152MM, N.VALUE_USD):
        fig, _ = plot_sweep(table, quantity, spec.grid_keys)
        save_figure(fig, out, f"sweep_{quantity}", formats, args.dpi)
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


def register(sub, common) -> None:
    """Add ``estimator sweep`` to the subcommands."""
    s = command(
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
    s.add_argument(
        "--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)"
    )
    s.add_argument(
        "--mode",
        choices=("exact", "approx"),
        default="exact",
        help="exact refits, or PSIS reweighting of one reference fit",
    )
    add_figure_arguments(s)
    s.set_defaults(func=run)
