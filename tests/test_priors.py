"""Prior files: elicited statements become distributions through PreliZ; bad entries are named."""

import copy
import math

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
    text = (
        DEFAULT_TEXT
        + '\n[families.extra]\nlabel = "Extra"\n[families.extra.bias]\ndistribution = "LogNormal"\nlower = 0.6\nupper = 1.6\nmass = 0.9\n'
    )
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


# ---------------------------------------------------------------- direct parameters, unreadable files, dates

_PRICE = "lower = 500\nupper = 2500\nmass = 0.9\n"


def _with_statement(var: str, statement: str, distribution: str | None = None) -> str:
    """The default file with one entry's statement (and optionally its distribution) replaced."""
    head = f"[parameters.{var}]\n"
    start = DEFAULT_TEXT.index(head) + len(head)
    end = DEFAULT_TEXT.index("unit = ", start)
    dist_line = f'distribution = "{distribution}"' if distribution else DEFAULT_TEXT[start:end].splitlines()[0]
    return DEFAULT_TEXT[:start] + dist_line + "\n" + statement + "\n" + DEFAULT_TEXT[end:]


def _problems(text, fitted=None, name="p.toml"):
    with pytest.raises(InputError) as info:
        load_priors(text=text, name=name, fitted=fitted)
    return [(p.file, p.row, p.field) for p in info.value.problems], str(info.value)


@pytest.mark.parametrize(
    ("var", "distribution", "statement", "field"),
    [
        (N.PRICE_152MM_USD, None, "params = {mu = 7, sigma = -0.5}", "params.sigma"),
        (N.PRICE_152MM_USD, None, "params = {mu = 7, sigma = 0}", "params.sigma"),
        (N.PRICE_152MM_USD, None, "params = {mu = inf, sigma = 0.5}", "params.mu"),
        (N.PRICE_152MM_USD, None, "params = {mu = nan, sigma = 0.5}", "params.mu"),
        (N.PRICE_152MM_USD, None, "params = {mu = 7}", "params.sigma"),
        (N.PRICE_152MM_USD, None, "params = {mu = 7, sigma = true}", "params.sigma"),
        (N.PRICE_152MM_USD, None, "params = {}", "params"),
        (N.PRICE_152MM_USD, None, "params = {mu = 7, sigma = 1, tau = 1}", "params.tau"),
        (N.PRICE_152MM_USD, None, "params = {mu = 1000, sigma = 1}", "params.mu"),
        (N.FILL_152MM, None, "params = {mu = 1.5, sigma = 0.1}", "params.mu"),
        (N.FILL_152MM, None, "params = {alpha = 0, beta = 2}", "params.alpha"),
        (N.FILL_152MM, None, "params = {alpha = 2, beta = 2, mu = 0.5}", "params.mu"),
        (N.FILL_152MM, None, "params = {mu = 0.5, sigma = 0.49}", "params"),
        (N.FAMILY_LOG_NOISE_SPREAD, "HalfNormal", "params = {sigma = -1}", "params.sigma"),
        (N.FAMILY_LOG_NOISE_SPREAD, "HalfNormal", "params = {sigma = 0}", "params.sigma"),
        (N.FAMILY_LOG_NOISE_SPREAD, None, "params = {alpha = 2, beta = -1}", "params.beta"),
        (N.FAMILY_LOG_NOISE_SPREAD, "InverseGamma", "params = {alpha = 0, beta = 1}", "params.alpha"),
        (N.FAMILY_LOG_NOISE_SPREAD, "Weibull", "params = {alpha = 2, beta = 0}", "params.beta"),
        (N.FAMILY_LOG_NOISE_SPREAD, "Weibull", "params = {alpha = 0.1, beta = 1e25}", "params"),
        (N.FAMILY_LOG_NOISE_SPREAD, None, "params = {mu = 0.3, sigma = 1e-300}", "params.sigma"),
        (N.FAMILY_LOG_NOISE_SPREAD, None, "params = {mu = 0.3, sigma = 1e-20}", "params"),
        (N.FAMILY_LOG_NOISE_SPREAD, None, "params = {alpha = 2, beta = 1%s}" % ("0" * 400), "params.beta"),
        (N.FAMILY_LOG_BIAS_MEAN, None, "params = {mu = 0, sigma = -1}", "params.sigma"),
        (N.FAMILY_LOG_BIAS_MEAN, None, "params = {mu = 0, sigma = 0.1, tau = 100}", "params.tau"),
        (N.CARGO_MIX, None, "params = {alpha = [2, 2]}", "params.alpha"),
        (N.CARGO_MIX, None, "params = {alpha = [2, 0, 2]}", "params.alpha"),
        (N.CARGO_MIX, None, "params = {alpha = 2}", "params.alpha"),
        (N.CARGO_MIX, None, "mode = [0.5, 0.5]\nmass = 0.9\nbound = 0.2", "mode"),
    ],
)
def test_direct_parameters_outside_their_domain_are_named(var, distribution, statement, field, fitted_default):
    """Each would otherwise reach the sampler and fail there (a negative sigma even crashed it)."""
    fitted = {k: v for k, v in fitted_default.items() if k != var}
    found, message = _problems(_with_statement(var, statement, distribution), fitted)
    assert found == [("p.toml", f"[parameters.{var}]", field)], message


