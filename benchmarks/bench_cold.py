"""Time the first fit on a fresh machine (cold start), before and after, and where its seconds go.

A *cold* fit is ``estimator fit --quiet`` in a fresh process with both caches empty:
estimator's (``ESTIMATOR_CACHE_DIR``, a new empty folder) and PyTensor's
(``PYTENSOR_FLAGS=base_compiledir=<new empty folder>``; PyTensor keeps its numba
cache in ``<base_compiledir>/numba``, so emptying only ``compiledir`` leaves it warm).
A *warm* fit is the same command run again on the caches the cold fit filled.

The previous code is the commit ``BASE`` checked out in a temporary git worktree and
run with ``PYTHONPATH`` pointing at it; the new code is this checkout. REPEATS rounds,
interleaved so both see the same machine load, each of: previous cold, new cold,
previous warm, new warm. Every run goes through a small driver (``--driver``) that runs
the real command line in the process and times its phases by wrapping the functions
the command calls (the same names in both versions):

* elicitation: ``load_priors`` (PreliZ fitting the prior file; cached after the first run);
* compile callbacks: ``compile_model`` (the child process(es) compiling nutpie's two
  callbacks, then loading them from numba's cache);
* sampling: ``nutpie_sample``;
* prior draws: ``sample_prior`` (4,000 draws from the prior, at ``result.save``);
* the rest (imports, building the model, summaries, writing files): whole process minus those.

Within each phase the seconds numba spent compiling (or loading from its cache) in the
fit's own process are counted too (numba's ``numba:compile`` event), and what landed in
PyTensor's compile folder is listed. The draws of the new code's cold, warm and
``--no-cache`` fits of one seed are compared: they must be identical.

Usage: ``python benchmarks/bench_cold.py [REPEATS]`` (default 3).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from previous import BASE, checkout
from resultfile import save

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("elicitation", "compile callbacks", "sampling", "prior draws")
GROUPS = ("posterior", "posterior_predictive", "log_likelihood", "log_prior", "prior")


def driver(out: str, phases_file: str) -> None:
    """Run ``estimator fit --quiet --out OUT`` in this process, timing its phases into ``phases_file``."""
    from numba.core import event  # noqa: PLC0415 - only in the driver

    import estimator.cli.fit as cli_fit  # noqa: PLC0415 - the version on PYTHONPATH, previous or new
    import estimator.inference as inference  # noqa: PLC0415
    import estimator.sampling as sampling  # noqa: PLC0415
    from estimator.cli import main  # noqa: PLC0415

    numba_time = event.TimingListener()
    seconds = dict.fromkeys(PHASES, 0.0)
    numba = dict.fromkeys(PHASES, 0.0)

    def numba_so_far() -> float:
        return numba_time.duration if numba_time.done else 0.0

    def timed(module, name: str, phase: str) -> None:
        inner = getattr(module, name)

        def wrapper(*args, **kwargs):
            t0, n0 = time.perf_counter(), numba_so_far()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[phase] += time.perf_counter() - t0
                numba[phase] += numba_so_far() - n0

        setattr(module, name, wrapper)

    timed(cli_fit, "load_priors", "elicitation")
    timed(sampling, "compile_model", "compile callbacks")
    timed(sampling, "nutpie_sample", "sampling")
    timed(inference, "sample_prior", "prior draws")
    with event.install_listener("numba:compile", numba_time):
        status = main(["fit", "--quiet", "--out", out])
    Path(phases_file).write_text(json.dumps({"status": status, "seconds": seconds, "numba": numba}))


def tree_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run(code: Path, caches: Path, out: Path, extra: list[str] | None = None) -> dict:
    """One fit in a fresh process through the driver, on the caches under ``caches``; its wall time and phases."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "ESTIMATOR_CACHE_DIR": str(caches / "estimator"),
        "PYTENSOR_FLAGS": f"base_compiledir={caches / 'pytensor'}",
    }
    phases = out.with_suffix(".json")
    if extra:
        args = [sys.executable, "-m", "estimator", "fit", "--quiet", "--out", str(out), *extra]
    else:
        args = [sys.executable, str(Path(__file__).resolve()), "--driver", str(out), str(phases)]
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=caches)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"fit failed ({code}):\n{done.stderr[-3000:]}")
    measured = json.loads(phases.read_text()) if not extra else {"seconds": {}, "numba": {}}
    files, size = tree_size(caches / "pytensor")
    return {"wall": wall, **measured, "pytensor_files": files, "pytensor_bytes": size}


def identical(a: Path, b: Path) -> bool:
    import numpy as np  # noqa: PLC0415 - only when comparing
    import xarray as xr  # noqa: PLC0415

    x, y = xr.open_datatree(a), xr.open_datatree(b)
    for group in GROUPS:
        p, q = x[group].to_dataset(), y[group].to_dataset()
        if set(p.data_vars) != set(q.data_vars) or not all(
            np.array_equal(p[v].values, q[v].values) for v in p.data_vars
        ):
            return False
    return True


