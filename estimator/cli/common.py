"""What every subcommand shares: checked output folders, figure formats and files, the shape of a parser.

Each subcommand lives in its own module beside its parser (``register``); this
module holds only what two or more of them use.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from estimator.errors import InputError, Problem
from estimator.inference import load_result

EXIT_FAILURE, EXIT_INPUT, EXIT_DIAGNOSTICS = 1, 2, 3
FIGURE_FORMATS = ("png", "svg", "pdf")
FIGURE_DPI = 110  # small PNGs that stay sharp on screen
# Without creation dates and version stamps, redrawing an unchanged run leaves figure files unchanged.
_NO_TIMESTAMPS = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def problem(file, field, message) -> Problem:
    """A problem with the command line itself (the 'file' is the option's value)."""
    return Problem(file, "command line", field, message)


def check_writable(out: Path) -> None:
    """Fail before sampling, not after, when results could not be written."""
    if out.exists() and not out.is_dir():
        raise InputError([problem(str(out), "--out", "exists and is not a directory")])
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise InputError([problem(str(out), "--out", "is not writable")])


def use_agg():
    """Select matplotlib's file-only backend (no display needed, none opened) and return pyplot.

    matplotlib is imported here, not at module top, so that commands which only
    print numbers (``fit``, ``cache``) never load it.
    """
    import matplotlib  # noqa: PLC0415 - heavy, only for commands that draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after the backend is chosen

    return plt


def figure_formats(args) -> list[str]:
    """The formats named by ``--format``, checked before any work is done."""
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    problems = [
        problem(args.format, "--format", f"unknown format '{f}'; one of {', '.join(FIGURE_FORMATS)}")
        for f in formats
        if f not in FIGURE_FORMATS
    ]
    if not formats:
        problems.append(problem(args.format, "--format", "name at least one format"))
    if problems:
        raise InputError(problems)
    return list(dict.fromkeys(formats))


def save_figure(fig, out: Path, stem: str, formats, dpi: int, *, tight: bool = True) -> list[Path]:
    """Write ``fig`` as ``out/stem.<format>`` in every format, close it, return the files."""
    plt = use_agg()
    # Explicit bbox: some imports switch the savefig default, and legends sit outside the axes.
    layout = {"bbox_inches": "tight", "pad_inches": 0.12} if tight else {}
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        fig.savefig(path, dpi=dpi, metadata=_NO_TIMESTAMPS.get(fmt), **layout)
        paths.append(path)
    plt.close(fig)
    return paths


def add_figure_arguments(p, dpi: int = FIGURE_DPI) -> None:
    """Add ``--format`` and ``--dpi`` to a parser that draws figures."""
    p.add_argument(
        "--format", default="png", help=f"comma-separated figure formats from {', '.join(FIGURE_FORMATS)} (default png)"
    )
    p.add_argument("--dpi", type=int, default=dpi, help=f"resolution of raster figures (default {dpi})")


def add_drawing_arguments(p) -> None:
    """Add the saved run, ``--out`` and the figure options to a parser that draws a run's figures."""
    p.add_argument("result", metavar="RESULT", help="a saved run (result.nc from `estimator fit`)")
    p.add_argument("--out", default=None, help="output folder (default: the folder holding RESULT)")
    add_figure_arguments(p)


def load_for_drawing(args):
    """Validate the result path and formats, then load the run (no refitting)."""
    problems = []
    path = Path(args.result)
    if not path.is_file():
        problems.append(problem(str(path), "RESULT", "file not found (run `estimator fit` first)"))
    try:
        formats = figure_formats(args)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    out = Path(args.out) if args.out else path.parent
    check_writable(out)
    return load_result(path), out, formats


def saved_run_and_out(args):
    """Load RESULT and prepare --out, naming a missing file before anything is computed."""
    path = Path(args.result)
    if not path.is_file():
        raise InputError(
            [problem(str(path), "RESULT", "file not found (give the result.nc that 'estimator fit' wrote)")]
        )
    out = Path(args.out)
    check_writable(out)
    return load_result(path), path, out


def command(sub, name: str, help: str, description: str, examples: str, parents):
    """A subcommand whose --help says what it does and shows how it is run."""
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line.strip()}" for line in examples.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
