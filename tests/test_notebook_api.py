"""A fit result reads well in Jupyter: HTML summary, tidy draws, figures that display once."""

from html import escape

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from estimator import names as N
from estimator.sampling import Diagnostics

PLOT_METHODS = (
    "plot_containers_over_time",
    "plot_delivered_152mm",
    "plot_value",
    "plot_loads_and_mix",
    "plot_claim_check",
    "plot_family_bias",
)


def test_html_summary_shows_every_headline_quantity_and_the_diagnostics(tiny_result):
    html = tiny_result._repr_html_()
    for var in N.HEADLINE:
        assert N.LABELS[var].strip() in html
    assert "max R-hat" in html and "min bulk ESS" in html and "divergent transitions" in html
    assert tiny_result.manifest["input_hash"] in html


def test_html_summary_opens_with_a_warning_when_a_threshold_is_missed(tiny_result):
    # 2 chains x 60 draws cannot reach a bulk ESS of 400.
    assert not tiny_result.diagnostics.ok
    html = tiny_result._repr_html_()
    warning = html.index("do not report these numbers")
    assert warning < html.index("Headline quantities")
    for problem in tiny_result.diagnostics.problems():
        assert escape(problem) in html


def test_html_summary_says_plainly_when_diagnostics_pass(tiny_result, monkeypatch):
    # The run computes its diagnostics once (a cached property): replace the stored value.
    monkeypatch.setitem(tiny_result.__dict__, "diagnostics", Diagnostics(1.002, 1900.0, 0, N.CONTAINERS, N.CONTAINERS))
    html = tiny_result._repr_html_()
    assert "All sampler diagnostics pass" in html and "do not report" not in html


def test_repr_is_one_short_line(tiny_result):
    text = repr(tiny_result)
    assert "\n" not in text and len(text) < 200 and tiny_result.manifest["input_hash"] in text


def test_draws_give_one_row_per_draw_and_coordinate(tiny_result):
    post = tiny_result.posterior
    n = post.sizes["chain"] * post.sizes["draw"]
    df = tiny_result.draws([N.CONTAINERS, N.FAMILY_BIAS])
    families = post.sizes[N.FAMILY]
    assert len(df) == n + n * families
    assert list(df.columns[:3]) == ["variable", "chain", "draw"] and df.columns[-1] == "value"
    assert df.loc[df["variable"] == N.CONTAINERS, N.FAMILY].isna().all()
    mine = df[df["variable"] == N.CONTAINERS].set_index(["chain", "draw"])["value"]
    assert mine.to_numpy() == pytest.approx(post[N.CONTAINERS].to_numpy().ravel())


def test_draws_default_to_the_headline_quantities(tiny_result):
    assert tuple(tiny_result.draws()["variable"].unique()) == N.HEADLINE


def test_draws_name_an_unknown_variable_and_suggest_the_closest(tiny_result):
    with pytest.raises(KeyError, match="did you mean 'containers'"):
        tiny_result.draws("contaners")


@pytest.mark.parametrize("method", PLOT_METHODS)
def test_plot_methods_return_a_figure_that_pyplot_will_not_draw_again(tiny_result, method):
    fig = getattr(tiny_result, method)()
    assert isinstance(fig, Figure) and fig.axes
    assert fig.number not in plt.get_fignums()


def test_plot_method_draws_on_the_axes_given_and_leaves_the_figure_to_the_caller(tiny_result):
    fig, ax = plt.subplots()
    assert tiny_result.plot_value(ax=ax) is fig
    assert fig.number in plt.get_fignums()


def test_standard_figures_are_all_returned_as_figures(tiny_result):
    from estimator.figures import FIGURES  # noqa: PLC0415 - loads matplotlib; only when drawing

    figs = tiny_result.standard_figures()
    assert tuple(figs) == FIGURES and all(isinstance(f, Figure) for f in figs.values())


def test_prior_draws_are_sampled_once_and_kept(tiny_result):
    assert tiny_result.prior is tiny_result.prior
    assert N.SHELLS_152MM in tiny_result.prior