def med(values) -> float:
    return statistics.median(values)


def main(repeats: int = 3) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, checkout(Path(tmp) / "base") as base:
        return measure(repeats, Path(tmp), {"previous": base, "new": ROOT})


def measure(repeats: int, tmp: Path, code: dict[str, Path]) -> list[str]:
    """REPEATS interleaved rounds; the results file is rewritten after each, so a long run stopped early keeps its rounds."""
    cold = {name: [] for name in code}
    warm = {name: [] for name in code}
    command = f"python benchmarks/bench_cold.py {repeats}"
    new0 = tmp / "new-0"
    for i in range(repeats):
        for name, path in code.items():
            caches = tmp / f"{name}-{i}"
            (caches / "pytensor").mkdir(parents=True)
            cold[name].append(run(path, caches, caches / "cold"))
            print(f"round {i + 1}: {name} cold {cold[name][-1]['wall']:.1f} s", flush=True)
        for name, path in code.items():
            caches = tmp / f"{name}-{i}"
            warm[name].append(run(path, caches, caches / "warm"))
            print(f"round {i + 1}: {name} warm {warm[name][-1]['wall']:.1f} s", flush=True)
        same_warm = identical(new0 / "cold" / "result.nc", new0 / "warm" / "result.nc")
        save("cold", command, report(i + 1, repeats, cold, warm, same_warm, None))
    # The new code's draws with --no-cache (on empty caches too) against its cold fit of the same seed.
    fresh = tmp / "new-no-cache"
    (fresh / "pytensor").mkdir(parents=True)
    run(code["new"], fresh, fresh / "out", ["--no-cache"])
    same_uncached = identical(new0 / "cold" / "result.nc", fresh / "out" / "result.nc")
    lines = report(repeats, repeats, cold, warm, same_warm, same_uncached)
    save("cold", command, lines)
    return lines


def report(rounds, repeats, cold, warm, same_warm, same_uncached) -> list[str]:
    prev_cold, new_cold = med(r["wall"] for r in cold["previous"]), med(r["wall"] for r in cold["new"])
    prev_warm, new_warm = med(r["wall"] for r in warm["previous"]), med(r["wall"] for r in warm["new"])
    lines = [
        f"Whole process, `estimator fit --quiet` (the defaults), {rounds} of {repeats} rounds interleaved of: previous code ({BASE}) "
        "and new code, each cold (estimator's cache and PyTensor's compile folder both empty) then warm (the same "
        f"command again on the caches the cold run filled); {os.cpu_count()} cores",
        "",
        "| run | previous: median wall (s) | new: median wall (s) | new / previous | previous runs (s) | new runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for label, runs, p, n in (
        ("cold (both caches empty)", cold, prev_cold, new_cold),
        ("warm", warm, prev_warm, new_warm),
    ):
        lines.append(
            f"| {label} | {p:.1f} | {n:.1f} | {n / p:.2f} | "
            f"{', '.join(f'{r["wall"]:.1f}' for r in runs['previous'])} | {', '.join(f'{r["wall"]:.1f}' for r in runs['new'])} |"
        )
    lines += [
        "",
        "Where the cold seconds go (median over the rounds; in parentheses the seconds numba spent compiling or "
        "loading in the fit's own process, within the phase; the callbacks' compiling child processes are not in them)",
        "",
        "| phase | previous, cold (s) | new, cold (s) | previous, warm (s) | new, warm (s) |",
        "|---|---|---|---|---|",
    ]
    for phase in PHASES:
        cells = []
        for runs in (cold["previous"], cold["new"], warm["previous"], warm["new"]):
            cells.append(f"{med(r['seconds'][phase] for r in runs):.1f} ({med(r['numba'][phase] for r in runs):.1f})")
        lines.append(f"| {phase} | {' | '.join(cells)} |")
    rest = [
        f"{med(r['wall'] - sum(r['seconds'].values()) for r in runs):.1f}"
        for runs in (cold["previous"], cold["new"], warm["previous"], warm["new"])
    ]
    lines.append(f"| the rest: imports, model, summaries, writing | {' | '.join(rest)} |")
    lines.append(
        "| what landed in PyTensor's compile folder | "
        + " | ".join(
            f"{med(r['pytensor_files'] for r in runs):.0f} files, {med(r['pytensor_bytes'] for r in runs) / 1e6:.1f} MB"
            for runs in (cold["previous"], cold["new"], warm["previous"], warm["new"])
        )
        + " |"
    )
    uncached = "not run yet" if same_uncached is None else same_uncached
    lines += [
        "",
        f"New code, one seed: cold and warm fits give identical draws ({', '.join(GROUPS)}): {same_warm}; "
        f"cold and `--no-cache` fits: {uncached}",
    ]
    return lines


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--driver":
        driver(sys.argv[2], sys.argv[3])
    else:
        found = main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
        print("\n".join(found), flush=True)
