"""Time a first fit compiled by one child process or by two, on an idle machine and with a core busy.

A model's two nutpie callbacks (the log density with its gradient, and the expansion) are
compiled in child processes (``estimator._compiled``): either one per callback, at once,
or one doing both in turn (``ESTIMATOR_COMPILE_PROCESSES=2`` or ``1``). Two children
finish sooner when both cores are free, but each rebuilds the model and both PyTensor
functions, so they cost more CPU in all; one child costs less where another job already
holds a core (a test suite on every core, a sweep's workers). This measures which is
faster in each case.

Each run is ``estimator fit`` in a fresh process with estimator's cache empty (a new
folder, so the model is compiled) and PyTensor's compile folder as the machine has it
(warm after any earlier fit: this is the compile of a new graph, not the cold start of
``bench_cold.py``), at tiny draws (``--draws 10 --tune 10 --chains 1``), since the
compile is what is measured. "One core busy" runs a Python busy loop beside the fit, as
another job would. REPEATS rounds, interleaved so every setting sees the same machine.
The draws of the two settings are compared (every group of ``result.nc``, as ``bench_cold.py``
compares them): they must be identical.

Usage: ``python benchmarks/bench_compile.py [REPEATS]`` (default 3).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cold import identical
from resultfile import save

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--draws", "10", "--tune", "10", "--chains", "1", "--seed", "11", "--quiet"]
SETTINGS = (("idle", "2"), ("idle", "1"), ("one core busy", "2"), ("one core busy", "1"))


def run(tmp: Path, name: str, processes: str, busy: bool) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ESTIMATOR_CACHE_DIR": str(tmp / name / "cache"),
        "ESTIMATOR_COMPILE_PROCESSES": processes,
    }
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "estimator", "fit", *TINY, "--out", str(tmp / name / "out")],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    if done.returncode != 0:
        raise RuntimeError(f"fit failed:\n{done.stderr[-3000:]}")
    return wall


def main(repeats: int = 3) -> list[str]:
    walls: dict[tuple[str, str], list[float]] = {s: [] for s in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(repeats):
            for load, processes in SETTINGS:
                name = f"{i}-{load.replace(' ', '-')}-{processes}"
                walls[(load, processes)].append(run(tmp, name, processes, load != "idle"))
                print(
                    f"round {i + 1}: {load}, {processes} process(es): {walls[(load, processes)][-1]:.1f} s", flush=True
                )
        same = identical(tmp / "0-idle-2" / "out" / "result.nc", tmp / "0-idle-1" / "out" / "result.nc")
    lines = [
        f"A first fit of a new graph (`estimator fit` at 10 + 10 draws, one chain; estimator's cache empty, PyTensor's "
        f"folder warm), whole process, {repeats} rounds interleaved; {os.cpu_count()} cores",
        "",
        "| machine | two children: median (s) | one child: median (s) | one / two | two children, runs (s) | one child, runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for load in ("idle", "one core busy"):
        two, one = walls[(load, "2")], walls[(load, "1")]
        lines.append(
            f"| {load} | {statistics.median(two):.1f} | {statistics.median(one):.1f} | "
            f"{statistics.median(one) / statistics.median(two):.2f} | {', '.join(f'{w:.1f}' for w in two)} | "
            f"{', '.join(f'{w:.1f}' for w in one)} |"
        )
    lines += ["", f"Draws of the two settings identical: {'yes' if same else 'NO'}"]
    save("compile", f"python benchmarks/bench_compile.py {repeats}", lines)
    return lines


if __name__ == "__main__":
    print("\n".join(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))
