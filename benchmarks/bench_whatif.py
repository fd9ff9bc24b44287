"""Time a what-if in a Python session: ``FitResult.update`` by reweighting against an exact refit.

After one default fit (nutpie, 4 chains x 1,000 draws, the embedded ledger and priors),
two what-ifs:

(a) one claim appended to the ledger (an open-source count of 31,000 containers by August 2025);
(b) a prior setting moved (the 152mm price's log-scale location up by 0.2, a 22% higher price).

Each is answered by ``result.update(...)`` REPEATS times (the first call of a session also
compiles the claims' moment function and imports ArviZ's PSIS: reported apart as "first call"),
and by an exact refit, ``estimator.fit`` with the same inputs and settings (the compiled model
cached, as in a session that has fitted once), REPEATS times, interleaved. Reported: median wall
times, their ratio, k-hat and the weights' ESS, and the reweighted medians of the six sweep
quantities against the exact refit's (the refit's relative Monte Carlo error of a median is
about 0.4-0.7% at these draws, so agreement within 2% is the claim checked here; the tests
check it with four times the draws).

Usage: ``python benchmarks/bench_whatif.py [REPEATS]``. The cache directory of the whole run is
a temporary one, so nothing outside it is read or written.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

os.environ["ESTIMATOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="estimator-bench-whatif-")

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: E402, I001  # isort: skip

import datetime as dt  # noqa: E402

from resultfile import save  # noqa: E402

from estimator.claims import claims_from_frame  # noqa: E402
from estimator.sweeps import QUANTITIES  # noqa: E402

SEED = 20240223


def appended(claims):
    """The default ledger with one open-source count of 31,000 containers by 1 August 2025."""
    row = claims.loc["kr-dia-2025-07-13"].copy()
    row.name = "osint-2025-08-01"
    if "id" in row.index:
        row["id"] = row.name
    row["source_family"], row["figure"] = "osint", 31000.0
    row["date_said"] = row["period_end"] = dt.date(2025, 8, 1)
    out = claims.copy()
    out.loc[row.name] = row
    return claims_from_frame(out)


def timed(fn, cpu=None):
    """Wall seconds of ``fn()`` and its value; with a list ``cpu``, its CPU seconds appended to it."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return time.perf_counter() - t0, out


def main(repeats: int) -> None:
    base = estimator.fit(seed=SEED, progress=False)
    ledger = appended(base.claims)
    mu = base.priors.all_specs()["price_152mm_usd"].params["mu"] + 0.2
    moved = base.priors.with_params({"price_152mm_usd": {"mu": mu}})
    cases = {
        "(a) one claim appended": ({"claims": ledger}, {"claims": ledger}),
        "(b) 152mm price prior moved": ({"priors": {"price_152mm_usd": {"mu": mu}}}, {"priors": moved}),
    }
    settings = {k: base.manifest[k] for k in ("draws", "tune", "chains", "sampler")}
    first = {name: timed(lambda u=u: base.update(**u))[0] for name, (u, _) in cases.items()}
    walls = {name: {"update": [], "fit": [], "cpu": []} for name in cases}
    results = {}
    for i in range(repeats):
        for name, (u, f) in cases.items():
            w, rw = timed(lambda u=u: base.update(**u), walls[name]["cpu"])
            walls[name]["update"].append(w)
            w, exact = timed(lambda f=f, i=i: estimator.fit(**f, **settings, seed=SEED + 1 + i, progress=False))
            walls[name]["fit"].append(w)
            results[name] = (rw, exact)
    lines = [
        f"What-ifs of the default fit (nutpie, 4 chains x 1,000 draws) in one Python session; {repeats} timed runs "
        "each, interleaved; the first call of the session (compiling the claims' moment function, importing "
        "ArviZ's PSIS and PreliZ) timed apart. CPU time is this process's: on a machine shared with other work "
        "the wall time of a fraction of a second moves with the load, its CPU time much less",
        "",
        "| what-if | method | k-hat | ESS | update() median (s) | update() CPU median (s) | first call (s) "
        "| exact refit median (s) | refit / update |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in cases:
        rw, _ = results[name]
        m = rw.manifest
        up, fit = statistics.median(walls[name]["update"]), statistics.median(walls[name]["fit"])
        lines.append(
            f"| {name} | {m['method']} | {m['khat']:.2f} | {m['ess']:,.0f} | {up:.3f} | "
            f"{statistics.median(walls[name]['cpu']):.3f} | {first[name]:.2f} | "
            f"{fit:.1f} | {fit / up:,.0f} |"
        )
    lines += [
        "",
        "Medians, reweighted against the last exact refit (relative difference):",
        "",
        "| quantity | " + " | ".join(f"{name}: reweighted | exact | diff" for name in cases) + " |",
        "|---|" + "---|---|---|" * len(cases),
    ]
    for var in QUANTITIES:
        cells = []
        for name in cases:
            rw, exact = results[name]
            a, b = rw.summary().loc[var, "median"], exact.summary().loc[var, "median"]
            cells += [f"{a:,.4g}", f"{b:,.4g}", f"{a / b - 1:+.2%}"]
        lines.append(f"| {var} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    path = save("whatif", f"python benchmarks/bench_whatif.py {repeats}", lines)
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
