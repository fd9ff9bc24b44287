"""``estimator figures`` and ``estimator report``: draw a saved run's figures, and the report beside them."""

from __future__ import annotations

from pathlib import Path

from estimator.cli.common import add_drawing_arguments, command, load_for_drawing, save_figure, use_agg
from estimator.report import report_markdown

REPORT_FILE = "report.md"


def write_figures(result, out: Path, formats, dpi: int) -> dict[str, Path]:
    """Draw the standard figures and write each in every format; return name -> first file."""
    use_agg()
    from estimator.figures import standard_figures  # noqa: PLC0415 - loads matplotlib, only when drawing

    return {name: save_figure(fig, out, name, formats, dpi)[0] for name, (fig, _) in standard_figures(result).items()}


def run_figures(args) -> int:
    result, out, formats = load_for_drawing(args)
    written = write_figures(result, out, formats, args.dpi)
    print(f"Wrote {len(written)} figures ({', '.join(formats)}) to {out}")
    return 0


def run_report(args) -> int:
    result, out, formats = load_for_drawing(args)
    written = write_figures(result, out, formats, args.dpi)
    # Link the PNG when there is one: every Markdown viewer shows it.
    links = {name: path.with_suffix(".png").name if "png" in formats else path.name for name, path in written.items()}
    (out / REPORT_FILE).write_text(report_markdown(result, links), encoding="utf-8")
    print(f"Wrote {out / REPORT_FILE} and {len(written)} figures ({', '.join(formats)})")
    return 0


def register(sub, common) -> None:
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
        "write a Markdown report of a saved run, with its figures",
        "Write report.md for a saved run (headline table, diagnostics, priors, claims) next to its figures.",
        """
        estimator report runs/default/result.nc --out runs/default/report
        """,
        common,
    )
    add_drawing_arguments(r)
    r.set_defaults(func=run_report)
