"""Time the default fit end to end (whole process, warm) with each sampler.

For each sampler: one warm-up run (fills compilation caches), then REPEATS
timed runs of ``estimator fit --quiet`` in a fresh process each, interleaved
so that both samplers see the same machine load. Reports median wall time,
bulk ESS of every headline quantity (ArviZ), bulk ESS per second for 152mm
shells, and divergences. Usage: ``python benchmarks/bench_fit.py [REPEATS]``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arviz as az

import estimator
from estimator import names as N

SAMPLERS = ("pymc", "nutpie")


def run_once(sampler: str, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "estimator.cli", "fit", "--quiet", "--sampler", sampler, "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main(repeats: int = 3) -> None:
    walls = {s: [] for s in SAMPLERS}
    ess = {s: [] for s in SAMPLERS}
    ess_min = {s: [] for s in SAMPLERS}
    divs = {s: [] for s in SAMPLERS}
    with tempfile.TemporaryDirectory() as tmp:
        for s in SAMPLERS:
            run_once(s, Path(tmp) / f"warm-{s}")
        for i in range(repeats):
            for s in SAMPLERS:
                out = Path(tmp) / f"{s}-{i}"
                walls[s].append(run_once(s, out))
                result = estimator.load_result(out / "result.nc")
                post = result.posterior
                e = az.ess(post[list(N.HEADLINE)], method="bulk")
                ess[s].append(float(e[N.SHELLS_152MM]))
                ess_min[s].append(min(float(e[v]) for v in N.HEADLINE))
                divs[s].append(json.loads((out / "summary.json").read_text())["diagnostics"]["divergences"])
    print(f"{repeats} timed runs per sampler, interleaved, after one warm-up run each\n")
    print("| sampler | median wall (s) | runs (s) | bulk ESS, 152mm shells | ESS/s, 152mm shells | min bulk ESS, headline | divergences |")
    print("|---|---|---|---|---|---|---|")
    for s in SAMPLERS:
        med = statistics.median(walls[s])
        e = statistics.median(ess[s])
        print(f"| {s} | {med:.1f} | {', '.join(f'{w:.1f}' for w in walls[s])} | {e:.0f} | {e / med:.0f} | {min(ess_min[s]):.0f} | {sum(divs[s])} |")
    ratio = statistics.median(walls["nutpie"]) / statistics.median(walls["pymc"])
    print(f"\nnutpie / pymc median wall-time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
