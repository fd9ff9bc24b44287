"""Time the test command (``make test``: lint, the documentation build, pytest) against the previous release's.

Each tree runs its own Makefile's three steps with this checkout's virtual environment
(``PYTHONPATH`` pointing at the tree): ``ruff format --check .``, ``ruff check .`` and
``lint-imports``; ``sphinx-build -W`` of ``docs`` with ``ESTIMATOR_DRAWS=60`` (which
executes the gallery's notebooks); then pytest with the options of that tree's
Makefile: the previous release (``BASE``, checked out in a temporary git worktree) ran
pytest in one process, this one runs it on every core with pytest-xdist. The test
suites differ (this one has more tests): the counts are reported with the times.
Each tree gets its own empty estimator cache; PyTensor's compile folder is the
machine's, as on a developer's machine. REPEATS rounds, interleaved.

Usage: ``python benchmarks/bench_tests.py [REPEATS]`` (default 1: one round takes
about half an hour on two cores).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from previous import BASE, checkout
from resultfile import save

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STEPS = ("lint", "docs", "pytest")


def pytest_args(tree: Path) -> list[str]:
    """The pytest options of ``tree``'s ``make test`` (everything after ``-m pytest`` on its test line)."""
    makefile = (tree / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if "-m pytest" in x and "not slow" not in x and "screenshots" not in x)
    args = line.split("-m pytest", 1)[1].split()
    return [a.replace("$(TEST_WORKERS)", "auto") for a in args]


def run_tree(tree: Path, tmp: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "ESTIMATOR_CACHE_DIR": tempfile.mkdtemp(dir=tmp, prefix="cache-"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    steps = {
        "lint": [
            [str(BIN / "ruff"), "format", "--check", "."],
            [str(BIN / "ruff"), "check", "."],
            [str(BIN / "lint-imports")],
        ],
        "docs": [[str(BIN / "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html"]],
        "pytest": [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args(tree)]],
    }
    seconds, summary = {}, ""
    for step, commands in steps.items():
        t0 = time.perf_counter()
        for command in commands:
            done = subprocess.run(
                command, cwd=tree, env={**env, "ESTIMATOR_DRAWS": "60"}, capture_output=True, text=True
            )
            if step == "pytest":
                # pytest's last line: "612 passed, 18 warnings in 750.56s (0:12:30)", framed by "=" unless -q.
                summary = next(
                    (x for x in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", x)), ""
                )
                if done.returncode != 0:
                    summary += f" (pytest exit status {done.returncode})"
            elif done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed in {tree}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        seconds[step] = time.perf_counter() - t0
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return {"seconds": seconds, "total": sum(seconds.values()), "counts": counts, "summary": summary.strip("= ")}


def main(repeats: int = 1) -> list[str]:
    runs: dict[str, list[dict]] = {"previous": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp, checkout(Path(tmp) / "base") as base:
        for i in range(repeats):
            for name, tree in (("previous", base), ("new", ROOT)):
                runs[name].append(run_tree(tree, Path(tmp)))
                r = runs[name][-1]
                print(f"round {i + 1}: {name} {r['total']:.0f} s ({r['summary']})", flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r["seconds"][key] if key in STEPS else r[key] for r in runs[name])

    lines = [
        f"`make test`'s three steps, previous release ({BASE}, pytest in one process) and this tree (pytest-xdist on "
        f"every core), {repeats} round(s) interleaved; {os.cpu_count()} cores; medians in seconds",
        "",
        "| step | previous (s) | new (s) | new / previous |",
        "|---|---|---|---|",
    ]
    for key in (*STEPS, "total"):
        p, n = med("previous", key), med("new", key)
        lines.append(f"| {key} | {p:.0f} | {n:.0f} | {n / p:.2f} |")
    for name in runs:
        lines.append("")
        lines.append(f"pytest, {name}: {runs[name][-1]['summary']}")
    save("tests", f"python benchmarks/bench_tests.py {repeats}", lines)
    return lines


if __name__ == "__main__":
    print("\n".join(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
