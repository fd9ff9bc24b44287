"""What-ifs of a run (FitResult.update): reweighted by PSIS where k-hat allows, refitted exactly otherwise.

Two fits are shared by the fast tests: a small run (2 chains x 300 draws) whose what-ifs
test the decision, the manifest and the reweighted posterior's parts. The accuracy of
reweighting against an exact refit needs enough draws for its Monte Carlo error to be
well under the 2% asked of it, so those tests (marked slow) share a long run of their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

import estimator
import estimator.inference as inference
from estimator import names as N
from estimator import sweeps
from estimator.claims import claims_from_frame
from estimator.cli import score as score_cli
from estimator.likelihood import claim_loglik, counted_claims
from estimator.reweighting import (
    NUTS,
    PSIS,
    absorption,
    ledger_diff,
    ledger_log_ratio,
    prior_log_ratio,
    reweigh,
    systematic_resample,
)
from estimator.scoring import ledger_moments
from estimator.stats import khat_threshold
from estimator.sweeps import QUANTITIES

SEED = 20240223
SMALL = {"draws": 300, "tune": 300, "chains": 2, "seed": SEED, "sampler": "nutpie", "progress": False}


def appended(claims: pd.DataFrame, claim_id: str, *, like: str, family: str, figure: float, said: str) -> pd.DataFrame:
    """The ledger with one claim added: a copy of claim ``like`` with another id, family, figure and date."""
    row = claims.loc[like].copy()
    row.name = claim_id
    if "id" in row.index:
        row["id"] = claim_id
    row["source_family"], row["figure"] = family, figure
    row["date_said"] = row["period_end"] = dt.date.fromisoformat(said)
    out = claims.copy()
    out.loc[claim_id] = row
    # Validated as a fit validates it: the bounds ``low`` and ``high`` are rebuilt from the figure.
    return claims_from_frame(out)


def near_claim(claims):
    """An open-source count of 31,000 containers by August 2025: within the posterior (k-hat about 0.2)."""
    return appended(
        claims, "osint-2025-08-01", like="kr-dia-2025-07-13", family="osint", figure=31000, said="2025-08-01"
    )


def far_claim(claims):
    """A hundred times the containers any source has counted: a claim the posterior cannot absorb (k-hat about 1.2)."""
    return appended(
        claims,
        "us-far-2025-08-01",
        like="kr-dia-2025-07-13",
        family="us_government",
        figure=3_000_000,
        said="2025-08-01",
    )


@pytest.fixture(scope="module")
def small():
    return estimator.fit(**SMALL)


def test_no_change_is_the_run_itself(small):
    u = small.update()
    assert u.manifest["method"] == PSIS and u.manifest["khat"] == 0.0
    # Uniform weights resample every draw once, in order: the posterior is the run's.
    for var in N.HEADLINE:
        np.testing.assert_array_equal(u.posterior[var].values, small.posterior[var].values)


def test_appended_claim_is_reweighted_with_its_moments(small):
    ledger = near_claim(small.claims)
    u = small.update(claims=ledger)
    m = u.manifest
    n = small.posterior.sizes["chain"] * small.posterior.sizes["draw"]
    assert m["method"] == PSIS and m["from_run"] == small.manifest["input_hash"]
    assert m["khat"] <= m["khat_threshold"] == khat_threshold(n)
    assert 0 < m["ess"] <= n
    assert m["input_hash"] != small.manifest["input_hash"]
    assert list(u.posterior[N.CLAIM].values) == list(ledger.index)
    diff = ledger_diff(small.claims, u.claims, small.manifest["restatements"])
    assert (diff.added, diff.removed, diff.edited) == (["osint-2025-08-01"], [], [])
    # The new claim's moments are the compiled model's (what scoring uses), at the resampled draws.
    mu, _, _, _ = ledger_moments(small, u.claims)
    idx = systematic_resample(np.exp(reweigh(ledger_log_ratio(small, u.claims)[0]).log_weights), m["resample_seed"])
    got = u.posterior[N.CLAIM_LOG_MEAN].sel({N.CLAIM: "osint-2025-08-01"}).values.ravel()
    np.testing.assert_allclose(got, mu[-1][idx], rtol=1e-12)
    # Every group of the run has the new ledger's claims; the sampler's statistics are the run's.
    for group in ("log_likelihood", "posterior_predictive", "observed_data", "constant_data"):
        assert u.tree[group].to_dataset().sizes[N.CLAIM] == len(ledger)
    assert u.diagnostics.divergences == small.diagnostics.divergences
    text = u.summary_text()
    assert f"Reweighted from run {small.manifest['input_hash']} by PSIS (k-hat {m['khat']:.2f} ≤" in text
    # A what-if of this what-if reweights the original run's draws, not the resample.
    again = u.update(priors={"price_152mm_usd": {"mu": 7.3}})
    assert again.manifest["from_run"] == small.manifest["input_hash"]


def test_stored_log_likelihood_is_claim_loglik_at_the_stored_moments(small):
    # What makes the importance ratio right: a claim's stored term (the sampler's) and the term
    # computed for a new claim (claim_loglik at its moments) are the same function.
    def flat(group, var):
        v = small.tree[group][var].transpose(*N.SAMPLE_DIMS, N.CLAIM).values
        return v.reshape(-1, v.shape[-1]).T

    weight = counted_claims(small.claims, small.manifest["restatements"])[:, None]
    computed = weight * claim_loglik(
        small.claims, flat("posterior", N.CLAIM_LOG_MEAN), flat("posterior", N.CLAIM_LOG_SD)
    )
    np.testing.assert_allclose(computed, flat("log_likelihood", N.CLAIMS), rtol=1e-9, atol=1e-9)


def test_unchanged_claims_keep_their_log_likelihood(small):
    u = small.update(claims=near_claim(small.claims))
    idx = systematic_resample(np.exp(reweigh(ledger_log_ratio(small, u.claims)[0]).log_weights), SEED)
    old = small.tree["log_likelihood"][N.CLAIMS].transpose(*N.SAMPLE_DIMS, N.CLAIM).values.reshape(idx.size, -1)
    new = u.tree["log_likelihood"][N.CLAIMS].sel({N.CLAIM: list(small.claims.index)})
    np.testing.assert_allclose(new.transpose(*N.SAMPLE_DIMS, N.CLAIM).values.reshape(idx.size, -1), old[idx], atol=1e-9)


def test_prior_move_log_ratio_is_the_density_ratio(small):
    moved = small.priors.with_params({"price_152mm_usd": {"mu": 7.3}})
    deltas = prior_log_ratio(small.posterior, small.priors, moved)
    assert list(deltas) == ["price_152mm_usd"]
    x = small.posterior["price_152mm_usd"].values.ravel()
    sigma = small.priors.all_specs()["price_152mm_usd"].params["sigma"]
    mu0 = small.priors.all_specs()["price_152mm_usd"].params["mu"]
    # LogNormal: the log x and normalising terms cancel in the ratio.
    expected = (-((np.log(x) - 7.3) ** 2) + (np.log(x) - mu0) ** 2) / (2 * sigma**2)
    np.testing.assert_allclose(deltas["price_152mm_usd"], expected, rtol=1e-9, atol=1e-9)
    u = small.update(priors={"price_152mm_usd": {"mu": 7.3}})
    assert u.manifest["method"] == PSIS
    assert u.manifest["prior_overrides"] == {"price_152mm_usd": {"mu": 7.3}}
    # Claims unchanged: their moments are the run's own at the resampled draws.
    assert u.posterior.sizes[N.CLAIM] == len(small.claims)


def test_far_move_is_refitted_exactly(small):
    ledger = far_claim(small.claims)
    decision = absorption(small, ledger.loc[["us-far-2025-08-01"]])
    assert not decision.holds and decision.khat > khat_threshold(decision.n_draws)
    u = small.update(claims=ledger)
    m = u.manifest
    assert m["method"] == NUTS and m["from_run"] == small.manifest["input_hash"]
    assert m["khat"] == pytest.approx(decision.khat) and m["khat"] > m["khat_threshold"]
    assert "Refitted exactly" in u.summary_text() and f"k-hat {m['khat']:.2f} >" in u.summary_text()
    # The exact path is fit() with the run's own settings: the same draws as calling it directly.
    direct = estimator.fit(ledger, **SMALL)
    assert m["input_hash"] == direct.manifest["input_hash"]
    np.testing.assert_array_equal(u.posterior[N.CONTAINERS].values, direct.posterior[N.CONTAINERS].values)


def test_new_family_is_refitted_exactly(small, monkeypatch):
    ledger = appended(
        small.claims, "x-2025-08-01", like="kr-dia-2025-07-13", family="new_source", figure=31000, said="2025-08-01"
    )
    calls = []

    def stub(*args, **kwargs):
        # What the exact path asks of fit(), without sampling (test_far_move... samples it).
        calls.append(kwargs)
        return dataclasses.replace(small, manifest=dict(small.manifest))

    monkeypatch.setattr(inference, "fit", stub)
    u = small.update(claims=ledger)
    (kwargs,) = calls
    for key in ("seed", "draws", "tune", "chains", "sampler", "as_of", "dynamics", "restatements", "known_by"):
        assert kwargs[key] == small.manifest[key]
    assert u.manifest["method"] == NUTS and u.manifest["khat"] is None
    assert "a family the run did not fit (new_source)" in u.manifest["refit_reason"]


def test_reweighted_run_saves_and_a_loaded_one_refits(small, tmp_path, monkeypatch):
    u = small.update(claims=near_claim(small.claims))
    loaded = estimator.load_result(u.save(tmp_path / "result.nc"))
    assert {k: loaded.manifest[k] for k in ("method", "from_run", "khat", "ess")} == {
        k: u.manifest[k] for k in ("method", "from_run", "khat", "ess")
    }
    np.testing.assert_array_equal(loaded.posterior[N.CONTAINERS].values, u.posterior[N.CONTAINERS].values)
    assert "Reweighted from run" in loaded.summary_text()
    # Read back, it holds only the resample: a what-if of it is refitted, not reweighted again.
    monkeypatch.setattr(inference, "fit", lambda *a, **k: dataclasses.replace(small, manifest=dict(small.manifest)))
    again = loaded.update(priors={"price_152mm_usd": {"mu": 7.3}})
    assert again.manifest["method"] == NUTS and "keeps no draws" in again.manifest["refit_reason"]


def test_sweeps_and_score_take_the_same_decision(small):
    assert sweeps.reweigh is reweigh and score_cli.absorption is absorption
    new = near_claim(small.claims).loc[["osint-2025-08-01"]]
    decision = absorption(small, new)
    direct = reweigh(ledger_log_ratio(small, pd.concat([small.claims, new]))[0])
    assert decision.holds and decision.khat == direct.khat


def test_systematic_resample_keeps_each_draw_about_its_weight():
    w = np.random.default_rng(1).dirichlet(np.ones(1000))
    idx = systematic_resample(w, seed=3)
    counts = np.bincount(idx, minlength=w.size)
    # Systematic resampling keeps draw s floor(S w_s) or ceil(S w_s) times.
    assert np.all(np.abs(counts - w.size * w) < 1.0 + 1e-9) and np.all(np.diff(idx) >= 0)


# ---------------------------------------------------------------- accuracy against exact refits

# Draws of the long run and of each exact refit: 4 chains x 3,000. The relative Monte Carlo
# standard error of a median is then at most about 0.4% for the six sweep quantities (0.7% at the
# default 1,000 a chain, which would leave 2% under three standard errors of a difference). The
# test checks that the combined error of the two medians compared, from ArviZ's MCSE of each (the
# resample's counts its repeated draws as autocorrelation), is at most 0.8%, so 2% is at least
# 2.5 of its standard errors: a reweighting that is right fails one comparison by chance with
# probability about 1%, and a wrong one (a median shifted by the move's own size) fails.
LONG = {"draws": 3000, "tune": 500, "chains": 4, "sampler": "nutpie", "progress": False}


@pytest.fixture(scope="module")
def long_run():
    return estimator.fit(**LONG, seed=SEED)


def _assert_medians_agree(reweighted, exact):
    a, b = reweighted.summary(), exact.summary()
    for var in QUANTITIES:
        rel = abs(a.loc[var, "median"] / b.loc[var, "median"] - 1)
        error = np.hypot(a.loc[var, "mcse_median"], b.loc[var, "mcse_median"]) / b.loc[var, "median"]
        assert error <= 0.008, f"{var}: Monte Carlo error {error:.2%} too large for a 2% comparison"
        assert rel <= 0.02, f"{var}: reweighted median {rel:.2%} from the exact refit's"


@pytest.mark.slow
def test_appended_claim_medians_match_an_exact_refit(long_run):
    ledger = near_claim(long_run.claims)
    u = long_run.update(claims=ledger)
    assert u.manifest["method"] == PSIS
    exact = estimator.fit(ledger, **LONG, seed=SEED + 1)
    _assert_medians_agree(u, exact)


@pytest.mark.slow
def test_moved_prior_medians_match_an_exact_refit(long_run):
    # The 152mm price's log-scale location moved up by 0.2 (its export price 22% higher).
    mu = long_run.priors.all_specs()["price_152mm_usd"].params["mu"] + 0.2
    u = long_run.update(priors={"price_152mm_usd": {"mu": mu}})
    assert u.manifest["method"] == PSIS
    exact = estimator.fit(priors=long_run.priors.with_params({"price_152mm_usd": {"mu": mu}}), **LONG, seed=SEED + 2)
    _assert_medians_agree(u, exact)
    # The move is one the comparison can see: the value's median rose by more than 2%.
    assert u.summary().loc[N.VALUE_USD, "median"] > 1.02 * long_run.summary().loc[N.VALUE_USD, "median"]
