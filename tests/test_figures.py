"""The standard figures draw from a saved run, and draw what they claim."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from estimator import claims as C  # noqa: E402
from estimator import figures as F  # noqa: E402
from estimator import names as N  # noqa: E402
from estimator.cli import main  # noqa: E402
from estimator.scoring import coverage_summary, score_claims  # noqa: E402
from estimator.summaries import claim_check_table, prob_shells_above  # noqa: E402

PRIOR_DRAWS = 500


@pytest.fixture(scope="session")
def prior(small_run):
    return F.sample_prior(small_run, draws=PRIOR_DRAWS)


def claim_artists(fig):
    """Claim ids drawn in a figure, one per artist tagged as a claim."""
    return [
        a.get_gid()[len(F.CLAIM_GID) :]
        for ax in fig.axes
        for a in ax.get_children()
        if (a.get_gid() or "").startswith(F.CLAIM_GID)
    ]


def test_every_standard_figure_renders_with_title_and_source_note(small_run, prior):
    figs = F.standard_figures(small_run, prior)
    assert tuple(figs) == F.FIGURES
    for name, (fig, _) in figs.items():
        fig.canvas.draw()
        assert fig.get_suptitle(), name
        assert any(t.get_text().startswith("Source:") for t in fig.texts), name


def test_containers_figure_draws_every_claim_exactly_once(small_run):
    fig, _ = F.plot_containers_over_time(F.containers_over_time(small_run), F.claim_marks(small_run))
    drawn = claim_artists(fig)
    assert sorted(drawn) == sorted(small_run.claims.index)


def test_containers_figure_draws_a_median_line_per_reporting_scope(small_run):
    curves = F.containers_over_time(small_run)
    container_families = set(small_run.claims.loc[small_run.claims["quantity"] == C.CONTAINERS, "source_family"])
    assert set(curves["scope"]) == {F.TOTAL} | container_families
    assert (curves["q05"] <= curves["q50"]).all() and (curves["q50"] <= curves["q95"]).all()
    # Cumulative counts never fall.
    for _, c in curves.groupby("scope"):
        assert (np.diff(c["q50"].to_numpy()) >= -1e-9).all()


def test_capacity_conversions_sit_at_the_container_count_they_convert(small_run):
    marks = F.claim_marks(small_run)
    cap = small_run.claims[small_run.claims["kind"] == C.CAPACITY]
    assert len(cap)
    for cid, row in cap.iterrows():
        m = marks.loc[cid]
        assert m["marker"] == F.CAPACITY_MARKER
        assert m["y"] == pytest.approx(row["basis_containers"] + m["lift"])


def test_only_claims_counting_from_a_later_start_are_lifted(small_run):
    marks = F.claim_marks(small_run)
    start = small_run.priors.start_date
    for cid, row in small_run.claims.iterrows():
        later = row["period_start"] is not None and row["period_start"].isoformat() > start
        on_curve = marks.loc[cid, "panel"] == F.CONTAINER_PANEL
        assert (marks.loc[cid, "lift"] > 0) == (later and on_curve), cid


def test_qualifiers_get_their_own_marks(small_run):
    marks = F.claim_marks(small_run)
    counts = small_run.claims["kind"] == C.COUNT
    for cid, row in small_run.claims[counts].iterrows():
        assert marks.loc[cid, "marker"] == F.QUALIFIER_MARKERS[row["qualifier"]]
    assert F.QUALIFIER_MARKERS[C.ABOUT] != F.QUALIFIER_MARKERS[C.MORE_THAN] != F.QUALIFIER_MARKERS[C.BETWEEN]


def test_delivered_figure_prints_the_probability_above_two_million(small_run, prior):
    data = F.delivered_152mm(small_run, prior)
    fig, axes = F.plot_delivered_152mm(data)
    assert len(axes) == 2
    text = " ".join(t.get_text() for t in axes[0].texts)
    assert f"posterior {prob_shells_above(small_run):.2f}" in text
    assert any(np.allclose(line.get_xdata(), N.SHELLS_THRESHOLD) for line in axes[0].get_lines())
    assert set(data["source"]) == {F.PRIOR, F.POSTERIOR}


def test_value_figure_shows_the_total_and_each_part_with_the_valuation_basis(small_run):
    data = F.value(small_run)
    fig, ax = F.plot_value(data)
    assert set(data["variable"]) == set(F.VALUE_PARTS)
    assert len(ax.get_legend().get_texts()) == len(F.VALUE_PARTS)
    assert small_run.priors.valuation_basis in ax.get_title(loc="left")


def test_loads_figure_marks_the_weight_limited_maximum(small_run, prior):
    data = F.loads_and_mix(small_run, prior)
    fig, axes = F.plot_loads_and_mix(data)
    median_max = float(np.median(small_run.posterior[N.MAX_SHELLS_PER_CONTAINER_152MM]))
    assert any(np.allclose(line.get_xdata(), median_max) for line in axes[0].get_lines())
    mix = {v for v in data["variable"] if v.startswith(N.CARGO_MIX)}
    assert len(mix) == len(N.CARGO_TYPES)


def test_claim_check_draws_one_row_and_one_mark_per_claim(small_run):
    data = F.claim_check(small_run)
    fig, ax = F.plot_claim_check(data)
    assert sorted(claim_artists(fig)) == sorted(small_run.claims.index)
    assert len(ax.get_yticks()) == len(small_run.claims)
    # The reference figure sits at 1x for every claim.
    finite = np.isfinite(data["low"])
    assert np.allclose(data.loc[finite, "r_low"], 1.0)
    # A restatement is labelled with its original; no other claim is.
    restated = small_run.claims["restates"] != ""
    assert restated.any()
    assert all(
        t.endswith(f"; restates {small_run.claims.loc[c, 'restates']}") == restated[c] for c, t in data["text"].items()
    )


def test_claim_check_figure_and_score_agree_on_each_claim(small_run):
    data = F.claim_check(small_run)
    scores = score_claims(small_run, small_run.claims)
    np.testing.assert_allclose(data["p_figure"], scores["p_figure"])
    assert list(data.index[data["surprising"]]) == coverage_summary(scores)["surprising"]


def test_claims_are_checked_against_the_prior_the_same_way(small_run, prior):
    check = claim_check_table(small_run, draws=prior)
    assert list(check.index) == list(small_run.claims.index)
    assert check["p_figure"].between(0, 1).all()
    assert (check["pred_q05"] < check["pred_q95"]).all()


def test_family_bias_figure_has_a_row_per_family_with_prior_and_posterior(small_run, prior):
    data = F.family_bias(small_run, prior)
    fig, ax = F.plot_family_bias(data)
    # One row per family of the fitted model, and a last one for the population they are drawn from.
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(small_run.family_labels) + 1
    assert "not yet seen" in labels[-1]
    assert set(data["source"]) == {F.PRIOR, F.POSTERIOR}


def test_plot_functions_draw_on_the_axes_given(small_run):
    fig, ax = plt.subplots()
    got_fig, got_ax = F.plot_value(F.value(small_run), ax=ax)
    assert got_fig is fig and got_ax is ax
    fig2, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="draws on 1 Axes; got 2"):
        F.plot_value(F.value(small_run), ax=axes)


def test_family_colours_are_colour_blind_safe_and_distinct():
    # Okabe-Ito's seven colours besides the black of the modelled total, and Tol's wine for an
    # eighth: the default ledger's eight families all differ, and none is the total's black.
    colors = F.family_colors([f"family_{i}" for i in range(8)])
    assert len(set(colors.values())) == 8
    safe = {c.upper() for c in F.OKABE_ITO.values()} | {F.WINE.upper()}
    assert {to_hex(c).upper() for c in colors.values()} <= safe - {F.OKABE_ITO["black"].upper()}


def test_prior_draws_are_reproducible(small_run):
    a = F.sample_prior(small_run, draws=50)
    b = F.sample_prior(small_run, draws=50)
    np.testing.assert_array_equal(a[N.SHELLS_152MM].values, b[N.SHELLS_152MM].values)


# The public names of the figures module from before it became a package, under their current
# names (the earlier aliases were retired: CHANGELOG.md); SURPRISE_TAIL, the second threshold of
# the claim check, is gone.
FORMER_NAMES = (
    "OKABE_ITO PRIOR_COLOR TOTAL PRIOR POSTERIOR PRIOR_SEED PRIOR_DRAWS ARROW_UP QUALIFIER_MARKERS CAPACITY_MARKER "
    "QUALIFIER_LEGEND QUALIFIER_SYMBOL QUANTITY_LABELS CONTAINER_PANEL OTHER_PANEL FIGURES CLAIM_GID sample_prior "
    "source_note family_colors containers_over_time claim_marks plot_containers_over_time delivered_152mm "
    "plot_delivered_152mm VALUE_PARTS VALUE_COLORS VALUE_LABELS value plot_value MIX_COLORS loads_and_mix "
    "plot_loads_and_mix SURPRISE_P claim_check plot_claim_check family_bias plot_family_bias standard_figures plot_sweep"
).split()


@pytest.mark.parametrize("name", FORMER_NAMES)
def test_every_public_name_of_the_former_figures_module_still_imports(name):
    assert hasattr(F, name)


def test_the_standard_figures_are_one_table(small_run):
    assert F.FIGURES == tuple(F.STANDARD)
    for name, figure in F.STANDARD.items():
        # One name per figure: its key names its compute and plot steps.
        assert figure.plot.__name__ == f"plot_{name}"
        assert figure.compute[0].__name__ == name
        assert callable(getattr(small_run, f"plot_{name}"))


def test_cli_figures_writes_every_figure_in_the_format_asked(small_run_path, tmp_path):
    # PNG output is covered by the report command's test; SVG here keeps the suite fast.
    assert main(["figures", str(small_run_path), "--out", str(tmp_path), "--format", "svg"]) == 0
    for name in F.FIGURES:
        assert (tmp_path / f"{name}.svg").stat().st_size > 0
    assert not list(tmp_path.glob("*.png"))


def test_cli_figures_lists_every_bad_argument_at_once(tmp_path, capsys):
    assert main(["figures", str(tmp_path / "missing.nc"), "--format", "png,gif"]) == 2
    err = capsys.readouterr().err
    assert "missing.nc" in err and "gif" in err
