"""Prior files: elicited statements become distributions through PreliZ; bad entries are named."""

import copy

import pytest

import estimator
from estimator import names as N
from estimator.errors import InputError
from estimator.priors import load_priors, read_priors_text

_, DEFAULT_TEXT = read_priors_text()


def test_every_model_parameter_has_a_prior_and_families_need_only_a_label(priors):
    assert set(priors.parameters) == set(N.PARAMETERS)
    assert priors.families["us_government"] == "US government"
    # A family the file does not declare is labelled from its key.
    assert priors.family_label("think_tank_x") == "think tank x"


def test_elicited_interval_holds_the_stated_mass(priors):
    """maxent must put 90% of the mass in the elicited interval (PreliZ tolerance ~1e-3; we allow 0.01)."""
    for name, spec in priors.all_specs().items():
        e = spec.elicited
        if "lower" in e:
            d = spec.preliz()
            got = d.cdf(e["upper"]) - d.cdf(e["lower"])
            assert got == pytest.approx(e["mass"], abs=0.01), name


def test_fixed_median_is_respected():
    text = _replace('lower = 500\nupper = 2500\nmass = 0.9\n', 'lower = 500\nupper = 2500\nmass = 0.9\nmedian = 1000\n')
    d = load_priors(text=text, name="median.toml").parameters[N.PRICE_152MM_USD].preliz()
    assert float(d.median()) == pytest.approx(1000.0, rel=0.01)


def test_a_per_family_bias_entry_is_refused_because_families_are_pooled():
    text = DEFAULT_TEXT + '\n[families.extra]\nlabel = "Extra"\n[families.extra.bias]\ndistribution = "LogNormal"\nlower = 0.6\nupper = 1.6\nmass = 0.9\n'
    with pytest.raises(InputError, match="families are pooled") as err:
        load_priors(text=text, name="perfamily.toml")
    assert "[families.extra]" in str(err.value)


def _replace(old, new):
    assert old in DEFAULT_TEXT
    return DEFAULT_TEXT.replace(old, new, 1)


def test_reversed_interval_is_named():
    text = _replace("lower = 500\nupper = 2500", "lower = 2500\nupper = 500")
    with pytest.raises(InputError) as info:
        load_priors(text=text, name="p.toml")
    (p,) = info.value.problems
    assert p.row == "[parameters.price_152mm_usd]" and p.field == "upper" and "reversed" in p.message


def test_interval_outside_support_is_named():
    text = _replace("lower = 0.45\nupper = 0.98", "lower = 0.45\nupper = 1.2")
    with pytest.raises(InputError) as info:
        load_priors(text=text, name="p.toml")
    (p,) = info.value.problems
    assert p.row == "[parameters.fill_152mm]" and "support (0, 1)" in p.message


def test_missing_and_unused_priors_are_errors():
    text = DEFAULT_TEXT.replace("[parameters.price_122mm_usd]", "[parameters.price_122mm_dollars]")
    with pytest.raises(InputError) as info:
        load_priors(text=text, name="p.toml")
    msgs = sorted((p.row, p.message) for p in info.value.problems)
    assert any(r == "[parameters.price_122mm_usd]" and "needs a prior" in m for r, m in msgs)
    assert any(r == "[parameters.price_122mm_dollars]" and "did you mean 'price_122mm_usd'" in m for r, m in msgs)


def test_a_family_without_claims_is_an_unused_prior(claims, priors):
    without_ua = claims[claims["source_family"] != "ukrainian_government"]
    with pytest.raises(InputError, match="ukrainian_government"):
        estimator.build_model(without_ua, priors)


def test_with_params_returns_a_copy(priors):
    before = copy.deepcopy(priors.parameters)
    new = priors.with_params({N.PRICE_152MM_USD: {"mu": 6.2}})
    assert new.parameters[N.PRICE_152MM_USD].params["mu"] == 6.2
    assert priors.parameters == before
