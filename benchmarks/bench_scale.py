"""How fit time grows with the ledger: simulated ledgers of 14, 140 and 1,400 claims.

The 14-claim ledger is 14 claims spread evenly over the default ledger (and
the priors of their families), with figures drawn from one prior draw of that
model (``estimator.simulate``); the larger ones repeat it 10 and 100 times,
each copy with new ids and its own simulated figures, so every claim is fresh
evidence on the same months (one as-of date for all: the default ledger's
latest claim). Each size is fitted with the default sampler (nutpie,
4 chains, default target acceptance) and DRAWS draws + DRAWS tuning steps per
chain (default 300: fewer than a default fit's, so that the 1,400-claim fits
finish in minutes; the ratios are what this measures) in this process: once
untimed (compiling the size's padded model, or loading it from the cache),
then REPEATS timed fits per size, interleaved across sizes.

Usage: ``python benchmarks/bench_scale.py [REPEATS] [DRAWS]``.
"""

from __future__ import annotations

# estimator first: it fixes BLAS threads before numpy loads.
import estimator  # noqa: F401, I001  # isort: skip

import statistics
import sys
import time

import numpy as np
import pandas as pd
from resultfile import save

from estimator.likelihood import claim_capacity
from estimator.model import build_model
from estimator.simulate import draw_truth, simulate_claims

SIZES = (14, 140, 1400)
SEED = 11


def base_ledger(claims: pd.DataFrame, priors, n: int = SIZES[0]):
    """``n`` claims spread evenly over the default ledger, and the priors of their families."""
    picked = claims.iloc[np.linspace(0, len(claims) - 1, n).round().astype(int)]
    return picked, priors.restricted_to(set(picked["source_family"]))


def ledger(claims: pd.DataFrame, priors, copies: int, as_of) -> pd.DataFrame:
    """``copies`` simulated copies of ``claims`` (new ids, own figures) from one prior draw."""
    truth = draw_truth(build_model(claims, priors, as_of=as_of), seed=SEED)
    parts = []
    for k in range(copies):
        sim = simulate_claims(claims, truth, seed=SEED + k)
        if k:
            sim = sim.rename(index=lambda i, k=k: f"{i}-copy{k}")
            sim["id"] = sim.index
        parts.append(sim)
    return pd.concat(parts)


def main(repeats: int = 2, draws: int = 300) -> None:
    full_priors = estimator.load_priors()
    full = estimator.load_claims(families=set(full_priors.families))
    base, priors = base_ledger(full, full_priors)
    # One as-of date for every size, so every ledger spans the same months.
    as_of = max(full["date_said"])
    ledgers = {n: ledger(base, priors, n // len(base), as_of) for n in SIZES}
    kw = {"progress": False, "as_of": as_of, "draws": draws, "tune": draws}
    first, walls, quality = {}, {n: [] for n in SIZES}, {}
    for n, claims in ledgers.items():
        t0 = time.perf_counter()
        estimator.fit(claims, priors, **kw)
        first[n] = time.perf_counter() - t0
    for i in range(repeats):
        for n, claims in ledgers.items():
            t0 = time.perf_counter()
            result = estimator.fit(claims, priors, seed=1000 + i, **kw)
            walls[n].append(time.perf_counter() - t0)
            quality.setdefault(n, []).append(result.diagnostics)
    base_wall = statistics.median(walls[SIZES[0]])
    lines = [
        f"Fit time against ledger size (nutpie, 4 chains x {draws} draws + {draws} tune, in one process; {repeats} timed fits per size, interleaved)",
        "",
        "| claims | padded to | first fit (s, compile or cache load) | median fit (s) | runs (s) | ratio to 14 claims | divergences | max R-hat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in SIZES:
        med = statistics.median(walls[n])
        d = quality[n]
        lines.append(
            f"| {n:,} | {claim_capacity(n):,} | {first[n]:.1f} | {med:.1f} | {', '.join(f'{w:.1f}' for w in walls[n])} | {med / base_wall:.1f} | "
            f"{', '.join(str(x.divergences) for x in d)} | {max(x.max_rhat for x in d):.3f} |"
        )
    ratio = statistics.median(walls[SIZES[-1]]) / base_wall
    lines += [
        "",
        f"Fit time ratio {SIZES[-1]:,} / {SIZES[0]} claims: {ratio:.1f} (claims ratio {SIZES[-1] // SIZES[0]})",
    ]
    print("\n".join(lines))
    save("bench_scale", f"python benchmarks/bench_scale.py {repeats} {draws}", lines)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
