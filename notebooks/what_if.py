# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (estimator)
#     language: python
#     name: estimator
# ---

# %% [markdown]
# # A what-if in a notebook
#
# Three questions an analyst asks of an estimate, each answered by refitting or reweighting the
# same model from Python:
#
# 1. **What if a source were wrong?** Leave each source family out and see how far the answer
#    moves.
# 2. **What if containers were packed lighter?** Refit with a different prior on how full a
#    container of 152mm shells is (a sweep).
# 3. **What if we ask about a later date?** Fit with an as-of date past the latest claim: a
#    forecast, and the summary says how many months it extrapolates.
#
# The command line does the same (`estimator sensitivity`, `estimator sweep`,
# `estimator fit --as-of`). `ESTIMATOR_DRAWS` sets the draws per chain (default 1,000); the
# documentation and the tests run this notebook with a few dozen, too few for numbers worth
# reporting.

# %%
import os
import tempfile
from pathlib import Path

import pandas as pd

import estimator
from estimator import figures, influence
from estimator import names as N
from estimator.sweeps import load_sweep, run_sweep

DRAWS = int(os.environ.get("ESTIMATOR_DRAWS", "1000"))
SEED = 20240223  # the published run's seed: the same inputs give the same numbers
pd.set_option("display.float_format", "{:,.4g}".format)
work = Path(tempfile.mkdtemp(prefix="estimator-what-if-"))

# %% [markdown]
# ## The baseline
#
# The embedded ledger and priors, as of the latest claim.

# %%
result = estimator.fit(draws=DRAWS, tune=DRAWS, chains=4, seed=SEED, progress=False)
result

# %% [markdown]
# ## 1. What if a source family were wrong?
#
# Leaving out every claim of one family at a time shows which sources the answer leans on. The
# posterior without them is estimated by Pareto-smoothed importance sampling of this fit (no
# refit); the `khat` column says whether that estimate is reliable (below the threshold) or
# would need an exact refit (`method="auto"` refits those).

# %%
left_out = influence.influence_table(result, method=influence.PSIS, progress=False)
families_left_out = left_out[left_out["level"] == "family"]
families_left_out.sort_values("shift_median_pct", key=abs, ascending=False).head(12)

# %% [markdown]
# ## 2. What if containers were packed lighter?
#
# `fill_152mm` is the fraction of a container's weight limit used by 152mm shells; the default
# prior puts 90% of its mass between 0.45 and 0.98. A sweep refits the model with that upper
# bound lowered, the compiled model reused for every point.

# %%
sweep_file = work / "fill.toml"
sweep_file.write_text(f"""
[base]
seed = {SEED}
draws = {DRAWS}
tune = {DRAWS}
chains = 2

[grid]
"fill_152mm.upper" = [0.75, 0.98]
""")
sweep = run_sweep(sweep_file, work / "sweep", progress=False)
sweep[
    [
        "fill_152mm.upper",
        "shells_per_container_152mm_median",
        "shells_152mm_median",
        "shells_152mm_q05",
        "shells_152mm_q95",
        "diagnostics_ok",
    ]
]

# %% [markdown]
# Read the two rows side by side: the load per container follows the prior that was moved, and
# the shell count follows it only as far as the claims allow. Claims that count shells directly
# pull the count back, and the container count can take up part of the difference. How far each
# moves is the answer to the question; with few draws the rows differ by noise too.

# %%
fig, ax = figures.plot_sweep(sweep, quantity=N.SHELLS_152MM, grid_keys=load_sweep(sweep_file).grid_keys)

# %% [markdown]
# ## 3. What if we ask about a later date?
#
# An as-of date after the latest claim is a forecast: the months past the claims follow the
# rate dynamics' prior given the months before, so the interval widens with the horizon.

# %%
latest = max(result.claims["date_said"])
later = estimator.fit(as_of="2026-03-31", draws=DRAWS, tune=DRAWS, chains=4, seed=SEED, progress=False)
print(f"Latest claim said {latest}; forecast {later.manifest['months_extrapolated']} months ahead.")
pd.concat({"as of the latest claim": result.summary(), "as of 2026-03-31": later.summary()}, axis=1)

# %%
later.plot_containers_over_time()
