"""The previous release, checked out beside this tree for the benchmarks that time both side by side."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The release the current work is measured against (the last one merged before it).
BASE = "a930ebd"


@contextlib.contextmanager
def checkout(where: Path, commit: str = BASE) -> Iterator[Path]:
    """``commit`` checked out at ``where`` (a temporary git worktree, removed afterwards); yields ``where``."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), commit], cwd=ROOT, check=True, capture_output=True
    )
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, capture_output=True)
