"""Time the default fit end to end, cold and warm, against PyMC, and refits in one process.

(a) Whole process, ``estimator fit --quiet`` in a fresh process each time:
    one *cold* nutpie run with an empty cache directory (it compiles and fills
    the cache), then REPEATS rounds, interleaved so that every variant sees the
    same machine load, of: nutpie with the cache (warm), PyMC (its C modules
    cached by PyTensor), and the example sweep ``sweeps/prices-and-fill.toml``
    end to end (6 exact points, nutpie). Each variant has one untimed warm-up
    run first. Reported: median wall time, the ratio to warm nutpie, and, per
    fit, divergences, max R-hat and the lowest bulk ESS of any headline
    quantity (ArviZ). The cold run's draws are compared with a warm run's:
    compiling afresh and loading from the cache must give identical numbers.
(b) In one process (``estimator.fit``), after one fit: a second fit of the
    ledger with one more claim, and one with a prior setting changed (the
    152mm price's location), REPEATS times each; then the example sweep's 6
    exact points refitted in this process (``run_sweep``), seconds per point.

Usage: ``python benchmarks/bench_fit.py [REPEATS]``. The cache directory of
the whole run is a temporary one, so nothing outside it is read or written.
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from resultfile import save

from estimator import names as N
from estimator.sweep_file import load_sweep
from estimator.sweeps import run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEP_FILE = ROOT / "sweeps" / "prices-and-fill.toml"


def run_cli(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "estimator.cli", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def fit_args(sampler: str, out: Path) -> list[str]:
    return ["fit", "--quiet", "--sampler", sampler, "--out", str(out)]


def sweep_args(out: Path) -> list[str]:
    return ["sweep", str(SWEEP_FILE), "--quiet", "--out", str(out)]


def fit_quality(out: Path) -> dict:
    import arviz_stats as azs  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    result = estimator.load_result(out / "result.nc")
    post = result.posterior
    ess = azs.ess(post[list(N.HEADLINE)], method="bulk")
    d = result.diagnostics
    return {
        "divergences": d.divergences,
        "max_rhat": d.max_rhat,
        "min_headline_ess": min(float(ess[v].min()) for v in N.HEADLINE),
        "posterior": post,
    }


def identical(a, b) -> bool:
    return set(a.data_vars) == set(b.data_vars) and all(np.array_equal(a[v].values, b[v].values) for v in a.data_vars)


def whole_process(repeats: int, tmp: Path, env: dict) -> list[str]:
    cold_out = tmp / "cold"
    cold = run_cli(fit_args("nutpie", cold_out), env)
    cold_quality = fit_quality(cold_out)
    variants = {
        "nutpie, cached (warm)": lambda out: fit_args("nutpie", out),
        "pymc (the previous default)": lambda out: fit_args("pymc", out),
        "example sweep, 6 exact points": sweep_args,
    }
    for name, args in variants.items():
        run_cli(args(tmp / f"warmup-{len(name)}"), env)
    walls = {name: [] for name in variants}
    quality = {name: [] for name in variants if "sweep" not in name}
    for i in range(repeats):
        for j, (name, args) in enumerate(variants.items()):
            out = tmp / f"run-{i}-{j}"
            walls[name].append(run_cli(args(out), env))
            if name in quality:
                quality[name].append(fit_quality(out))
    warm = statistics.median(walls["nutpie, cached (warm)"])
    same = identical(cold_quality["posterior"], quality["nutpie, cached (warm)"][0]["posterior"])
    lines = [
        f"Whole process, `estimator fit --quiet` (the defaults: 4 chains x 1,000 draws, + 500 tuning steps with nutpie, + 1,000 with PyMC) and `estimator sweep {SWEEP_FILE.relative_to(ROOT)}`; "
        f"{repeats} timed runs each, interleaved, after one warm-up run each",
        "",
        "| run | median wall (s) | runs (s) | ratio to warm nutpie fit | divergences (per run) | max R-hat | min bulk ESS, headline |",
        "|---|---|---|---|---|---|---|",
        f"| nutpie, empty cache (cold) | {cold:.1f} | {cold:.1f} | {cold / warm:.2f} | {cold_quality['divergences']} | "
        f"{cold_quality['max_rhat']:.3f} | {cold_quality['min_headline_ess']:,.0f} |",
    ]
    for name, w in walls.items():
        q = quality.get(name)
        cells = (
            ["", "", ""]
            if not q
            else [
                ", ".join(str(x["divergences"]) for x in q),
                f"{max(x['max_rhat'] for x in q):.3f}",
                f"{min(x['min_headline_ess'] for x in q):,.0f}",
            ]
        )
        lines.append(
            f"| {name} | {statistics.median(w):.1f} | {', '.join(f'{x:.1f}' for x in w)} | {statistics.median(w) / warm:.2f} | {' | '.join(cells)} |"
        )
    lines += [
        "",
        f"Cold (compiled afresh) and warm (loaded from the cache) fits with the same seed give identical draws: {same}",
    ]
    return lines


def in_process(repeats: int, tmp: Path) -> list[str]:

    priors = estimator.load_priors()
    claims = estimator.load_claims(families=set(priors.families))
    kw = {"progress": False}
    t0 = time.perf_counter()
    estimator.fit(claims, priors, **kw)
    first = time.perf_counter() - t0
    extra = claims.iloc[[0]].rename(index=lambda i: f"{i}-again")
    extra["id"] = extra.index
    appended = pd.concat([claims, extra])
    mu = priors.parameters["price_152mm_usd"].params["mu"]
    walls = {"one more claim": [], "152mm price prior moved": []}
    for i in range(repeats):
        t0 = time.perf_counter()
        estimator.fit(appended, priors, seed=100 + i, **kw)
        walls["one more claim"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        estimator.fit(claims, priors.with_params({"price_152mm_usd": {"mu": mu + 0.01 * (i + 1)}}), seed=100 + i, **kw)
        walls["152mm price prior moved"].append(time.perf_counter() - t0)
    spec = load_sweep(SWEEP_FILE)
    run_sweep(spec, tmp / "sweep-warmup", progress=False)
    t0 = time.perf_counter()
    run_sweep(spec, tmp / "sweep-timed", progress=False)
    per_point = (time.perf_counter() - t0) / len(spec.points)
    lines = [
        "",
        f"In one process (`estimator.fit`, the defaults: nutpie, 4 chains x 1,000 draws + 500 tune): first fit {first:.1f} s (compiled model loaded from the cache); then {repeats} refits each",
        "",
        "| second fit | median (s) | runs (s) |",
        "|---|---|---|",
    ]
    for name, w in walls.items():
        lines.append(f"| {name} | {statistics.median(w):.2f} | {', '.join(f'{x:.2f}' for x in w)} |")
    lines += [
        "",
        f"Example sweep, {len(spec.points)} exact points ({spec.chains} chains x {spec.draws} draws each) in this process, warm: {per_point:.2f} s per point",
    ]
    return lines


def main(repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "ESTIMATOR_CACHE_DIR": str(tmp / "cache")}
        os.environ["ESTIMATOR_CACHE_DIR"] = env["ESTIMATOR_CACHE_DIR"]
        lines = whole_process(repeats, tmp, env)
        print("\n".join(lines), flush=True)
        more = in_process(repeats, tmp)
        print("\n".join(more), flush=True)
    save("bench_fit", f"python benchmarks/bench_fit.py {repeats}", lines + more)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
