"""Sensitivity, influence and variance shares.

The ledger in ``tests/data/claims-sensitivity.csv`` has four synthetic claims:
a container count and a capacity conversion (the count x capacity chain), a
direct shell count far above what the chain implies ("decisive"), and a
container range from a millionth to a thousand trillion that carries no information
("vacuous"). One tiny fit is shared by the whole module. Exact refits run
the run's compiled model with the left-out claims weighted 0; in this process
it is compiled once for every test (the executor keeps it per payload).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import estimator
from estimator import influence as I
from estimator import names as N
from estimator import sensitivity as S
from estimator.claims import claims_from_frame, subset_claims
from estimator.cli import main
from estimator.figures import plot_influence_tornado, plot_variance_shares
from estimator.inference import FitResult
from estimator.model import ModelRecipe, prior_data_name
from estimator.refit import state_for

DATA = Path(__file__).parent / "data"
DECISIVE, VACUOUS = "syn-decisive", "syn-vacuous"


@pytest.fixture(scope="module")
def synthetic_fit():
    priors = estimator.load_priors()
    claims = estimator.load_claims(DATA / "claims-sensitivity.csv")
    return estimator.fit(claims, priors, draws=100, tune=100, chains=2, seed=1, progress=False)


def test_a_claim_with_a_vacuous_range_moves_no_headline_quantity(synthetic_fit):
    table = I.influence_table(synthetic_fit, method=I.PSIS)
    rows = table[table["left_out"] == VACUOUS]
    assert set(rows["quantity"]) == set(I.INFLUENCE_QUANTITIES)
    # Its log-likelihood is constant to ~1e-12 over the draws: the weights are
    # uniform, and the left-out quantiles equal the full ones to rounding.
    assert (rows["method"] == I.FLAT).all()
    assert np.abs(rows["shift_median_pct"]).max() < 1e-9
    rel_q = np.abs(rows[["shift_q05", "shift_q95"]].to_numpy() / rows[["q05", "q95"]].to_numpy())
    assert rel_q.max() < 1e-12


def test_leaving_out_the_decisive_claim_lowers_the_shell_median(synthetic_fit):
    full = np.median(synthetic_fit.posterior[N.SHELLS_152MM].values)
    settings = I.RefitSettings(draws=200, tune=200, chains=2, seed=2)
    exact = I.leave_out(synthetic_fit, [DECISIVE], method="auto", refit=settings)
    # auto refits exactly when PSIS cannot be trusted, and reweights otherwise.
    assert exact.method == (I.REFIT if exact.khat > exact.threshold else I.PSIS)
    reweighted = I.leave_out(synthetic_fit, [DECISIVE], method=I.PSIS)
    # The claim says 6 million; without it the chain (8,000 containers, about
    # 375 shells each at most, part of them 152mm) implies far fewer.
    assert exact.quantiles(N.SHELLS_152MM)[1] < 0.8 * full
    assert reweighted.quantiles(N.SHELLS_152MM)[1] < full


# Tiny refits: enough to see a claim's pull, and cheap once the model is compiled.
TINY = I.RefitSettings(draws=100, tune=100, chains=2, seed=4)


def test_an_exact_refit_weighs_the_left_out_claim_zero_in_the_runs_compiled_model(synthetic_fit, monkeypatch):
    builds = []
    build = ModelRecipe.build
    monkeypatch.setattr(ModelRecipe, "build", lambda self: builds.append(1) or build(self))
    full = {v: np.median(synthetic_fit.posterior[v].values) for v in (N.SHELLS_152MM, N.CONTAINERS)}
    lo = I.leave_out(synthetic_fit, [DECISIVE], method=I.REFIT, refit=TINY)
    assert lo.method == I.REFIT and len(lo.weights) == 200
    # Without the 6-million-shell claim the chain (8,000 containers, at most about 375 shells
    # each) is all that is left: fewer shells, and fewer containers, which it had also pulled up.
    assert lo.quantiles(N.SHELLS_152MM)[1] < 0.8 * full[N.SHELLS_152MM]
    assert lo.quantiles(N.CONTAINERS)[1] < full[N.CONTAINERS]
    # The seed comes from the run's seed and the claims left out: the same refit again is the same draws.
    again = I.leave_out(synthetic_fit, [DECISIVE], method=I.REFIT, refit=TINY)
    np.testing.assert_array_equal(again.draws[N.SHELLS_152MM], lo.draws[N.SHELLS_152MM])
    # Both refits sampled one model of the run, built (and compiled) at most once.
    assert len(builds) <= 1


def test_refit_seeds_depend_on_the_claims_left_out_not_their_order():
    assert I._refit_seed(4, ["a", "b"]) == I._refit_seed(4, ["b", "a"])
    assert len({I._refit_seed(4, ["a"]), I._refit_seed(4, ["b"]), I._refit_seed(5, ["a"])}) == 3


@pytest.mark.slow
def test_refits_through_two_workers_equal_the_refits_in_this_process(synthetic_fit):
    here = I.influence_table(synthetic_fit, method=I.REFIT, refit=TINY, families=False, progress=False)
    pooled = I.influence_table(synthetic_fit, method=I.REFIT, refit=TINY, families=False, progress=False, workers=2)
    assert (here["method"] == I.REFIT).sum() == 3 * len(I.INFLUENCE_QUANTITIES)
    pd.testing.assert_frame_equal(pooled, here)


def test_the_refit_model_has_the_runs_prior_overrides_and_its_edited_ledger(synthetic_fit):
    """Refits are built from the run's own claims and priors, not from files: an edited ledger and an override both reach the model."""
    priors = synthetic_fit.priors.with_params({N.FILL_152MM: {"alpha": 7.0}})
    edited = synthetic_fit.claims.copy()
    edited.loc[DECISIVE, "figure"] = 5_000_000
    claims = claims_from_frame(edited.drop(columns=["low", "high", "line"]))
    manifest = {
        **synthetic_fit.manifest,
        "claims_text": claims.attrs["text"],
        "claims_source": "<DataFrame>",
        "prior_overrides": priors.overrides,
    }
    run = FitResult(synthetic_fit.tree, claims, priors, manifest)
    state = state_for(I._refit_spec(run, TINY))
    data = {d.name: d.get_value() for d in state.model.data_vars}
    assert data[prior_data_name(N.FILL_152MM, "alpha")] == 7.0
    assert state.claims.loc[DECISIVE, "low"] == 5_000_000


