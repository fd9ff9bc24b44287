"""``estimator cache info|clear``: show or empty the cache directory."""

from __future__ import annotations

from estimator import cache as estimator_cache
from estimator.cli.common import command


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run(args) -> int:
    """Show the cache directory's entries, or remove them."""
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


def register(sub, common) -> None:
    """Add ``estimator cache`` to the subcommands."""
    ca = command(
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
    ca.add_argument(
        "action", choices=("info", "clear"), help="info: location, entries and size; clear: remove every entry"
    )
    ca.set_defaults(func=run)