@pytest.mark.parametrize(
    ("var", "distribution", "statement"),
    [
        (N.FILL_152MM, None, "params = {mu = 0.7, sigma = 0.1}"),
        (N.FILL_152MM, None, "params = {mu = 0.7, nu = 10}"),
        (N.FILL_152MM, "Kumaraswamy", "params = {a = 3, b = 2}"),
        (N.FAMILY_LOG_NOISE_SPREAD, None, "params = {mu = 0.3, sigma = 0.15}"),
        (N.FAMILY_LOG_NOISE_SPREAD, "HalfNormal", "params = {tau = 10}"),
        (N.FAMILY_LOG_NOISE_SPREAD, "Weibull", "params = {alpha = 2, beta = 0.3}"),
        (N.CONVERSION_NOISE, None, "params = {mu = 0.2, sigma = 0.08}"),
        (N.FAMILY_LOG_BIAS_MEAN, None, "params = {mu = 0, tau = 40}"),
        (N.PRICE_152MM_USD, None, "params = {mu = 7, sigma = 0.0001}"),
        (N.CARGO_MIX, None, "params = {alpha = [5, 2, 3]}"),
    ],
)
def test_parameters_in_their_domains_are_accepted_and_give_a_finite_density(
    claims, var, distribution, statement, fitted_default
):
    priors = load_priors(text=_with_statement(var, statement, distribution), name="p.toml", fitted=fitted_default)
    assert "params" in priors.parameters[var].elicited
    model = estimator.build_model(claims, priors)
    assert math.isfinite(model.compile_logp()(model.initial_point()))


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (_PRICE, "lower = 1e-300\nupper = 1e300\nmass = 0.9\n", "mass"),
        (_PRICE, "lower = 1e-320\nupper = 2e-320\nmass = 0.9\n", "mass"),
        (_PRICE, "quartiles = [1e300, 1e301, 1e302]\n", "quartiles"),
        (_PRICE, "lower = 1%s\nupper = 2500\nmass = 0.9\n" % ("0" * 400), "lower"),
    ],
)
def test_statements_preliz_cannot_fit_are_named_not_raised(old, new, field, fitted_default):
    fitted = {k: v for k, v in fitted_default.items() if k != N.PRICE_152MM_USD}
    found, message = _problems(_replace(old, new), fitted)
    assert found == [("p.toml", "[parameters.price_152mm_usd]", field)], message


@pytest.mark.parametrize(
    "value",
    [
        '"20230801"',
        '"2023-W31-2"',
        "2023-08-01T00:00:00",
        '"9999-12-31"',
        '"0001-01-01"',
        '"2023-02-30"',
        "20230801",
        "true",
    ],
)
def test_start_date_must_be_a_plain_date_in_range(value, fitted_default):
    found, message = _problems(_replace('start_date = "2023-08-01"', f"start_date = {value}"), fitted_default)
    assert found == [("p.toml", "[meta]", "start_date")], message