def test_a_refit_that_misses_a_diagnostic_threshold_is_flagged_in_the_influence_table(synthetic_fit):
    """20 draws of 2 chains cannot reach the bulk ESS of 100 per chain that diagnose asks of a refit: the row must say so."""
    starved = I.RefitSettings(draws=20, tune=20, chains=2, seed=4)
    table = I.influence_table(synthetic_fit, method=I.REFIT, refit=starved, families=False, progress=False)
    refitted = table[table["method"] == I.REFIT]
    assert len(refitted) >= 3 * len(I.INFLUENCE_QUANTITIES)
    assert not refitted["diagnostics_ok"].any() and not refitted["reliable"].any()
    # A claim whose likelihood is flat is never refitted: its rows keep the run's own (checked) draws.
    assert table.loc[table["method"] != I.REFIT, "diagnostics_ok"].all()
    healthy = I.influence_table(synthetic_fit, method=I.PSIS, families=False, progress=False)
    assert healthy["diagnostics_ok"].all()


def test_an_exact_refit_leaves_the_runs_priors_and_claims_untouched(synthetic_fit):
    families = dict(synthetic_fit.priors.families)
    n_claims = len(synthetic_fit.claims)
    subset = subset_claims(synthetic_fit.claims, [DECISIVE])
    reduced = synthetic_fit.priors.restricted_to(set(subset["source_family"]))
    assert list(reduced.families) == ["press_intelligence"]
    assert dict(synthetic_fit.priors.families) == families
    assert len(synthetic_fit.claims) == n_claims
    # The subset's ledger text holds the header and exactly the kept rows.
    lines = subset.attrs["text"].strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(DECISIVE)


def _levels(k: int) -> np.ndarray:
    """k equally spaced values with mean exactly 0 and variance exactly 1."""
    u = np.linspace(-1.0, 1.0, k)
    return (u - u.mean()) / u.std()


def test_additive_variance_shares_match_the_hand_computed_ones():
    # A full factorial design makes the factors exactly uncorrelated with unit
    # variance, so the shares are exactly those computed by hand (no sampling
    # noise): only the adjusted-R^2 correction, O(terms / n), remains.
    x = np.array(np.meshgrid(_levels(20), _levels(20), _levels(20))).reshape(3, -1).T
    y = x[:, 0] + 2 * x[:, 1] + 3 * x[:, 2]
    shares = S.first_order_indices(y, {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "a and b": x[:, :2]})["share"]
    # Var(y) = 1 + 4 + 9 = 14: shares 1/14, 4/14, 9/14; a group's share is the sum.
    expected = {"a": 1 / 14, "b": 4 / 14, "c": 9 / 14, "a and b": 5 / 14}
    for name, value in expected.items():
        assert shares[name] == pytest.approx(value, abs=1e-3)
    assert shares[["a", "b", "c"]].sum() <= 1 + 1e-3


