"""Generated direct parameters for the default prior file: refused with named problems, or fit.

Every variant of an entry's ``params`` (negative, zero, huge, tiny, NaN,
infinite, boolean, text, missing, extra, another parametrisation) must either
raise one InputError whose problems name the file, the entry and the field,
or be accepted and give a model whose log density at its initial point is
finite. The model is built and compiled once per parametrisation scheme and
each accepted variant's parameters are written into its ``pm.Data``.
"""

import copy
import dataclasses
import math
import tomllib

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pymc.initial_point import make_initial_point_fn

from estimator.errors import InputError
from estimator.model import build_model, prior_data_name
from estimator.priors import load_priors, read_priors_text

_, DEFAULT_TEXT = read_priors_text()
_DOC = tomllib.loads(DEFAULT_TEXT)
NAME = "fuzz.toml"
EXAMPLES = 1000

# Parameter names other than the canonical ones, one scheme per compiled model: every entry of a
# distribution takes that scheme's names at once, so two extra models cover every parametrisation.
SCHEMES = {
    "canonical": {},
    "mean-sd": {
        "Gamma": ("mu", "sigma"),
        "InverseGamma": ("mu", "sigma"),
        "Beta": ("mu", "sigma"),
        "Normal": ("mu", "tau"),
    },
    "mean-concentration": {"Beta": ("mu", "nu")},
}


def in_scheme(dist: str, params: dict, scheme: str) -> dict:
    """The same distribution's parameters under another scheme's names (as PreliZ and PyMC convert them)."""
    names = SCHEMES[scheme].get(dist)
    if names is None or set(names) == set(params):
        return params
    a, b = params.get("alpha"), params.get("beta")
    if dist == "Gamma":
        return {"mu": a / b, "sigma": math.sqrt(a) / b}
    if dist == "InverseGamma":
        mu = b / (a - 1)
        return {"mu": mu, "sigma": mu / math.sqrt(a - 2)}
    if dist == "Beta" and names == ("mu", "sigma"):
        return {"mu": a / (a + b), "sigma": math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))}
    if dist == "Beta":
        return {"mu": a / (a + b), "nu": a + b}
    return {"mu": params["mu"], "tau": params["sigma"] ** -2}


class LogDensityAtStart:
    """``finite(priors)``: is the model's log density finite at the initial point of these priors?

    One model per scheme (built from the default priors in that scheme's
    names), its log density and initial-point function compiled once (about
    3 s each); a call writes every prior parameter into the model's
    ``pm.Data``, entries in canonical names converted to the scheme's.
    """

    def __init__(self, claims, priors):
        self._claims, self._default = claims, priors
        self._compiled = {}

    def _in_scheme(self, priors, scheme) -> dict | None:
        """Every spec's parameters in ``scheme``'s names, or ``None`` if some spec uses names of another scheme."""
        out = {}
        for var, spec in priors.parameters.items():
            canonical = self._default.parameters[var].params
            want = set(in_scheme(spec.distribution, canonical, scheme))
            if set(spec.params) == want:
                out[var] = spec.params
            elif set(spec.params) == set(canonical):
                out[var] = in_scheme(spec.distribution, spec.params, scheme)
            else:
                return None
        return out

    def _model(self, scheme):
        if scheme not in self._compiled:
            priors = copy.deepcopy(self._default)
            for var, params in self._in_scheme(self._default, scheme).items():
                priors.parameters[var] = dataclasses.replace(priors.parameters[var], params=params)
            model = build_model(self._claims, priors)
            shared = {v.name: v for v in model.data_vars}
            start = make_initial_point_fn(model=model, return_transformed=True, jitter_rvs=set())
            self._compiled[scheme] = (model.compile_logp(), start, shared)
        return self._compiled[scheme]

    def finite(self, priors) -> bool:
        scheme, values = next((s, v) for s in SCHEMES if (v := self._in_scheme(priors, s)) is not None)
        logp, start, shared = self._model(scheme)
        for var, params in values.items():
            for p, value in params.items():
                data = shared[prior_data_name(var, p)]
                data.set_value(np.asarray(value, dtype=data.type.dtype))
        return bool(np.isfinite(logp(start(0))))


# Values a parameter may be given: ordinary ones near the default (most are accepted) and every
# kind of bad one.
_NOT_A_TABLE = st.one_of(
    st.sampled_from(
        [0, 0.0, -0.0, -1, math.nan, math.inf, -math.inf, 1e-300, 1e300, 5e-324, 2**63 - 1, 10**400, 1e-5, 1e5]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
    st.text(max_size=6),
    st.lists(st.floats(-10, 10), max_size=3),
)
_BAD = st.one_of(_NOT_A_TABLE, st.just({"x": 1}))


def _near(value: float):
    """A value the default's ``value`` times a factor of 1e-4 to 1e4, of either sign (for locations)."""
    return st.tuples(st.floats(-4, 4), st.sampled_from([1, 1, 1, -1])).map(
        lambda t: value * 10 ** t[0] * t[1] if value else t[0] * 10
    )


def _value(default):
    if isinstance(default, list):
        n = len(default)
        return st.one_of(
            st.tuples(*[_near(v) for v in default]).map(list),
            st.lists(st.one_of(_near(default[0]), _BAD), min_size=0, max_size=n + 1),
            _BAD,
        )
    return st.one_of(_near(default), _near(default), _BAD)


@st.composite
def params_variant(draw, fitted: dict):
    """(variable, its distribution, the ``params`` value written into the file), near ``fitted`` or not at all."""
    var = draw(st.sampled_from(sorted(_DOC["parameters"])))
    dist = _DOC["parameters"][var]["distribution"]
    base = in_scheme(dist, fitted[var], draw(st.sampled_from(list(SCHEMES))))
    params = {k: draw(_value(v)) if draw(st.integers(0, 3)) else v for k, v in base.items()}
    edit = draw(st.sampled_from(["values"] * 6 + ["drop", "extra", "empty", "not_a_table"]))
    if edit == "drop":
        params.pop(draw(st.sampled_from(sorted(params))))
    elif edit == "extra":
        params[draw(st.sampled_from(["mu", "sigma", "tau", "nu", "alpha", "beta", "a", "b", "scale"]))] = draw(
            _value(1.0)
        )
    elif edit == "empty":
        params = {}
    elif edit == "not_a_table":
        params = draw(_NOT_A_TABLE)
    return var, dist, params


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_direct_parameters_are_refused_with_named_problems_or_give_a_finite_log_density(
    data, fitted_default, log_density, toml_text
):
    """1,000 generated ``params`` tables, one entry of the default file at a time."""
    var, dist, params = data.draw(params_variant(fitted_default))
    doc = copy.deepcopy(_DOC)
    entry = doc["parameters"][var]
    doc["parameters"][var] = {
        "distribution": dist,
        "params": params,
        **{k: entry[k] for k in ("unit", "rationale", "citation")},
    }
    try:
        priors = load_priors(text=toml_text(doc), name=NAME, fitted=fitted_default)
    except InputError as exc:
        problems = exc.problems
        assert problems and all(
            p.file == NAME and p.row == f"[parameters.{var}]" and p.field.startswith("params") for p in problems
        ), str(exc)
        event("refused")
        return
    event("accepted")
    assert log_density.finite(priors), (var, priors.parameters[var].params)
