"""The claims simulator writes each claim so that the model's reading of it is the event the draw fell in."""

import math

import numpy as np
import pytest

from estimator import claims as C
from estimator import names as N
from estimator.likelihood import LOWER, UPPER, claim_forms
from estimator.model import build_model
from estimator.simulate import draw_truth, simulate_claims

LAUNCHED = "ua-pgo-2024-02-16"


def _estimates(truth, seed):
    """The sources' estimates simulate_claims draws (same generator, same order)."""
    rng = np.random.default_rng(seed)
    mu, sd = np.asarray(truth[N.CLAIM_LOG_MEAN]), np.asarray(truth[N.CLAIM_LOG_SD])
    return np.exp(mu + sd * rng.standard_normal(mu.shape))


@pytest.mark.parametrize("seed", range(5))
def test_every_simulated_claim_holds_the_estimate_it_was_written_from(claims, priors, seed):
    """Points within rounding (3 significant digits: at most 0.5%); bounds and brackets contain it exactly."""
    truth = draw_truth(build_model(claims, priors, as_of="2024-02-23"), seed=seed)
    sim = simulate_claims(claims, truth, seed=seed)
    est = _estimates(truth, seed)
    for (cid, row), s in zip(sim.iterrows(), est):
        if row["low"] == row["high"]:
            assert s == pytest.approx(row["low"], rel=0.005), cid
        else:
            assert row["low"] <= s <= row["high"], (cid, row["low"], s, row["high"])
    # The simulated ledger has the real one's shape: ids, quantities, periods and sources.
    for col in ("quantity", "kind", "source_family", "period_start", "period_end", "date_said"):
        assert sim[col].equals(claims[col]), col


@pytest.mark.parametrize("shift, qualifier, form", [(-3.0, C.UP_TO, UPPER), (3.0, C.AT_LEAST, LOWER)])
def test_a_one_sided_bound_keeps_its_threshold_and_records_the_side(claims, priors, shift, qualifier, form):
    """'At least 24 launched' is censoring at 24: the figure stays, the side follows the estimate.

    The expected log figure is moved 3 log units (15 noise sd at most) from log 24, so the side is certain.
    """
    truth = draw_truth(build_model(claims, priors, as_of="2024-02-23"), seed=0)
    i = list(claims.index).index(LAUNCHED)
    mu = np.array(truth[N.CLAIM_LOG_MEAN], dtype=float)
    mu[i] = math.log(24) + shift
    sim = simulate_claims(claims, {**truth, N.CLAIM_LOG_MEAN: mu}, seed=0)
    row = sim.loc[LAUNCHED]
    assert row["figure"] == 24 and row["qualifier"] == qualifier
    assert claim_forms(sim)[i] == form
    # The written ledger reads back to the same claim.
    again = C.load_claims(text=sim.attrs["text"], name="<simulated>")
    assert again.loc[LAUNCHED, "qualifier"] == qualifier and claim_forms(again)[i] == form


def test_an_open_ended_more_than_claim_is_simulated_as_a_censored_bound(claims, priors):
    """With figure_high = inf a 'more than 10,000' is one-sided: the simulator keeps 10,000 and records the side.

    The claim's expected log figure is set to log 10,000, so each side has probability 1/2 and
    twelve simulations see both (they fail to with probability 2**-11 before the seeds were fixed).
    """
    ledger = claims.copy()
    ledger.loc["us-state-2024-02-23", ["figure_high", "high"]] = [math.inf, math.inf]
    truth = draw_truth(build_model(ledger, priors, as_of="2024-02-23"), seed=0)
    i = list(ledger.index).index("us-state-2024-02-23")
    mu = np.array(truth[N.CLAIM_LOG_MEAN], dtype=float)
    mu[i] = math.log(10_000)
    sides = set()
    for seed in range(12):
        row = simulate_claims(ledger, {**truth, N.CLAIM_LOG_MEAN: mu}, seed=seed).loc["us-state-2024-02-23"]
        assert row["figure"] == 10_000
        sides.add((row["qualifier"], row["high"]))
    assert sides == {(C.AT_LEAST, math.inf), (C.UP_TO, 10_000)}