def test_product_variance_shares_leave_the_interaction_as_remainder():
    a, b = np.meshgrid(2.0 + _levels(60), 3.0 + _levels(60))
    a, b = a.ravel(), b.ravel()
    table = S.first_order_indices(a * b, {"a": a, "b": b})["share"]
    # Independent, unit variances: Var(ab) = mu_b^2 + mu_a^2 + 1 = 14; a
    # explains 9/14, b 4/14, and the interaction 1/14 is left over.
    assert table["a"] == pytest.approx(9 / 14, abs=1e-3)
    assert table["b"] == pytest.approx(4 / 14, abs=1e-3)
    assert table[S.REMAINDER] == pytest.approx(1 / 14, abs=1e-3)
    assert table[["a", "b"]].sum() <= 1 + 1e-3


def test_noisy_independent_draws_give_shares_near_the_exact_ones():
    # The same additive case from random draws: sampling noise in the
    # realised correlations moves each share by about 0.01 at n = 20,000.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 3))
    shares = S.first_order_indices(x @ [1.0, 2.0, 3.0], {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})["share"]
    assert shares[["a", "b", "c"]].to_numpy() == pytest.approx([1 / 14, 4 / 14, 9 / 14], abs=0.03)
    assert shares[["a", "b", "c"]].sum() <= 1 + 0.01


def test_value_shares_cover_every_factor_and_lie_in_the_unit_interval(synthetic_fit):
    shares = S.value_variance_shares(synthetic_fit)
    factors = [f for f in shares.index if f != S.REMAINDER]
    assert factors == list(S.VALUE_FACTORS)
    assert shares.loc[factors, "share"].between(0, 1).all()


def test_sensitivity_table_says_each_diagnosis_in_words(synthetic_fit):
    table = S.sensitivity_table(synthetic_fit)
    assert {N.SHELLS_152MM, N.CONTAINERS, N.VALUE_USD, N.FILL_152MM} <= set(table.index)
    assert table["in_words"].str.len().gt(20).all()
    assert (table[["prior", "likelihood"]] >= 0).all().all()


def test_reconciliation_reports_the_three_evidence_sets_and_their_overlap(synthetic_fit):
    table = I.reconciliation_table(synthetic_fit, method=I.PSIS)
    assert list(table.index) == [I.CHAIN, I.DIRECT, I.BOTH, I.FULL]
    assert table.loc[I.DIRECT, "claims"] == DECISIVE
    assert 0 <= table.attrs["overlap"] <= 1
    assert "overlap" in table.attrs["conflict"]


def test_overlap_of_identical_samples_is_one_and_of_distant_ones_zero():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4000)
    w = np.full(4000, 1 / 4000)
    assert I.overlap_coefficient(x, w, x, w) == pytest.approx(1.0, abs=1e-6)
    assert I.overlap_coefficient(x, w, x + 20, w) < 1e-6


def test_plots_draw_on_a_given_axes(synthetic_fit):
    fig, ax = plt.subplots()
    out_fig, out_ax = plot_influence_tornado(I.influence_table(synthetic_fit, method=I.PSIS), ax=ax)
    assert out_ax is ax and out_fig is fig and ax.get_title()
    # Families are named as the prior file labels them, not by their keys.
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    for key, label in synthetic_fit.priors.families.items():
        if key in set(synthetic_fit.claims["source_family"]):
            assert any(t.startswith(f"all claims of {label}") for t in ticks), (label, ticks)
    fig2, ax2 = plot_variance_shares(S.value_variance_shares(synthetic_fit))
    assert "%" in ax2.get_xlabel()


def test_cli_sensitivity_prints_tables_and_writes_both_figures(synthetic_fit, tmp_path, capsys):
    path = synthetic_fit.save(tmp_path / "result.nc")
    out = tmp_path / "sens"
    assert (
        main(["sensitivity", str(path), "--out", str(out), "--no-refit", "--workers", "2", "--format", "png,pdf"]) == 0
    )
    printed = capsys.readouterr().out
    assert "Power-scaling sensitivity" in printed and "overlap" in printed
    for name in (
        "sensitivity_tornado.png",
        "sensitivity_variance_shares.png",
        "sensitivity_tornado.pdf",
        "sensitivity_variance_shares.pdf",
        "sensitivity_influence.csv",
    ):
        assert (out / name).stat().st_size > 0


def test_cli_sensitivity_names_a_missing_result(tmp_path, capsys):
    assert main(["sensitivity", str(tmp_path / "nope.nc"), "--out", str(tmp_path)]) == 2
    assert "file not found" in capsys.readouterr().err
