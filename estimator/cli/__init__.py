"""The command line: thin, it parses, calls the package and writes files.

Subcommands: ``estimator fit``, ``figures``, ``report``, ``sweep``, ``sensitivity``,
``validate sbc``, ``validate reference``, ``score``, ``backtest``, ``claims check``,
``claims draft``, ``cache``.

Each subcommand is a module of this package holding its parser (``register``)
beside its handler; what they share is in :mod:`estimator.cli.common`. The
summaries they print are rendered by the result objects themselves
(:meth:`estimator.FitResult.summary_text`), so a notebook shows the same text.

Every subcommand takes ``--quiet`` (no progress bars, no informational log
messages) and ``-v``/``-vv`` (the package's log on stderr at INFO/DEBUG); every
one that draws figures takes ``--format`` and ``--dpi``.

Exit codes: 0 success; 1 a failure that is not the input's (compiling or
sampling the model, say: one message naming what failed, the input hash and
whether the cache was used; the trace only with ``-v``); 2 bad input (every
problem listed, no traceback); 3 ``--strict`` and a diagnostic missed its
threshold (files are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback

from estimator import __version__
from estimator.cli import backtest, cache, claims, figures, fit, score, sensitivity, sweep, validate
from estimator.cli.common import EXIT_DIAGNOSTICS, EXIT_FAILURE, EXIT_INPUT
from estimator.errors import FitError, InputError

__all__ = ["EXIT_DIAGNOSTICS", "EXIT_FAILURE", "EXIT_INPUT", "build_parser", "main"]

log = logging.getLogger("estimator.cli")
# In the order `estimator --help` lists them.
SUBCOMMANDS = (fit, figures, sweep, sensitivity, validate, score, backtest, claims, cache)


def _output_options() -> argparse.ArgumentParser:
    """Options every subcommand shares: how much it says while it works."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no informational messages (results and warnings still print)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log the package's steps to stderr (-vv: with debugging detail)",
    )
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


def build_parser() -> argparse.ArgumentParser:
    """The ``estimator`` parser: each subcommand module adds its own."""
    parser = argparse.ArgumentParser(
        prog="estimator",
        description="Reconcile conflicting public estimates with Bayesian inference.",
        epilog="Run 'estimator COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = [_output_options()]
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub, common)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
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
