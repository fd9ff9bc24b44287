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
    text = _replace("lower = 500\nupper = 2500\nmass = 0.9\n", "lower = 500\nupper = 2500\nmass = 0.9\nmedian = 1118\n")
    d = load_priors(text=text, name="median.toml").parameters[N.PRICE_152MM_USD].preliz()
    assert float(d.median()) == pytest.approx(1118.0, rel=0.01)


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


def test_a_declared_family_without_claims_is_left_out_of_the_model(claims, priors):
    without_ua = claims[claims["source_family"] != "ukrainian_government"]
    model = estimator.build_model(without_ua, priors)
    assert "ukrainian_government" not in model.coords["family"]
    assert set(model.coords["family"]) == set(without_ua["source_family"])


def test_with_params_returns_a_copy(priors):
    before = copy.deepcopy(priors.parameters)
    new = priors.with_params({N.PRICE_152MM_USD: {"mu": 6.2}})
    assert new.parameters[N.PRICE_152MM_USD].params["mu"] == 6.2
    assert priors.parameters == before


# ---------------------------------------------------------------- generated malformed prior files

import math  # noqa: E402
import tomllib  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from estimator.priors import DISTRIBUTIONS  # noqa: E402

_DOC = tomllib.loads(DEFAULT_TEXT)
# (locator, path of the entry in the document, model variable) of every prior entry.
# Families carry only a label and a note (their biases and noises are pooled), so every
# elicited entry is a parameter.
_ENTRIES = [(f"[parameters.{p}]", ("parameters", p), p) for p in _DOC["parameters"]]
_ELICITATION = ("lower", "upper", "mass", "median", "mode", "bound")
_KNOWN_KEYS = {"distribution", "quartiles", "params", "unit", "rationale", "citation", *_ELICITATION}
_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
_NOT_A_NUMBER = st.one_of(_WORDS, st.booleans(), st.lists(st.integers(), max_size=2), st.just({"x": 1}), st.sampled_from([math.nan, math.inf, -math.inf]))


@pytest.fixture(scope="module")
def fitted_default(priors):
    """The default's fitted parameters: entries left intact skip PreliZ, so a file loads in milliseconds."""
    return priors.fitted_params()


def _entry(doc, path):
    node = doc
    for k in path:
        node = node[k]
    return node


@st.composite
def _prior_mutation(draw):
    """One edit that makes the default prior file invalid: (document, (locator, field) it must name, variable)."""
    doc = copy.deepcopy(_DOC)
    where, path, var = draw(st.sampled_from(_ENTRIES))
    entry = _entry(doc, path)
    dirichlet = entry["distribution"] == "Dirichlet"
    real_line = DISTRIBUTIONS[entry["distribution"]] == N.REAL  # a negative bound is valid there
    kind = draw(st.sampled_from(["distribution", "negative", "reversed", "mass", "undocumented", "unknown_key", "wrong_type", "not_a_table", "file"]))
    if kind == "distribution":
        entry["distribution"] = draw(
            st.one_of(_WORDS.filter(lambda t: t not in DISTRIBUTIONS), st.integers(), st.lists(_WORDS, max_size=2), st.just({"name": "Beta"}))
        )
        return doc, (where, "distribution"), var
    if kind == "negative" and not real_line:
        if dirichlet:
            shares = list(entry["mode"])
            shares[draw(st.integers(0, len(shares) - 1))] = -draw(st.floats(0, 1e3))
            entry["mode"] = shares
            return doc, (where, "mode"), var
        entry["lower"] = -draw(st.floats(0, 1e6))
        return doc, (where, "lower"), var
    if kind in ("reversed", "negative") and not dirichlet:
        entry["upper"] = entry["lower"] - abs(entry["lower"]) * draw(st.floats(0.0, 0.99)) if not real_line else entry["lower"] - draw(st.floats(0, 1e3))
        return doc, (where, "upper"), var
    if kind in ("mass", "reversed"):
        entry["mass"] = draw(st.one_of(st.floats(max_value=0), st.floats(min_value=1), st.sampled_from([0, 1, -1, 2])))
        return doc, (where, "mass"), var
    if kind == "undocumented":
        field = draw(st.sampled_from(["rationale", "citation"]))
        if draw(st.booleans()):
            del entry[field]
        else:
            entry[field] = draw(st.sampled_from(["", " ", "\t"]))
        return doc, (where, field), var
    if kind == "unknown_key":
        key = draw(_WORDS.filter(lambda k: k not in _KNOWN_KEYS and k.strip() == k and k))
        entry[key] = draw(st.one_of(_WORDS, st.integers(), st.floats(allow_nan=False)))
        return doc, (where, key), var
    if kind == "wrong_type":
        field = draw(st.sampled_from(["mode", "mass", "bound"] if dirichlet else [k for k in _ELICITATION if k in entry]))
        entry[field] = draw(_NOT_A_NUMBER if field != "mode" else st.one_of(_WORDS, st.integers(), st.lists(_WORDS, min_size=2, max_size=3)))
        return doc, (where, field), var
    if kind == "not_a_table":
        parent = _entry(doc, path[:-1])
        parent[path[-1]] = draw(st.one_of(_WORDS, st.integers(), st.lists(st.integers(), max_size=2)))
        return doc, (where, "-"), var
    section = draw(st.sampled_from(["meta", "parameters", "families", "start_date", "valuation_basis", "missing", "unknown_table"]))
    if section in ("meta", "parameters", "families"):
        doc[section] = draw(st.one_of(_WORDS, st.integers(), st.lists(st.integers(), max_size=2)))
        return doc, (f"[{section}]", "-"), None
    if section == "start_date":
        doc["meta"]["start_date"] = draw(st.one_of(_WORDS, st.sampled_from(["2023-02-30", "2023/08/01", "August 2023"])))
        return doc, ("[meta]", "start_date"), None
    if section == "valuation_basis":
        doc["meta"]["valuation_basis"] = " "
        return doc, ("[meta]", "valuation_basis"), None
    if section == "missing":
        name = draw(st.sampled_from(list(doc["parameters"])))
        del doc["parameters"][name]
        return doc, (f"[parameters.{name}]", "-"), None
    table = draw(_WORDS.filter(lambda t: t not in ("meta", "parameters", "families")))
    doc[table] = {"x": 1}
    return doc, (f"[{table}]", "-"), None


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation=_prior_mutation())
def test_every_malformed_prior_file_ends_in_one_input_error_naming_file_entry_and_field(mutation, fitted_default, toml_text):
    doc, (where, field), var = mutation
    # The edited entry is elicited afresh; the others reuse the default's fit.
    fitted = {k: v for k, v in fitted_default.items() if k != var}
    with pytest.raises(InputError) as info:
        load_priors(text=toml_text(doc), name="mutated.toml", fitted=fitted)
    problems = info.value.problems
    assert all(p.file == "mutated.toml" and p.row and p.field for p in problems)
    assert any(p.row == where and p.field == field for p in problems), (where, field, str(info.value))
