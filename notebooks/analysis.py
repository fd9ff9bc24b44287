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
# # North Korean munitions shipped to Russia: reconciling the public claims
#
# Since September 2023 governments, intelligence services, think tanks, open-source
# investigators and the press have given conflicting figures for the munitions North Korea
# shipped to Russia: "more than 1,000 containers", "around 6,700", "more than 10,000", "more
# than 20,000", "more than two million" 152mm shells, "well over 100" missiles, "billions of
# dollars". Each figure has its own wording, scope, date and source.
#
# This notebook puts them into one Bayesian model with the `estimator` package and reads the
# answer step by step: the claims, the assumptions made before seeing them (priors), a check
# that those assumptions are sensible, the fit and its diagnostics, the estimates, the
# figures, what the estimates hinge on, and a small "what if" sweep. Every step calls the
# package; the model itself is defined in `estimator/model.py`, not here.
#
# **Number of draws.** The environment variable `ESTIMATOR_DRAWS` sets the draws per chain
# (default 1,000, the setting behind the published numbers). The test suite runs this notebook
# with a few dozen draws to check that it runs; numbers from so few draws are not to be
# reported, and the diagnostics below say so.

# %%
import os
import tempfile
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, display

import estimator
from estimator import figures, sensitivity
from estimator import names as N
from estimator.figures import plot_influence_tornado, plot_variance_shares
from estimator.influence import PSIS, influence_table, reconciliation_table
from estimator.sweep_file import load_sweep
from estimator.sweeps import run_sweep

DRAWS = int(os.environ.get("ESTIMATOR_DRAWS", "1000"))
SEED = 20240223  # the seed of the published run: the same inputs give the same numbers
pd.set_option("display.float_format", "{:,.4g}".format)
pd.set_option("display.max_colwidth", 120)

# %% [markdown]
# ## 1. The claims
#
# The claims ledger is a table, one public claim per row. Each row records who said it and
# when, what was counted (`quantity`), whether the figure is a count or a capacity
# conversion ("these containers could hold up to 3 million shells"), the qualifier ("about",
# "more than", "between", ...), the figure itself, the source's own words and a link.
# The default ledger ships with the package; the companion notebook `add_a_claim` shows how to
# extend it.

# %%
priors = estimator.load_priors()
claims = estimator.load_claims()
ledger = claims[
    ["date_said", "who", "source_family", "quantity", "kind", "qualifier", "figure", "figure_high", "wording", "url"]
]
HTML(ledger.to_html(render_links=True, na_rep=""))

# %% [markdown]
# Claims come from four *source families*. The model gives each family its own scope (a
# multiplicative bias: the US counts "munitions or munitions-related materials", South Korea
# apparently containers through one port) and its own noise.

# %%
claims.groupby("source_family").size().rename("claims")

# %% [markdown]
# ## 2. The priors: what the model assumes before reading any claim
#
# Each prior is written the way an analyst states it ("90% between 400 and 625 kg"), with a
# rationale and a citation; PreliZ turns the statement into a distribution.

# %%
priors.table()

# %% [markdown]
# The same priors as densities. The cargo mix (the shares of containers holding 152mm
# shells, 122mm rounds and other material) is a Dirichlet prior; its three marginals follow.

