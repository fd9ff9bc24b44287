"""Time a fit at an as-of date the cache has not seen, after a default fit, against a warm default fit.

Whole processes (``estimator fit --quiet``), each with the same cache
directory, warmed by one untimed default fit. Then REPEATS rounds,
interleaved so every variant sees the same machine load, of: the default fit
(warm) and a fit at an as-of date no earlier fit used (3, 6, 9, ... months
past the latest claim, a new date each round). Reported: median wall time,
the ratio of the two, and the compiled-model entries the as-of fits added
(none: a fit past the claims samples the default fit's model and draws the
later months after it, :mod:`estimator.forecast`).

With ``--baseline DIR`` (a checkout of an earlier release) the same rounds
run on it too, in its own cache directory, interleaved with the others: there
every as-of date with another month count compiled a model of its own.

Usage: ``python benchmarks/bench_months.py [REPEATS] [--baseline DIR]``.
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resultfile import save

from estimator.claims import load_claims
from estimator.timeline import add_months

ROOT = Path(__file__).resolve().parents[1]


def run_fit(code: Path, cache: Path, out: Path, as_of=None) -> float:
    """Seconds of one whole ``estimator fit`` process of the code at ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "ESTIMATOR_CACHE_DIR": str(cache)}
    args = [sys.executable, "-m", "estimator.cli", "fit", "--quiet", "--out", str(out)]
    args += [] if as_of is None else ["--as-of", str(as_of)]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env, cwd=code)
    return time.perf_counter() - t0


def entries(cache: Path) -> int:
    folder = cache / "compiled"
    return sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else 0


def main(repeats: int, baseline: Path | None) -> None:
    latest = max(load_claims()["date_said"])
    dates = [add_months(latest, 3 * (k + 1)) for k in range(repeats)]
    codes = {"this release": ROOT, **({"baseline": baseline.resolve()} if baseline else {})}
    times = {(name, what): [] for name in codes for what in ("warm default fit", "fit at an unseen as-of date")}
    added = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, code in codes.items():
            run_fit(code, tmp / name / "cache", tmp / "out")  # untimed: fills the cache
            added[name] = -entries(tmp / name / "cache")
        for day in dates:
            for name, code in codes.items():
                cache = tmp / name / "cache"
                times[(name, "warm default fit")].append(run_fit(code, cache, tmp / "out"))
                times[(name, "fit at an unseen as-of date")].append(run_fit(code, cache, tmp / "out", day))
        for name in codes:
            added[name] += entries(tmp / name / "cache")
    lines = [
        f"Whole-process fits, median of {repeats} interleaved rounds; as-of dates "
        f"{', '.join(map(str, dates))} (each new to the cache).",
        "",
        "| code | warm default fit (s) | fit at an unseen as-of date (s) | ratio | compiled entries added |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in codes:
        warm = statistics.median(times[(name, "warm default fit")])
        new = statistics.median(times[(name, "fit at an unseen as-of date")])
        lines.append(f"| {name} | {warm:.1f} | {new:.1f} | {new / warm:.2f} | {added[name]} |")
    print("\n".join(lines))
    command = f"python benchmarks/bench_months.py {repeats}" + (" --baseline DIR" if baseline else "")
    save("months", command, lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repeats", nargs="?", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a checkout of an earlier release, to run side by side")
    a = parser.parse_args()
    main(a.repeats, a.baseline)
