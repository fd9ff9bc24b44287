"""Validation: SBC machinery, agreement with an importance-sampling reference, scoring claims."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import estimator
from estimator import names as N
from estimator.claims import claims_known_by
from estimator.cli import main
from estimator.errors import InputError
from estimator.refit import RefitSpec, code_identity
from estimator.scoring import _predictive_moments, coverage_summary, score_claims
from estimator.simulate import SIMULATOR_VERSION
from estimator.validation import (
    SBC_MANIFEST,
    SBC_QUANTITIES,
    compare_with_reference,
    fractional_rank,
    reference_posterior,
    run_sbc,
    sbc_seeds,
)

DATA = Path(__file__).parent / "data"
NEW_CLAIMS = DATA / "new_claims.csv"


def test_simulation_seeds_depend_on_the_sbc_seed_and_index_only():
    assert sbc_seeds(7, 3) == sbc_seeds(7, 3)
    assert len({sbc_seeds(7, 3), sbc_seeds(7, 4), sbc_seeds(8, 3)}) == 3


def test_fractional_ranks_of_exact_posterior_draws_are_uniform():
    """Truth and 'posterior' drawn from the same N(0, 1): the ranks must pass the uniformity test.

    300 replicates; the test rejects a uniform sample with probability 1% (fixed seed).
    """
    from arviz_stats.base import array_stats  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    rng = np.random.default_rng(1)
    us = []
    for _ in range(300):
        rank, n, u = fractional_rank(rng.standard_normal((2, 100)), rng.standard_normal(), rng)
        assert 0 <= rank <= n and 0 < u < 1
        us.append(u)
    assert float(array_stats.uniformity_test(np.array(us), method="pot_c")[0]) > 0.01


def test_fractional_rank_thins_autocorrelated_chains():
    rng = np.random.default_rng(2)
    ar = np.zeros((2, 1000))
    for t in range(1, 1000):
        ar[:, t] = 0.95 * ar[:, t - 1] + rng.standard_normal(2)
    _, n, _ = fractional_rank(ar, 0.0, rng)
    assert n < 400  # an AR(1) with rho 0.95 has an ESS near 2000 x 0.05 / 1.95 ~ 50


@pytest.mark.slow
def test_reduced_sbc_command_writes_ranks_summary_and_figures(tmp_path, capsys):
    """Machinery only (2 simulations, tiny refits): no statistical claim is made here."""
    out = tmp_path / "sbc"
    code = main(
        [
            "validate",
            "sbc",
            "--simulations",
            "2",
            "--draws",
            "40",
            "--tune",
            "60",
            "--chains",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "sbc.csv")
    assert list(table["simulation"]) == [0, 1]
    for var in SBC_QUANTITIES:
        assert table[f"{var}_rank"].between(0, table[f"{var}_n"]).all()
        assert table[f"{var}_u"].between(0, 1).all()
    assert len(list((out / "sims").glob("*.json"))) == 2
    for name in ("sbc_summary.csv", "sbc_ecdf_difference.png", "sbc_rank_histograms.png"):
        assert (out / name).stat().st_size > 0
    # A rerun with more simulations keeps the finished ones (resumes) and adds the rest.
    before = (out / "sims" / "00000.json").read_text()
    main(
        [
            "validate",
            "sbc",
            "--simulations",
            "3",
            "--draws",
            "40",
            "--tune",
            "60",
            "--chains",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert (out / "sims" / "00000.json").read_text() == before
    assert len(pd.read_csv(out / "sbc.csv")) == 3


def test_an_sbc_folder_from_another_simulator_is_refused_before_any_work(tmp_path):
    """Ranks from two generative stories must never be mixed by a resume."""

    out = tmp_path / "sbc"
    out.mkdir()
    spec = RefitSpec.from_inputs(
        None, None, as_of="2024-02-23", horizon="2024-02-23", draws=40, tune=60, chains=1, source="<sbc>"
    )
    manifest = {"spec": spec.identity(), "seed": 20240223, "simulator": SIMULATOR_VERSION, "code": code_identity()}
    (out / SBC_MANIFEST).write_text(json.dumps(manifest))
    run_sbc(
        0, out, draws=40, tune=60, chains=1, as_of="2024-02-23", progress=False
    )  # same settings and simulator: accepted
    (out / SBC_MANIFEST).write_text(json.dumps({**manifest, "simulator": SIMULATOR_VERSION - 1}))
    with pytest.raises(InputError, match="simulator version"):
        run_sbc(1, out, draws=40, tune=60, chains=1, as_of="2024-02-23", progress=False)
    assert not list((out / "sims").glob("*.json"))


@pytest.mark.slow
def test_mcmc_quantiles_agree_with_the_importance_sampling_reference(claims, priors):
    """5/50/95% quantiles of containers, 152mm shells and value: NUTS against prior importance sampling.

    Tolerance: on the probability scale the reference CDF at each MCMC quantile must be within 4
    standard errors of its level p, se = sqrt(p(1-p)(1/ESS_quantile + 1/ESS_IS)) (both Monte Carlo
    errors; see compare_with_reference). Nine comparisons at 4 se fail by chance with probability
    below 1e-3. 500,000 prior draws give an IS effective sample size of about 1,000 (measured) on
    the seed era's 14 claims; importance sampling from the prior cannot reach the posterior of the
    whole 53-claim ledger (IS ESS 10, k-hat 2.7 with 4 million draws), so the seed era is the
    ledger this independent check can speak for.
    """
    seed_era = claims_known_by(claims, "2024-02-26")
    sub = priors.restricted_to(set(seed_era["source_family"]))
    result = estimator.fit(seed_era, sub, as_of="2024-02-23", draws=500, tune=500, chains=2, seed=11, progress=False)
    ref = reference_posterior(seed_era, sub, as_of="2024-02-23", draws=500_000, seed=5)
    assert ref["khat"] < 0.7 and ref["ess"] > 500
    table = compare_with_reference(result, ref)
    assert set(table["quantity"]) >= {N.SHELLS_152MM, N.VALUE_USD}
    assert table["agrees"].all(), table.to_string()
    # On the natural scale the medians agree to a few percent as well.
    med = table[table["p"] == 0.5]
    assert (abs(med["mcmc"] / med["reference"] - 1) < 0.1).all()


def test_scoring_fitted_claims_reproduces_the_models_own_claim_means(tiny_result):
    """No extrapolation: the scoring graph must give exactly the claim means the fit stored."""
    post = tiny_result.posterior
    last = pd.Timestamp(str(post[N.MONTH].values[-1]) + "-01").date()
    mu, sd, _, _ = _predictive_moments(tiny_result, tiny_result.claims, last, seed=0)
    stored_mu = post[N.CLAIM_LOG_MEAN].stack(sample=("chain", "draw")).transpose(N.CLAIM, "sample").values
    stored_sd = post[N.CLAIM_LOG_SD].stack(sample=("chain", "draw")).transpose(N.CLAIM, "sample").values
    np.testing.assert_allclose(mu, stored_mu, rtol=1e-10)
    np.testing.assert_allclose(sd, stored_sd, rtol=1e-10)


@pytest.fixture(scope="module")
def new_scores(seed_era_result):
    new = estimator.load_claims(NEW_CLAIMS)
    return score_claims(seed_era_result, new, seed=0)


def test_more_than_claim_reports_the_probability_of_exceeding_its_figure(seed_era_result, new_scores):
    r = new_scores.loc["fixture-us-containers-2024-01"]
    assert r["p_figure"] == pytest.approx(1 - r["pit_low"])
    assert r["p_meaning"] == "P(estimate exceeds the figure)"
    # Simulated check of F(figure): one predictive draw per posterior draw, 2 se tolerance.
    new = estimator.load_claims(NEW_CLAIMS)
    mu, sd, _, _ = _predictive_moments(seed_era_result, new, pd.Timestamp("2026-01-01").date(), seed=0)
    rng = np.random.default_rng(0)
    sims = np.exp(mu[1][:, None] + sd[1][:, None] * rng.standard_normal((mu.shape[1], 200)))
    p = float(np.mean(sims > 7000))
    assert abs(p - r["p_figure"]) < 2 * np.sqrt(0.25 / sims.size) + 0.01


def test_forecasts_say_how_far_they_extrapolate_and_widen_with_it(new_scores):
    assert new_scores.attrs["last_fitted_month"] == "2024-02"
    assert new_scores.loc["fixture-us-containers-2024-01", "months_extrapolated"] == 0
    assert new_scores.loc["fixture-kr-containers-2024-06", "months_extrapolated"] == 4
    assert new_scores.loc["fixture-press-shells-2024-09", "months_extrapolated"] == 7


def test_the_same_count_forecast_further_ahead_is_wider(seed_era_result):
    # The same claim dated four and twelve months past the fitted months: only the horizon
    # differs, so the extra width is the rate dynamics' forecast uncertainty.
    lines = NEW_CLAIMS.read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines if line.startswith("fixture-kr-containers-2024-06,"))
    later = row.replace("fixture-kr-containers-2024-06", "fixture-kr-containers-2025-02").replace(
        "2024-06-30", "2025-02-28"
    )
    new = estimator.load_claims(text="\n".join([lines[0], row, later]) + "\n", name="horizons.csv")
    scores = score_claims(seed_era_result, new, seed=0)
    width = np.log(scores["pred_q95"] / scores["pred_q05"])
    assert scores["months_extrapolated"].tolist() == [4, 12]
    assert width["fixture-kr-containers-2025-02"] > width["fixture-kr-containers-2024-06"]


def test_interval_shares_and_coverage_are_probabilities(new_scores):
    assert new_scores[["p_figure", "in_50", "in_90"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (new_scores["in_90"] >= new_scores["in_50"]).all()
    point = new_scores.loc["fixture-kr-containers-2024-06"]
    assert point["in_50"] in (0.0, 1.0) and point["p_figure"] == pytest.approx(
        2 * min(point["pit_low"], 1 - point["pit_low"])
    )
    summary = coverage_summary(new_scores)
    assert summary["claims"] == 4 and summary["max_months_extrapolated"] == 7
    assert 0 <= summary["coverage_50"] <= summary["coverage_90"] <= 1


def test_claims_after_the_horizon_are_refused_with_every_offender_named(seed_era_result):
    new = estimator.load_claims(NEW_CLAIMS)
    with pytest.raises(InputError) as info:
        score_claims(seed_era_result, new, horizon="2024-05-31")
    text = str(info.value)
    assert "fixture-kr-containers-2024-06" in text and "fixture-press-shells-2024-09" in text
    assert "fixture-us-containers-2024-01" not in text


def test_score_command_prints_coverage_and_writes_table_and_figure(
    seed_era_result, seed_era_result_path, tmp_path, capsys
):
    out = tmp_path / "scores"
    assert main(["score", str(seed_era_result_path), "--claims", str(NEW_CLAIMS), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "coverage of the 50% interval" in text and "months past them" in text
    # Whether the run could absorb them, by the decision FitResult.update takes.
    assert "Adding the new claims to the run would take" in text and "k-hat" in text
    summary = json.loads((out / "scores_summary.json").read_text())
    assert summary["max_months_extrapolated"] == 7 and summary["khat_threshold"] > 0
    assert summary["absorbable"] == (summary["khat"] <= summary["khat_threshold"])
    assert len(pd.read_csv(out / "scores.csv")) == 4
    assert (out / "scores.png").stat().st_size > 0
    # Without --claims: the posterior predictive check of the fitted claims.
    assert main(["score", str(seed_era_result_path), "--out", str(out)]) == 0
    assert len(pd.read_csv(out / "fitted_scores.csv")) == len(seed_era_result.claims)


def test_validate_reference_command_writes_the_comparison(tiny_result_path, tmp_path, capsys):
    """Plumbing only: a 2 x 60-draw run against 100,000 prior draws (no agreement is asserted)."""
    out = tmp_path / "reference"
    assert (
        main(
            [
                "validate",
                "reference",
                str(tiny_result_path),
                "--reference-draws",
                "100000",
                "--out",
                str(out),
                "--format",
                "png,svg",
                "--quiet",
            ]
        )
        == 0
    )
    assert "Pareto k-hat" in capsys.readouterr().out
    assert len(pd.read_csv(out / "reference_comparison.csv")) == 9
    assert (out / "reference_comparison.png").stat().st_size > 0 and (
        out / "reference_comparison.svg"
    ).stat().st_size > 0
    assert json.loads((out / "reference_diagnostics.json").read_text())["draws"] == 100_000


def test_sbc_refuses_a_ledger_it_cannot_simulate_before_any_work(tmp_path, capsys, edit_default_ledger):
    """A one-sided capacity conversion has no 'could hold fewer than' to write: named, exit 2, no folder."""
    text, bad_line = edit_default_ledger("kr-mnd-2023-12-29-cap152", "figure_high", "inf")
    ledger = tmp_path / "one-sided-capacity.csv"
    ledger.write_text(text)
    out = tmp_path / "sbc"
    code = main(["validate", "sbc", "--claims", str(ledger), "--simulations", "1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "one-sided-capacity.csv" in err and f"line {bad_line}" in err and "figure_high" in err
    assert not (out / "sims").exists() and not list(out.glob("*.json"))  # the CLI only checked --out was writable


def test_a_claim_from_a_family_the_fit_never_saw_scores_from_the_population(seed_era_result):
    # An open-source count: the family is in neither the seed-era fit nor (under this name) the prior file.
    lines = NEW_CLAIMS.read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines if line.startswith("fixture-kr-containers-2024-06,"))
    unseen = row.replace("south_korean_government", "news_agency_count").replace(
        "fixture-kr-containers-2024-06", "fixture-news-containers-2024-06", 1
    )
    new = estimator.load_claims(text="\n".join([lines[0], row, unseen]) + "\n", name="unseen.csv")
    assert "news_agency_count" not in seed_era_result.family_labels
    scores = score_claims(seed_era_result, new, seed=0)
    assert scores[["pred_q05", "pred_q50", "pred_q95", "p_figure"]].notna().all().all()
    # Its bias and noise are population draws, not a known family's: a wider predictive interval.
    width = np.log(scores["pred_q95"] / scores["pred_q05"])
    assert width.iloc[1] > width.iloc[0]