# %%
specs = {name: spec for name, spec in priors.all_specs().items() if spec.distribution != "Dirichlet"}
rows = -(-len(specs) // 4)
fig, axes = plt.subplots(rows, 4, figsize=(13, 2.6 * rows), layout="constrained")
for ax, (name, spec) in zip(axes.flat, specs.items()):
    spec.preliz().plot_pdf(ax=ax, legend=None)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel(textwrap.fill(spec.unit, 40), fontsize=7)
for ax in axes.flat[len(specs) :]:
    ax.set_visible(False)

# %%
priors.parameters[N.CARGO_MIX].preliz().plot_pdf(legend=None, figsize=(10, 2.6))
for ax, cargo in zip(plt.gcf().axes, N.CARGO_TYPES):
    ax.set_title(f"{N.CARGO_MIX}: share of {cargo}", fontsize=9)

# %% [markdown]
# ## 3. Fit the model
#
# `estimator.fit` samples the posterior with NUTS (4 chains, a fixed seed). The result shows
# itself as a summary: diagnostics first (in a red box when any is missed), then the headline
# quantities as of the latest claim (18 September 2025) with their 90% intervals. A fit of what
# was known on an earlier date is `estimator.fit(known_by="2024-02-26", as_of="2024-02-23")`.

# %%
result = estimator.fit(claims, priors, draws=DRAWS, tune=DRAWS, chains=4, seed=SEED, progress=False)
result

# %% [markdown]
# ## 4. Prior predictive check
#
# Before reading the estimates: did the model, before it saw any claim, consider each
# claimed figure possible? For each claim, the table gives the 90% interval of what its source
# would be expected to say under the prior alone (`pred_q05` to `pred_q95`) and `p_figure`, the
# prior probability `estimator score` gives the claim (for a bound, of an estimate beyond it;
# for a range, inside it; for an "about" claim, the two-sided tail probability of its figure).
# A prior that rules a claim out would decide the answer before the evidence could. With the
# default ledger and priors, every claimed figure lies inside its interval.

# %%
prior_check = estimator.claim_check_table(result, draws=result.prior)
prior_check[["quantity", "kind", "qualifier", "low", "high", "pred_q05", "pred_q50", "pred_q95", "p_figure"]]

# %% [markdown]
# ## 5. Diagnostics
#
# Numbers from a sampler that has not converged mean nothing. The thresholds: R-hat at most
# 1.01 (the chains agree), bulk effective sample size at least 400, no divergent transitions.
# `problems()` lists, in plain words, every threshold missed (an empty list means all pass).

# %%
diag = result.diagnostics
display(pd.Series(diag.as_dict(), name="diagnostics").to_frame())
diag.problems()

# %% [markdown]
# ## 6. The headline posterior
#
# Medians and equal-tailed 90% intervals: there is a 90% posterior probability that the
# quantity lies between `q05` and `q95`, given the claims and the priors.

# %%
result.summary()

# %% [markdown]
# Containers as each source family would count them (the modelled total times the family's
# bias), and the probability that more than two million 152mm shells had been delivered, the
# figure the intelligence estimate quoted by Bloomberg gave.

# %%
display(estimator.scope_table(result))
print(f"P(152mm shells delivered > 2 million) = {estimator.prob_shells_above(result):.2f}")

# %% [markdown]
# The posterior is also available as xarray (`result.posterior`, `result.tree`) and as a tidy
# DataFrame, one row per draw, for any question the tables do not answer. For example: the
# probability that the deliveries were worth more than 5 billion dollars.

# %%
draws = result.draws([N.VALUE_USD, N.SHELLS_152MM])
value = draws.loc[draws["variable"] == N.VALUE_USD, "value"]
print(f"P(value > $5 billion) = {(value > 5e9).mean():.2f}")
draws.head()

# %% [markdown]
# ## 7. The standard figures
#
# Each plot method returns a matplotlib figure that displays below the cell.
#
# Cumulative containers over time, as the model reconstructs them and as each family would
# count them, with every claim at the end of the period it counts.

# %%
result.plot_containers_over_time()

# %% [markdown]
# 152mm shells and all artillery rounds delivered: the prior (grey) against the posterior. The
# distance between them is what the claims taught the model.

# %%
result.plot_delivered_152mm()

# %% [markdown]
# The implied value of the deliveries and its parts, at the valuation basis named in the prior
# file (an export price, not the cost of production).

# %%
result.plot_value()

# %% [markdown]
# Shells per container (with the weight limit of a loaded 20-ft container) and the cargo mix.

# %%
result.plot_loads_and_mix()

# %% [markdown]
# Each claim against what the fitted model predicts its source would say: the posterior
# predictive check. A claim far outside its interval is one the model could not reconcile
# with the others.

# %%
result.plot_claim_check()

# %% [markdown]
# Each source family's bias: above 1, the family counts more than the modelled total (a wider
# scope); below 1, less.

# %%
result.plot_family_bias()

# %% [markdown]
# ## 8. What the estimates hinge on
#
# **Prior or claims?** Power-scaling sensitivity: how much each quantity moves when the prior,
# or the claims, are given a little more or a little less weight. The `in_words` column reads
# the diagnosis.

# %%
sensitivity.sensitivity_table(result)

# %% [markdown]
# **Which claim matters?** How far the median of 152mm shells, containers and value moves when
# one claim, or every claim of one source family, is left out. Here by importance sampling on
# the existing draws (seconds); `reliable` is False where the Pareto k-hat says the
# approximation cannot be trusted, and `method="auto"` would refit those rows exactly
# (minutes).

# %%
influence = influence_table(result, method=PSIS)
influence.pivot_table(index="left_out", columns="quantity", values="shift_median_pct").round(1)

# %%
fig, ax = plot_influence_tornado(influence)

# %% [markdown]
# **Do the two routes to the shell count agree?** Shells implied by counting containers and
# converting them at the stated capacities, against the intelligence estimates of shells
# delivered.

# %%
reconciliation = reconciliation_table(result, method=PSIS)
display(reconciliation[["n_claims", "median", "q05", "q95", "method", "reliable"]])
print(reconciliation.attrs["conflict"])

# %% [markdown]
# **Which uncertainty drives the value?** The share of the variance of value explained by each
# factor alone: container count, load per container, cargo mix, unit prices, missile count.

# %%
shares = sensitivity.value_variance_shares(result)
display(shares)
fig, ax = plot_variance_shares(shares)

# %% [markdown]
# ## 9. A small sweep: what if 152mm shells sell for less or more?
#
# A sweep refits the model under several prior settings (here three prices of a 152mm shell)
# and tabulates the headline quantities at each. The model is compiled once and each point
# refitted; the file format is described in `estimator/sweeps.py`, and a fuller example is
# `sweeps/prices-and-fill.toml`.

# %%
work = Path(tempfile.mkdtemp(prefix="estimator-notebook-"))
sweep_file = work / "prices.toml"
sweep_file.write_text(f"""
[base]
seed = {SEED}
draws = {DRAWS}
tune = {DRAWS}
chains = 2

[grid]
"price_152mm_usd" = [
  {{ label = "$500", lower = 400, upper = 625 }},
  {{ label = "$1,000", lower = 800, upper = 1250 }},
  {{ label = "$1,500", lower = 1200, upper = 1875 }},
]
""")
sweep = run_sweep(sweep_file, work / "sweep", progress=False)
sweep[
    ["price_152mm_usd", "value_usd_median", "value_usd_q05", "value_usd_q95", "shells_152mm_median", "diagnostics_ok"]
]

# %% [markdown]
# The value rises with the price while the shell count stays put: the price of a shell comes
# from its prior, because the one claim about value ("billions of dollars") is too loose to pin
# it down.

# %%
fig, ax = figures.plot_sweep(sweep, quantity=N.VALUE_USD, grid_keys=load_sweep(sweep_file).grid_keys)

# %% [markdown]
# ## 10. Keep the run
#
# One file holds the whole run: posterior, diagnostics inputs, the claims and priors as loaded,
# the seed and package versions. Loading it gives back the same result object, so this
# notebook's tables and figures can be redrawn later without refitting.

# %%
path = result.save(work / "result.nc")
estimator.load_result(path)
