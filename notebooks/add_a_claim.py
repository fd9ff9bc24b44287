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
# # Add a new claim and see what changes
#
# A new report is a new row in the claims ledger, not new code. This notebook copies the
# default ledger, appends one claim, refits, and compares the estimates before and after.
#
# The claim added here is **hypothetical**, made up for illustration: Ukrainian defence
# intelligence saying "about 1.5 million artillery shells" had arrived by 20 February 2024.
# Replace it with a real one (wording, date and link) to use this notebook in earnest.
#
# `ESTIMATOR_DRAWS` sets the draws per chain (default 1,000); the test suite uses a few dozen,
# too few for numbers worth reporting.

# %%
import csv
import io
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import estimator
from estimator import names as N
from estimator.claims import COLUMNS, read_claims_text
from estimator.influence import PSIS, influence_table

DRAWS = int(os.environ.get("ESTIMATOR_DRAWS", "1000"))
SEED = 20240223  # both fits share it, so the comparison is not muddied by a change of seed
pd.set_option("display.float_format", "{:,.4g}".format)

# %% [markdown]
# ## 1. The new claim, as a ledger row
#
# Every column of the ledger is described in the README. `period_start` is empty: the count runs
# from the start of shipments; `period_end` is empty: it runs to the day the figure was said.

# %%
new_claim = {
    "id": "example-ua-hur-2024-02-20",
    "date_said": "2024-02-20",
    "who": "Hypothetical example: Ukrainian defence intelligence",
    "source_family": "ukrainian_government",
    "quantity": "artillery_rounds",
    "kind": "count",
    "qualifier": "about",
    "figure": "1500000",
    "scope": "artillery rounds of all calibres delivered since shipments began",
    "reliability": "official",
    "wording": "about 1.5 million artillery shells (hypothetical, for illustration)",
    "url": "https://example.org/hypothetical-claim",
    "note": "Not a real claim: added to show how a new row changes the estimates.",
}

# %% [markdown]
# ## 2. A copy of the ledger with the claim appended
#
# The default ledger is left untouched; the copy goes to a scratch folder. Loading it validates
# every row, and a mistake (a misspelt family, a reversed interval) is reported with its line
# and field before any fitting starts.

# %%
_, default_text = read_claims_text()
row = io.StringIO()
csv.DictWriter(row, fieldnames=COLUMNS, lineterminator="\n").writerow(new_claim)
work = Path(tempfile.mkdtemp(prefix="estimator-new-claim-"))
ledger_path = work / "claims-with-new.csv"
ledger_path.write_text(default_text.rstrip("\n") + "\n" + row.getvalue(), encoding="utf-8")

priors = estimator.load_priors()
before_claims = estimator.load_claims()
after_claims = estimator.load_claims(ledger_path)
after_claims.loc[[new_claim["id"]], ["date_said", "who", "quantity", "qualifier", "figure", "low", "high", "wording"]]

# %% [markdown]
# ## 3. Fit both ledgers
#
# Same priors, same sampler settings, same seed: the only difference is the new row.

# %%
settings = dict(draws=DRAWS, tune=DRAWS, chains=4, seed=SEED, progress=False)
before = estimator.fit(before_claims, priors, **settings)
after = estimator.fit(after_claims, priors, **settings)

# %% [markdown]
# Check both fits before comparing them: a difference between two unconverged fits says nothing.

# %%
display(before)
after

# %% [markdown]
# ## 4. Before and after
#
# Median and 90% interval of every headline quantity, and how far the median moved. With
# 1,000 draws per chain a median carries about 1% of Monte Carlo error, so shifts of a percent or
# two are noise.

# %%
b, a = before.summary(), after.summary()
comparison = pd.DataFrame(
    {
        "quantity": b["label"].str.strip(),
        "before": b["median"],
        "before 90%": [f"{lo:,.3g} – {hi:,.3g}" for lo, hi in zip(b["q05"], b["q95"])],
        "after": a["median"],
        "after 90%": [f"{lo:,.3g} – {hi:,.3g}" for lo, hi in zip(a["q05"], a["q95"])],
        "median moved (%)": 100 * (a["median"] / b["median"] - 1),
    }
)
comparison

# %%
print(
    f"P(152mm shells > 2 million): before {estimator.prob_shells_above(before):.2f}, after {estimator.prob_shells_above(after):.2f}"
)

# %% [markdown]
# The whole posterior of the two quantities the new claim speaks to, before and after, from the
# tidy draws of each fit.

# %%
both = pd.concat(
    [
        before.draws([N.ARTILLERY_ROUNDS, N.CONTAINERS]).assign(fit="before"),
        after.draws([N.ARTILLERY_ROUNDS, N.CONTAINERS]).assign(fit="after"),
    ]
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
for ax, var in zip(axes, (N.ARTILLERY_ROUNDS, N.CONTAINERS)):
    for fit_name, colour in (("before", "#999999"), ("after", "#0072B2")):
        x = both.loc[(both["variable"] == var) & (both["fit"] == fit_name), "value"]
        ax.hist(x, bins=40, density=True, histtype="step", linewidth=1.6, color=colour, label=fit_name)
    ax.set_title(N.LABELS[var], fontsize=10)
    ax.set_yticks([])
axes[0].axvline(float(new_claim["figure"]), color="black", linestyle=":", label="new claim")
axes[0].legend(frameon=False)

# %% [markdown]
# ## 5. How the model sees the new claim
#
# The new claim against what the fitted model predicts its source would say, alongside every
# other claim.

# %%
after.plot_claim_check()

# %% [markdown]
# A cross-check: leaving the new claim out of the new fit, by reweighting its draws, should give
# back roughly the old estimates. `reliable` says whether the importance weights can be trusted.

# %%
influence = influence_table(after, method=PSIS, families=False)
influence[influence["left_out"] == new_claim["id"]][
    ["quantity", "median", "q05", "q95", "shift_median_pct", "reliable"]
]
