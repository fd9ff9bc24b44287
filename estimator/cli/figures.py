"""``estimator figures`` and ``estimator report``: draw a saved run's figures, and the report beside them."""

from __future__ import annotations

from pathlib import Path

from estimator.cli.common import (
    FIGURE_DPI,
    FIGURE_FORMATS,
    add_drawing_arguments,
    command,
    load_for_drawing,
    problem,
    save_figure,
    use_agg,
)
from estimator.errors import InputError
from estimator.report import REPORT_FILES, REPORT_FORMATS, write_report


def write_figures(result, out: Path, formats, dpi: int) -> dict[str, Path]:
    """Draw the standard figures and write each in every format; return name -> first file."""
    use_agg()
    from estimator.figures import standard_figures  # noqa: PLC0415 - loads matplotlib, only when drawing

    return {name: save_figure(fig, out, name, formats, dpi)[0] for name, (fig, _) in standard_figures(result).items()}


def run_figures(args) -> int:
    """Draw the standard figures of a saved run."""
    result, out, formats = load_for_drawing(args)
    written = write_figures(result, out, formats, args.dpi)
    print(f"Wrote {len(written)} figures ({', '.join(formats)}) to {out}")
    return 0


def report_formats(args) -> tuple[list[str], list[str]]:
    """``--format`` of ``report``: the reports (md, html; default md) and the figure files beside a Markdown one (default png)."""
    names = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    known = (*REPORT_FORMATS, *FIGURE_FORMATS)
    if bad := [f for f in names if f not in known]:
        raise InputError(
            [problem(args.format, "--format", f"unknown format '{f}'; one of {', '.join(known)}") for f in bad]
        )
    reports = [f for f in REPORT_FORMATS if f in names] or ["md"]
    figures = [f for f in dict.fromkeys(names) if f in FIGURE_FORMATS] or ["png"]
    return reports, figures


def run_report(args) -> int:
    """Write the report of a saved run: report.html (figures inline), or report.md beside its figures."""
    reports, formats = report_formats(args)
    args.format = ",".join(formats)
    result, out, formats = load_for_drawing(args)
    if "html" in reports:
        plt = use_agg()
        from estimator.figures import standard_figures  # noqa: PLC0415 - loads matplotlib, only when drawing

        path = write_report(result, out, format="html", figures=standard_figures(result))
        plt.close("all")
        print(f"Wrote {path} (figures inline)")
    if "md" in reports:
        written = write_figures(result, out, formats, args.dpi)
        # Link the PNG when there is one: every Markdown viewer shows it.
        links = {
            name: path.with_suffix(".png").name if "png" in formats else path.name for name, path in written.items()
        }
        path = write_report(result, out, format="md", figures=links)
        print(f"Wrote {path} and {len(written)} figures ({', '.join(formats)})")
    return 0


def register(sub, common) -> None:
    """Add ``estimator figures`` and ``estimator report`` to the subcommands."""
    g = command(
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
    add_drawing_arguments(g)
    g.set_defaults(func=run_figures)
    r = command(
        sub,
        "report",
        "write a run's report: one self-contained HTML page, or Markdown beside its figures",
        "Write the report of a saved run (headline table, figures, claims with their sources, priors, diagnostics,\n"
        "manifest): report.html, one file with the figures inline that opens offline, or report.md next to its figures.",
        """
        estimator report runs/default/result.nc --out runs/default/report --format html
        estimator report runs/default/result.nc --out runs/default/report --format md,svg
        """,
        common,
    )
    r.add_argument("result", metavar="RESULT", help="a saved run (result.nc from `estimator fit`)")
    r.add_argument("--out", default=None, help="output folder (default: the folder holding RESULT)")
    r.add_argument(
        "--format",
        default="md",
        help=f"comma-separated: the report, {' or '.join(REPORT_FORMATS)} (default md: {REPORT_FILES['md']}), and for md the figure files, "
        f"from {', '.join(FIGURE_FORMATS)} (default png); html inlines its figures",
    )
    r.add_argument("--dpi", type=int, default=FIGURE_DPI, help=f"resolution of raster figures (default {FIGURE_DPI})")
    r.set_defaults(func=run_report)
