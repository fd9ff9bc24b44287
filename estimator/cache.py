"""Where estimator keeps what it can reuse across processes, and how entries are trusted.

Two kinds of entry live under one directory (:func:`cache_dir`):

* ``priors/<key>.json``: the distribution parameters PreliZ fitted to one
  prior file, keyed by the file's text and the versions that fit it;
* ``compiled/<key>/``: a model compiled to machine code for nutpie
  (:mod:`estimator._compiled`), keyed by the model's graph and the versions
  that compile it.

Every entry records the key it was written under and a format number; an
entry whose record does not match, or that cannot be read, is rebuilt and
overwritten, never used. Entries are written to a temporary name and renamed,
so a killed process leaves no half-written entry.

The directory is ``$ESTIMATOR_CACHE_DIR`` if set, else the platform's user
cache directory (``platformdirs.user_cache_dir("estimator")``, e.g.
``~/.cache/estimator`` on Linux). Deleting it is always safe
(``estimator cache clear``; ``estimator cache info`` shows what it holds).

A compiled entry holds code that is imported and run, and the directory may
sit on a shared disk: directories are created private to the user (mode
700), and an entry that is owned by someone else, or that others may write,
is never loaded (:func:`trusted`). A directory that cannot be written (read
only, full, not a directory) is not an error: the run works without the
cache and says so once (:func:`warn_unwritable`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import stat
import sys
import warnings
from importlib import metadata
from pathlib import Path

from platformdirs import user_cache_dir

from estimator.errors import CacheWarning
from estimator.files import write_json

__all__ = [
    "ENV_VAR",
    "FORMAT",
    "KINDS",
    "cache_dir",
    "private_dir",
    "trusted",
    "warn_unwritable",
    "package_versions",
    "run_versions",
    "versions",
    "canonical_versions",
    "source_digest",
    "remember",
    "digest",
    "read_entry",
    "write_entry",
    "info",
    "clear",
]

log = logging.getLogger("estimator")

ENV_VAR = "ESTIMATOR_CACHE_DIR"
# Bumped whenever the layout or meaning of an entry changes: older entries are then rebuilt.
FORMAT = 2
# Packages whose version changes what an entry holds (elicited parameters or compiled code).
# Packages whose versions a run records (its manifest) and a resumable folder is checked against.
RUN_PACKAGES = ("estimator", "pymc", "pytensor", "arviz", "nutpie", "preliz", "numpy", "scipy", "xarray", "pandas")
_KEY_PACKAGES = ("estimator", "pymc", "pytensor", "numba", "llvmlite", "nutpie", "numpy", "scipy", "preliz")
# The kinds of entry, each a subdirectory: what `estimator cache info` counts and `clear` removes.
KINDS = {
    "compiled": "models compiled for nutpie",
    "priors": "prior files' elicited parameters",
    "prior": "prior draws of runs",
}
_WARNED: set[str] = set()


def cache_dir() -> Path:
    """The cache directory, created private to the user on first use.

    A directory that cannot be created is returned all the same: reading an
    entry from it finds nothing, and writing one warns once
    (:func:`warn_unwritable`) and leaves the run uncached.
    """
    override = os.environ.get(ENV_VAR)
    path = Path(override) if override else Path(user_cache_dir("estimator", appauthor=False))
    try:
        private_dir(path)
    except OSError:
        pass
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 700; an existing directory is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def trusted(path: Path) -> bool:
    """Whether ``path`` may be loaded as this user's own: not a link, owned by this user, writable by no one else.

    Code in the cache is imported and run, so an entry that another user
    wrote, or could have changed, is never used (a cache directory on a
    shared disk, say).
    """
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def warn_unwritable(path, exc: BaseException) -> None:
    """Say once per process and directory that the cache cannot be written, and that the run goes on without it."""
    where = str(cache_dir())
    if where in _WARNED:
        log.info("cache entry %s not written: %s", path, exc)
        return
    _WARNED.add(where)
    # A Python warning, not a log record: the package's logger is silent unless asked (-v),
    # and this must reach every user, in a terminal or a notebook.
    warnings.warn(
        f"the cache directory {where} cannot be written ({exc}): working without the cache (set {ENV_VAR} to another directory, or pass --no-cache)",
        CacheWarning,
        stacklevel=2,
    )


def package_versions(packages) -> dict[str, str]:
    """The Python version and each installed package's ("not installed" if absent)."""
    out = {"python": sys.version.split()[0]}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_versions() -> dict[str, str]:
    """Python's and :data:`RUN_PACKAGES`' versions, as a run's manifest records them."""
    return package_versions(RUN_PACKAGES)


def versions() -> dict[str, str]:
    """Python, machine and the versions of every package an entry depends on."""
    return {**package_versions(_KEY_PACKAGES), "machine": platform.machine(), "format": str(FORMAT)}


@functools.cache
def source_digest() -> str:
    """SHA-256 of the package's own Python source: a development checkout changes code without changing its version."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def digest(*parts) -> str:
    """SHA-256 (hex) of text or bytes parts, each separated so that no two splits collide."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def remember(memory: dict, key, value, keep: int):
    """Store ``value`` under ``key`` in the in-process store ``memory``, dropping its oldest entries to hold at most ``keep``.

    The compiled models and functions kept in memory (a few each) are held this
    way: a dict keeps insertion order, so the first key is the oldest. Returns ``value``.
    """
    while len(memory) >= keep:
        memory.pop(next(iter(memory)))
    memory[key] = value
    return value


def read_entry(path: Path, key: str) -> dict | None:
    """The JSON entry at ``path`` if it was written under ``key`` in this format, else ``None``."""
    try:
        entry = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != FORMAT:
        return None
    return entry


def write_entry(path: Path, key: str, payload: dict) -> bool:
    """Write ``payload`` as the entry for ``key`` (temporary file, then rename); ``False`` if the cache cannot be written."""
    path = Path(path)
    try:
        private_dir(path.parent)
        write_json(path, {**payload, "key": key, "format": FORMAT})
    except OSError as exc:  # the temporary file, if any, was removed by write_json
        warn_unwritable(path, exc)
        return False
    return True


def _size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def info() -> dict:
    """What the cache holds: its location, and per kind of entry the number of entries and their size in bytes."""
    root = cache_dir()
    kinds = {}
    for kind, what in KINDS.items():
        folder = root / kind
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
        kinds[kind] = {"what": what, "entries": len(entries), "bytes": _size(folder) if folder.is_dir() else 0}
    return {"location": str(root), "kinds": kinds, "bytes": sum(k["bytes"] for k in kinds.values())}


def clear() -> int:
    """Remove every entry (only the cache's own subdirectories, never anything else in the directory); return the bytes freed."""
    root = cache_dir()
    freed = 0
    for kind in KINDS:
        folder = root / kind
        if folder.is_dir() and not folder.is_symlink():
            freed += _size(folder)
            shutil.rmtree(folder)
    return freed


def canonical_versions() -> str:
    """:func:`versions` as canonical JSON text, for keys."""
    return json.dumps(versions(), sort_keys=True)
