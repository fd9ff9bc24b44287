"""Sweep throughput: naive refits, exact mode, approximate mode, Dask 1 vs 2 workers.

All timings come from one run of this script, side by side. Each mode uses the
same base model (embedded ledger and priors) and sampler settings (2 chains x
500 draws + 500 tune), with points that shift the 152mm-shell and missile price
priors a little, the typical "what if" of an analyst.

(a) naive: per point, rebuild the model with the new prior and call
    ``pm.sample`` (PyMC's NUTS), which compiles its functions every call;
(b) exact: ``run_sweep`` in this process, nutpie compiled once (or loaded
    from the cache directory), then ``with_data`` refits; the compile is
    reported separately;
(c) approx: ``run_sweep(mode="approx")`` over 10,000 points, PSIS reweighting of
    one reference fit; medians compared with exact refits where k-hat < 0.7;
(d) exact mode on a Dask LocalCluster with 1 and with 2 worker processes, each
    worker compiled before the clock starts.

Usage: ``python benchmarks/bench_sweep.py [N_APPROX]``.
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pymc as pm
from resultfile import save

from estimator.model import build_model
from estimator.refit import compiled_model, state_for
from estimator.sweep_file import SweepSpec, apply_overrides
from estimator.sweeps import APPROX, run_sweep

DRAWS, TUNE, CHAINS = 500, 500, 2


def spec_for(points, reference_draws=2000) -> SweepSpec:
    return SweepSpec("benchmark", None, None, "2024-02-23", 11, DRAWS, TUNE, CHAINS, reference_draws, points, None)


def price_points(n_a: int, n_b: int, spread: float = 0.05):
    """Small shifts of the log-scale location of two price priors (a grid of n_a x n_b)."""
    base = estimator.load_priors().parameters
    mu_a, mu_b = base["price_152mm_usd"].params["mu"], base["price_missile_usd"].params["mu"]
    return [
        {"price_152mm_usd.params.mu": float(a), "price_missile_usd.params.mu": float(b)}
        for a in np.linspace(mu_a - spread, mu_a + spread, n_a)
        for b in np.linspace(mu_b - spread, mu_b + spread, n_b)
    ]


def naive(points) -> float:
    priors, claims = estimator.load_priors(), None
    claims = estimator.load_claims()
    t0 = time.perf_counter()
    for i, p in enumerate(points):
        new, _ = apply_overrides(priors, p, file="benchmark", where="point")
        model = build_model(claims, new)
        pm.sample(
            DRAWS,
            tune=TUNE,
            chains=CHAINS,
            cores=1,
            random_seed=i,
            progressbar=False,
            nuts_sampler="pymc",
            model=model,
            compute_convergence_checks=False,
        )
    return (time.perf_counter() - t0) / len(points)


def warm(spec):
    compiled_model(state_for(spec))
    return True


def main(n_approx: int = 10_000) -> None:
    tmp = Path(tempfile.mkdtemp())
    lines = []
    try:
        # (b) exact, in this process
        pts = price_points(4, 3)
        spec = spec_for(pts)
        t0 = time.perf_counter()
        warm(spec.refit_spec())
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        exact = run_sweep(spec, tmp / "exact", progress=False)
        exact_per_point = (time.perf_counter() - t0) / len(pts)
        # (a) naive
        naive_per_point = naive(pts[:3])
        lines.append(f"| naive rebuild + pm.sample | {naive_per_point:.2f} | {1 / naive_per_point:.3f} | 1.0 |")
        lines.append(
            f"| exact (compiled once; compile {compile_s:.0f} s not included) | {exact_per_point:.2f} | {1 / exact_per_point:.2f} | "
            f"{naive_per_point / exact_per_point:.1f} |"
        )
        # (c) approx over n_approx points, then exact refits of a few points for accuracy
        side = int(round(np.sqrt(n_approx)))
        apts = price_points(side, side)
        aspec = spec_for(apts)
        t0 = time.perf_counter()
        approx = run_sweep(aspec, tmp / "approx", mode=APPROX, progress=False)
        approx_s = time.perf_counter() - t0
        n_exact_fallback = int((approx["method"] != "approx").sum())
        lines.append(
            f"| approx ({len(apts):,} points incl. reference fit; {n_exact_fallback} refit exactly) | {approx_s / len(apts) * 1e3:.2f} ms | "
            f"{len(apts) / approx_s:,.0f} | {naive_per_point * len(apts) / approx_s:,.0f} |"
        )
        check_idx = np.linspace(0, len(apts) - 1, 6).astype(int)
        cspec = spec_for([apts[i] for i in check_idx])
        cspec.draws = aspec.reference_draws  # compare like with like: as many draws as the reference
        check = run_sweep(cspec, tmp / "check", progress=False)
        rel = []
        for j, i in enumerate(check_idx):
            if approx.loc[i, "method"] == "approx":
                for q in ("shells_152mm_median", "value_usd_median", "containers_median"):
                    rel.append(abs(approx.loc[i, q] / check.loc[j, q] - 1))
        # (d) Dask, 1 vs 2 workers, warmed
        from distributed import Client, LocalCluster  # noqa: PLC0415 - optional; only with a Dask scheduler

        dpts = price_points(4, 4)
        per = {}
        for n in (1, 2):
            with LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster:
                with Client(cluster) as client:
                    client.run(warm, spec_for(dpts).base_payload())
                    t0 = time.perf_counter()
                    run_sweep(spec_for(dpts), tmp / f"dask{n}", scheduler=client, progress=False)
                    per[n] = time.perf_counter() - t0
        out = [
            f"Sweep benchmark: {CHAINS} chains x {DRAWS} draws (+{TUNE} tune) per exact point",
            "",
            "| mode | time per point (s) | points per second | speed-up vs naive |",
            "|---|---|---|---|",
            *lines,
            "",
            f"Approx vs exact refit ({len(rel)} medians at points with k-hat < 0.7): max relative difference {max(rel) * 100:.2f}%, "
            f"median {np.median(rel) * 100:.2f}%; k-hat range {approx['khat'].min():.2f}-{approx['khat'].max():.2f}",
            f"Dask LocalCluster, {len(dpts)} exact points: 1 worker {per[1]:.1f} s, 2 workers {per[2]:.1f} s, speed-up {per[1] / per[2]:.2f}x",
        ]
        print("\n".join(out))
        save("bench_sweep", f"python benchmarks/bench_sweep.py {n_approx}", out)
        del exact
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