def test_a_toml_date_is_a_start_date(fitted_default):
    text = _replace('start_date = "2023-08-01"', "start_date = 2023-08-01")
    assert load_priors(text=text, name="p.toml", fitted=fitted_default).start_date == "2023-08-01"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"\xff\xfe[meta]\n", "not UTF-8"), (DEFAULT_TEXT.encode("utf-16"), "not UTF-8"), (None, "folder")],
)
def test_a_prior_file_that_cannot_be_read_as_text_is_named(tmp_path, content, expected):
    path = tmp_path / "p.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as info:
        load_priors(path)
    assert [(p.file, p.row) for p in info.value.problems] == [(str(path), "file")]


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path, priors):
    path = tmp_path / "bom.toml"
    path.write_bytes(DEFAULT_TEXT.encode("utf-8-sig"))
    assert load_priors(path).fitted_params() == priors.fitted_params()
    assert load_priors(text="\ufeff" + DEFAULT_TEXT, name="bom.toml").fitted_params() == priors.fitted_params()


# ---------------------------------------------------------------- generated malformed prior files

import tomllib  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from estimator.prior_checks import DISTRIBUTIONS  # noqa: E402

_DOC = tomllib.loads(DEFAULT_TEXT)
# (locator, path of the entry in the document, model variable) of every prior entry.
# Families carry only a label and a note (their biases and noises are pooled), so every
# elicited entry is a parameter.
_ENTRIES = [(f"[parameters.{p}]", ("parameters", p), p) for p in _DOC["parameters"]]
_ELICITATION = ("lower", "upper", "mass", "median", "mode", "bound")
_KNOWN_KEYS = {"distribution", "quartiles", "params", "unit", "rationale", "citation", *_ELICITATION}
_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
_NOT_A_NUMBER = st.one_of(
    _WORDS,
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.just({"x": 1}),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


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
    kind = draw(
        st.sampled_from(
            [
                "distribution",
                "negative",
                "reversed",
                "mass",
                "undocumented",
                "unknown_key",
                "wrong_type",
                "not_a_table",
                "file",
            ]
        )
    )
    if kind == "distribution":
        entry["distribution"] = draw(
            st.one_of(
                _WORDS.filter(lambda t: t not in DISTRIBUTIONS),
                st.integers(),
                st.lists(_WORDS, max_size=2),
                st.just({"name": "Beta"}),
            )
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
        entry["upper"] = (
            entry["lower"] - abs(entry["lower"]) * draw(st.floats(0.0, 0.99))
            if not real_line
            else entry["lower"] - draw(st.floats(0, 1e3))
        )
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
        field = draw(
            st.sampled_from(["mode", "mass", "bound"] if dirichlet else [k for k in _ELICITATION if k in entry])
        )
        entry[field] = draw(
            _NOT_A_NUMBER
            if field != "mode"
            else st.one_of(_WORDS, st.integers(), st.lists(_WORDS, min_size=2, max_size=3))
        )
        return doc, (where, field), var
    if kind == "not_a_table":
        parent = _entry(doc, path[:-1])
        parent[path[-1]] = draw(st.one_of(_WORDS, st.integers(), st.lists(st.integers(), max_size=2)))
        return doc, (where, "-"), var
    section = draw(
        st.sampled_from(["meta", "parameters", "families", "start_date", "valuation_basis", "missing", "unknown_table"])
    )
    if section in ("meta", "parameters", "families"):
        doc[section] = draw(st.one_of(_WORDS, st.integers(), st.lists(st.integers(), max_size=2)))
        return doc, (f"[{section}]", "-"), None
    if section == "start_date":
        doc["meta"]["start_date"] = draw(
            st.one_of(_WORDS, st.sampled_from(["2023-02-30", "2023/08/01", "August 2023"]))
        )
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
def test_every_malformed_prior_file_ends_in_one_input_error_naming_file_entry_and_field(
    mutation, fitted_default, toml_text
):
    doc, (where, field), var = mutation
    # The edited entry is elicited afresh; the others reuse the default's fit.
    fitted = {k: v for k, v in fitted_default.items() if k != var}
    with pytest.raises(InputError) as info:
        load_priors(text=toml_text(doc), name="mutated.toml", fitted=fitted)
    problems = info.value.problems
    assert all(p.file == "mutated.toml" and p.row and p.field for p in problems)
    assert any(p.row == where and p.field == field for p in problems), (where, field, str(info.value))
