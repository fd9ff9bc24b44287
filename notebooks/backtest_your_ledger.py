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
# # Backtest your own ledger
#
# A backtest asks of a ledger: had we fitted the model at each earlier date (a *vintage*) on
# the claims said by then, how well would it have predicted the claims said afterwards? Each
# later claim is scored against the fit's predictive distribution of what its source would say,
# and the model is compared with two baselines: the priors alone, and the latest claim of the
# same quantity carried forward.
#
# **Your ledger.** Set `ESTIMATOR_LEDGER` to the path of your claims file (the ledger's CSV
# format; see the documentation's Inputs page), or edit `LEDGER` below. Without it this notebook
# uses the claims of the embedded ledger said by 31 December 2024, as an example of a ledger of
# one's own. `ESTIMATOR_DRAWS` sets the draws per chain of each exact fit (default 1,000); the
# documentation and the tests use a few dozen, too few for numbers worth reporting.

# %%
import io
import os
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import display

import estimator
from estimator.backtest import default_vintages, run_backtest
from estimator.claims import read_claims_text
from estimator.figures import plot_backtest_beliefs, plot_backtest_pit

DRAWS = int(os.environ.get("ESTIMATOR_DRAWS", "1000"))
SEED = 20240223
pd.set_option("display.float_format", "{:,.4g}".format)
work = Path(tempfile.mkdtemp(prefix="estimator-backtest-"))

LEDGER = os.environ.get("ESTIMATOR_LEDGER")
if LEDGER is None:
    # The example: the embedded ledger's rows said by the end of 2024, written as a file of one's own.
    text = read_claims_text()[1]
    rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    LEDGER = work / "my-ledger.csv"
    rows[rows["date_said"] <= "2024-12-31"].to_csv(LEDGER, index=False)
claims = estimator.load_claims(LEDGER)
print(f"{len(claims)} claims said from {min(claims['date_said'])} to {max(claims['date_said'])}, from {LEDGER}")

# %% [markdown]
# ## Vintages
#
# By default a backtest fits every month end from the first claim to the last. To keep this
# notebook quick it takes every third: each vintage costs a sampling run, or only a reweighting
# of the latest exact fit where Pareto-smoothed importance sampling allows (`method="auto"`).

# %%
vintages = default_vintages(claims)[::3]
vintages

# %%
bt = run_backtest(
    work / "backtest", claims=LEDGER, vintages=vintages, draws=DRAWS, tune=DRAWS, chains=2, seed=SEED, progress=False
)
pd.Series(bt.summary, name="summary").to_frame()

# %% [markdown]
# `coverage_90` and `coverage_50` are the shares of later claims inside the 90% and 50%
# predictive intervals (calibrated forecasts give about 0.9 and 0.5). The mean log predictive
# density per vintage-claim pair (`model_lpd`; higher is better) is compared with the priors
# alone (`prior_lpd`) and with the latest claim carried forward (`persistence_lpd`), over the
# pairs all three can score.

# %% [markdown]
# ## What was believed when

# %%
bt.beliefs

# %%
fig, ax = plot_backtest_beliefs(
    bt.beliefs, bt.claims, note=f"Backtest of {Path(LEDGER).name}, {len(vintages)} vintages."
)

# %% [markdown]
# ## Each later claim against the forecast made before it
#
# One row per (vintage, later claim): the log predictive density of the claim's event, its PIT
# and whether it fell inside the 50% and 90% intervals, for the model and the baselines.

# %%
display(bt.scores.head(12))
fig, ax = plot_backtest_pit(bt.scores, note=f"Backtest of {Path(LEDGER).name}, {len(vintages)} vintages.")
