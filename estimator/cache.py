"""Where estimator keeps what it can reuse across processes, and how entries are trusted.

Two kinds of entry live under one directory (:func:`cache_dir`):

* ``priors/<key>.json``: the distribution parameters PreliZ fitted to one
  prior file, keyed by the file's text and the versions that fit it;
* ``compiled/<key>/``: a model compiled to machine code for nutpie
  (:mod:`estimator.compiled`), keyed by the model's graph and the versions
  that compile it.

Every entry records the key it was written under and a format number; an
entry whose record does not match, or that cannot be read, is rebuilt and
overwritten, never used. Entries are written to a temporary name and renamed,
so a killed process leaves no half-written entry.

The directory is ``$ESTIMATOR_CACHE_DIR`` if set, else the platform's user
cache directory (``platformdirs.user_cache_dir("estimator")``, e.g.
``~/.cache/estimator`` on Linux). Deleting it is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["ENV_VAR", "FORMAT", "cache_dir", "package_versions", "versions", "canonical_versions", "source_digest", "digest", "read_entry", "write_entry"]

ENV_VAR = "ESTIMATOR_CACHE_DIR"
# Bumped whenever the layout or meaning of an entry changes: older entries are then rebuilt.
FORMAT = 1
# Packages whose version changes what an entry holds (elicited parameters or compiled code).
_KEY_PACKAGES = ("estimator", "pymc", "pytensor", "numba", "llvmlite", "nutpie", "numpy", "scipy", "preliz")


def cache_dir() -> Path:
    """The cache directory (created on first use)."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("estimator", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_versions(packages) -> dict[str, str]:
    """The Python version and each installed package's ("not installed" if absent)."""
    out = {"python": sys.version.split()[0]}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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


def read_entry(path: Path, key: str) -> dict | None:
    """The JSON entry at ``path`` if it was written under ``key`` in this format, else ``None``."""
    try:
        entry = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != FORMAT:
        return None
    return entry


def write_entry(path: Path, key: str, payload: dict) -> None:
    """Write ``payload`` as the entry for ``key`` (temporary file, then rename)."""
    from estimator.workers import write_atomic

    write_atomic(Path(path), {**payload, "key": key, "format": FORMAT})


def canonical_versions() -> str:
    """:func:`versions` as canonical JSON text, for keys."""
    return json.dumps(versions(), sort_keys=True)
