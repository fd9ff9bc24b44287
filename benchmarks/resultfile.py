"""Where a benchmark leaves its numbers: ``benchmarks/results/<name>.json`` beside the scripts.

A benchmark prints its findings as lines of Markdown (sentences and pipe tables); the same
lines are saved here as blocks, ``{"text": ...}`` or ``{"columns": [...], "rows": [[...]]}``,
with when and on what they were measured. The documentation's Performance page renders these
files, so its tables are the benchmark's own output, never copied by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

import estimator

RESULTS = Path(__file__).resolve().parent / "results"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def blocks(lines: list[str]) -> list[dict]:
    """Markdown lines as blocks: each run of table lines one table, each other non-empty line one text."""
    out: list[dict] = []
    table: list[str] = []
    for line in [*lines, ""]:
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            rows = [_cells(t) for t in table if not set(t.replace("|", "").strip()) <= {"-", ":", " "}]
            out.append({"columns": rows[0], "rows": rows[1:]})
            table = []
        if line.strip():
            out.append({"text": line.strip()})
    return out


def save(name: str, command: str, lines: list[str]) -> Path:
    """Write ``lines`` (what the benchmark printed) as ``results/<name>.json``; return the file."""
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "benchmark": name,
        "command": command,
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": sys.platform},
        "estimator": estimator.__version__,
        "blocks": blocks(lines),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
