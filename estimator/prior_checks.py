"""What a prior file's entries may say: the distributions, their parametrisations and the domain of every parameter.

:func:`param_problems` and the entry checks turn a malformed or implausible
entry into :class:`~estimator.errors.Problem` s naming file, entry and field,
before PreliZ is asked to fit anything (:mod:`estimator.priors` loads and
fits the file). The domains bound each parameter to the values a prior of an
export count, a price or a share can take without PyMC or PreliZ overflowing:
each :class:`_Range` says why in its label and comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from estimator import names as N
from estimator.errors import Problem, did_you_mean
from estimator.formatting import fmt_number

__all__ = [
    "DISTRIBUTIONS",
    "STATEMENT_FIELDS",
    "ELICITATION_FIELDS",
    "FORM_PARAMS",
    "FORM_DIRICHLET",
    "FORM_QUARTILES",
    "FORM_INTERVAL",
    "STATEMENT_FIELD",
    "statement_form",
    "given_params",
    "param_problems",
    "entry_problems",
    "support_text",
]

# Distribution -> its support, as PreliZ and PyMC both name it.
DISTRIBUTIONS = {
    "LogNormal": N.POSITIVE,
    "Gamma": N.POSITIVE,
    "InverseGamma": N.POSITIVE,
    "Weibull": N.POSITIVE,
    "HalfNormal": N.POSITIVE,
    "Beta": N.UNIT_INTERVAL,
    "Kumaraswamy": N.UNIT_INTERVAL,
    "Dirichlet": N.SIMPLEX,
    "Normal": N.REAL,
}


# Fields that state a prior the way an analyst elicits it, and with "params" every
# field that fixes its parameters: what a sweep point may override.
STATEMENT_FIELDS = ("lower", "upper", "mass", "median", "quartiles", "mode", "bound")
ELICITATION_FIELDS = (*STATEMENT_FIELDS, "params")
_DOC_KEYS = ("rationale", "citation")
_ENTRY_KEYS = {"distribution", *ELICITATION_FIELDS, "unit", *_DOC_KEYS}

# The open bounds of each support.
_SUPPORT_BOUNDS = {
    N.POSITIVE: (0.0, math.inf),
    N.UNIT_INTERVAL: (0.0, 1.0),
    N.SIMPLEX: (0.0, 1.0),
    N.REAL: (-math.inf, math.inf),
}


# The statements an entry can make, as the checks and the fit read them.
FORM_PARAMS, FORM_DIRICHLET, FORM_QUARTILES, FORM_INTERVAL = "params", "dirichlet", "quartiles", "interval"

# The field a problem with a statement's fitted parameters names.
STATEMENT_FIELD = {FORM_PARAMS: "params", FORM_DIRICHLET: "mode", FORM_QUARTILES: "quartiles", FORM_INTERVAL: "mass"}


def statement_form(entry: dict) -> str:
    """Which statement an entry makes (a Dirichlet without ``params`` is read as mode/mass/bound, whatever its fields)."""
    if "params" in entry:
        return FORM_PARAMS
    if entry["distribution"] == "Dirichlet":
        return FORM_DIRICHLET
    if "quartiles" in entry:
        return FORM_QUARTILES
    return FORM_INTERVAL


def _as_number(value) -> float | None:
    """``value`` as a float if it is a finite number (a boolean is not), else ``None``.

    An integer too large for a float (TOML integers have no bound here) is not finite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value) -> str:
    """``value`` as a message quotes it: at most 40 characters (a TOML integer may have hundreds of digits)."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _not_a_number(at, key: str, value) -> Problem:
    return at(key, f"'{_shown(value)}' is not a finite number")


@dataclass(frozen=True)
class _Range:
    """Where one distribution parameter may lie: ``low`` to ``high`` (ends excluded if ``open``), and what it is."""

    low: float
    high: float
    what: str
    open: bool = False

    def holds(self, value: float) -> bool:
        return self.low < value < self.high if self.open else self.low <= value <= self.high

    def __str__(self) -> str:
        ends = "()" if self.open else "[]"
        return f"{ends[0]}{self.low:g}, {self.high:g}{ends[1]}"


# The domain of every direct parameter, narrower than the mathematical one where a wider value
# would state no belief anyone holds about this model's quantities and would break the sampler
# (a prior with sigma 1e-300 did). Every positive quantity here (a count of containers, a mass,
# a price of up to millions of dollars) lies far inside 1e-30..1e30, and the model multiplies up
# to six of them: inside these bounds no product leaves double precision (1e-308..1e308).
_MAGNITUDE = _Range(1e-30, 1e30, "the scale of a positive quantity")
_RATE = _Range(1e-30, 1e30, "an inverse scale")

# Normal priors are on log scales (the real-line parameters are the family_log_* ones, which the
# model exponentiates): e^50 is about 5e21, so a location of +/-50 reaches past any quantity here.
_LOG_LOCATION = _Range(-50.0, 50.0, "a location on the log scale")

# A spread below 1e-4 (0.01%) states more precision than any source offers; the log density, whose
# terms are of order 1/spread^2, then loses the digits the sampler's step-size adaptation needs.
# Above 5 a log-normal's 90% interval spans more than seven orders of magnitude each way, and its
# mean, exp(mu + sigma^2/2), where PyMC starts sampling, stays inside the magnitudes above.
_LOG_SPREAD = _Range(1e-4, 5.0, "a spread on the log scale")
_LOG_PRECISION = _Range(1 / 25, 1e8, "a precision 1/sigma^2 on the log scale")
_PRECISION = _Range(1e-60, 1e60, "a precision 1/sigma^2")

# A shape below 0.1 piles the prior against the edge of its support: log x of a Gamma(shape) draw
# is about log(U) / shape, so draws underflow to zero. Above 1e8 the relative spread is below
# 1e-4, as for the log-scale spread.
_SHAPE = _Range(0.1, 1e8, "a shape")
_CONCENTRATION = _Range(0.2, 2e8, "a concentration alpha + beta")
_SHARE = _Range(0.0, 1.0, "a mean share", open=True)

# A share's sd below 1e-8 is a concentration alpha + beta beyond 1e15, far outside _SHAPE anyway;
# the bound keeps sigma^2 from underflowing to zero in the conversion.
_SHARE_SD = _Range(1e-8, 0.5, "the sd of a share", open=True)

# Each distribution's parametrisations that both PyMC and PreliZ take, the first the canonical
# one (PreliZ's fits return it): parameter -> its domain.
_PARAMETRISATIONS: dict[str, tuple[dict[str, _Range], ...]] = {
    "LogNormal": ({"mu": _LOG_LOCATION, "sigma": _LOG_SPREAD},),
    "Gamma": ({"alpha": _SHAPE, "beta": _RATE}, {"mu": _MAGNITUDE, "sigma": _MAGNITUDE}),
    "InverseGamma": ({"alpha": _SHAPE, "beta": _MAGNITUDE}, {"mu": _MAGNITUDE, "sigma": _MAGNITUDE}),
    "Weibull": ({"alpha": _SHAPE, "beta": _MAGNITUDE},),
    "HalfNormal": ({"sigma": _MAGNITUDE}, {"tau": _PRECISION}),
    "Beta": (
        {"alpha": _SHAPE, "beta": _SHAPE},
        {"mu": _SHARE, "sigma": _SHARE_SD},
        {"mu": _SHARE, "nu": _CONCENTRATION},
    ),
    "Kumaraswamy": ({"a": _SHAPE, "b": _SHAPE},),
    "Dirichlet": ({"alpha": _SHAPE},),  # one alpha per share, as a list
    "Normal": ({"mu": _LOG_LOCATION, "sigma": _LOG_SPREAD}, {"mu": _LOG_LOCATION, "tau": _LOG_PRECISION}),
}
assert set(_PARAMETRISATIONS) == set(DISTRIBUTIONS), "every distribution needs its parameter domains"


def _canonical(dist: str, p: dict) -> dict:
    """Parameters in the distribution's first parametrisation, converted as PyMC converts them."""
    if "tau" in p:
        return {**({"mu": p["mu"]} if "mu" in p else {}), "sigma": p["tau"] ** -0.5}
    if dist == "Gamma" and "mu" in p:
        return {"alpha": (p["mu"] / p["sigma"]) ** 2, "beta": p["mu"] / p["sigma"] ** 2}
    if dist == "InverseGamma" and "mu" in p:
        ratio = (p["mu"] / p["sigma"]) ** 2
        return {"alpha": 2 + ratio, "beta": p["mu"] * (1 + ratio)}
    if dist == "Beta" and "sigma" in p:
        kappa = p["mu"] * (1 - p["mu"]) / p["sigma"] ** 2 - 1
        return {"alpha": p["mu"] * kappa, "beta": (1 - p["mu"]) * kappa}
    if dist == "Beta" and "nu" in p:
        return {"alpha": p["mu"] * p["nu"], "beta": (1 - p["mu"]) * p["nu"]}
    return p


def _log_centre(dist: str, p: dict) -> float | None:
    """Log of the point PyMC starts a positive parameter at (its support point), from canonical parameters."""
    if dist == "LogNormal":
        return p["mu"] + p["sigma"] ** 2 / 2
    if dist == "Gamma":
        return math.log(p["alpha"]) - math.log(p["beta"])
    if dist == "InverseGamma":
        a = p["alpha"]
        return math.log(p["beta"]) - math.log(a - 1 if a > 1 else a + 1)
    if dist == "Weibull":
        return math.log(p["beta"]) + math.lgamma(1 + 1 / p["alpha"])
    if dist == "HalfNormal":
        return math.log(p["sigma"])
    return None


def _parametrisation(dist: str, keys) -> dict[str, _Range]:
    """The parametrisation of ``dist`` that ``keys`` come closest to (the canonical one on a tie)."""
    return max(_PARAMETRISATIONS[dist], key=lambda names: len(set(names) & set(keys)))


def _param_value_problem(dist: str, name: str, value, domain: _Range) -> str | None:
    """What is wrong with one parameter value (a list of them for a Dirichlet), or ``None``."""
    values = value if dist == "Dirichlet" else [value]
    if dist == "Dirichlet" and (not isinstance(value, list) or len(value) < 2):
        return f"'{_shown(value)}' must be a list of at least two numbers, one per share"
    if dist != "Dirichlet" and isinstance(value, list):
        return f"'{_shown(value)}' must be one number"
    for v in values:
        number = _as_number(v)
        if number is None:
            return f"'{_shown(v)}' is not a finite number"
        if not domain.holds(number):
            return f"{number:g} is outside {domain}, the domain of {domain.what} ({name} of {dist})"
    return None


def param_problems(dist: str, params, at, *, field: str | None = None) -> list[Problem]:
    """Everything wrong with a distribution's parameters, each problem made by ``at(field, message)``.

    Checks the parameters against :data:`_PARAMETRISATIONS`: a table naming
    one parametrisation exactly, numbers (booleans are not) in each
    parameter's domain; then the parameters it implies in the canonical
    parametrisation, and where PyMC starts sampling a positive parameter.
    Problems name ``params.<name>`` (or ``params``), unless ``field`` is
    given, as for parameters fitted to an elicited statement.
    """
    if not isinstance(params, dict):
        return [at(field or "params", "must be a table of parameter values")]
    choices = " or ".join(", ".join(names) for names in _PARAMETRISATIONS[dist])
    if not params:
        return [at(field or "params", f"is empty: {dist} takes {choices}")]
    domains = _parametrisation(dist, params)
    known = {k for names in _PARAMETRISATIONS[dist] for k in names}
    problems = [
        at(
            field or f"params.{k}",
            (f"does not go with {', '.join(domains)}" if k in known else "unknown parameter" + did_you_mean(k, known))
            + f": {dist} takes {choices}",
        )
        for k in params
        if k not in domains
    ]
    problems += [at(field or f"params.{k}", f"is missing: {dist} takes {choices}") for k in domains if k not in params]
    for k, value in params.items():
        found = _param_value_problem(dist, k, value, domains[k]) if k in domains else None
        if found:
            problems.append(at(field or f"params.{k}", found))
    if problems:
        return problems
    given = {k: [float(x) for x in v] if isinstance(v, list) else float(v) for k, v in params.items()}
    try:
        canonical = _canonical(dist, given)
    except ArithmeticError as exc:  # not expected inside the domains above; refused, never raised
        return [at(field or "params", f"cannot be converted to {', '.join(_PARAMETRISATIONS[dist][0])}: {exc}")]
    said = ", ".join(
        f"{k} = {fmt_number(v, 'plain', digits=4) if not isinstance(v, list) else v}" for k, v in given.items()
    )
    for k, domain in _PARAMETRISATIONS[dist][0].items():
        values = canonical[k] if isinstance(canonical[k], list) else [canonical[k]]
        if canonical is not given and not all(domain.holds(v) for v in values):
            return [
                at(
                    field or "params",
                    f"{said} make {dist} {k} = {canonical[k]:.4g}, outside {domain}, the domain of {domain.what}",
                )
            ]
    centre = _log_centre(dist, canonical)
    if centre is not None and not math.log(_MAGNITUDE.low) <= centre <= math.log(_MAGNITUDE.high):
        where = f"e^{centre:.4g}" if abs(centre) > 700 else f"{math.exp(centre):.4g}"
        return [
            at(
                field or "params",
                f"{said} put the centre of {dist}, where sampling starts, at {where}, outside {_MAGNITUDE}",
            )
        ]
    return []


def given_params(raw: dict) -> dict:
    """Parameters given directly in an entry, as floats (a Dirichlet's list kept a list)."""
    return {k: (list(map(float, v)) if isinstance(v, list) else float(v)) for k, v in raw.items()}


def _params_problems(entry: dict, at, *, ask_preliz: bool) -> list[Problem]:
    """Given parameters: in their domains (:func:`param_problems`), and taken by PreliZ (if asked)."""
    raw, dist = entry["params"], entry["distribution"]
    problems = param_problems(dist, raw, at)
    if problems or not ask_preliz:
        return problems
    import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    try:
        getattr(pz, dist)(**given_params(raw))
    except (TypeError, ValueError, ArithmeticError, NotImplementedError) as exc:
        return [at("params", f"not valid parameters for {dist}: {exc}")]
    return []


def _dirichlet_problems(entry: dict, at) -> list[Problem]:
    """A Dirichlet's mode: positive shares summing to 1, each with ``mass`` within ``bound`` of it."""
    mode = entry.get("mode")
    if not isinstance(mode, list) or len(mode) < 2:
        return [at("mode", "a Dirichlet needs a list of at least two shares")]
    problems = []
    if not all(_as_number(m) is not None for m in mode) or abs(sum(mode) - 1) > 1e-6 or any(m <= 0 for m in mode):
        problems.append(at("mode", f"shares {mode} must be positive numbers that sum to 1"))
    raw_mass, raw_bound = entry.get("mass"), entry.get("bound", 0.01)
    mass, bound = _as_number(raw_mass), _as_number(raw_bound)
    if mass is None:
        problems.append(_not_a_number(at, "mass", raw_mass))
    elif not 0 < mass < 1:
        problems.append(at("mass", f"{mass} is not a probability strictly between 0 and 1"))
    if bound is None:
        problems.append(_not_a_number(at, "bound", raw_bound))
    elif not 0 < bound < 1:
        problems.append(at("bound", f"{bound} is not a share strictly between 0 and 1"))
    return problems


def _quartile_problems(entry: dict, at) -> list[Problem]:
    """Three increasing numbers inside the distribution's support."""
    raw, dist = entry["quartiles"], entry["distribution"]
    if not isinstance(raw, list) or len(raw) != 3:
        return [at("quartiles", "give three numbers [q1, median, q3]")]
    unreadable = [_not_a_number(at, "quartiles", q) for q in raw if _as_number(q) is None]
    if unreadable:
        return unreadable
    qs = [float(q) for q in raw]
    support = DISTRIBUTIONS[dist]
    low, high = _SUPPORT_BOUNDS[support]
    problems = []
    if not qs[0] < qs[1] < qs[2]:
        problems.append(at("quartiles", f"{qs} must increase"))
    if not (low < qs[0] and qs[2] < high):
        problems.append(at("quartiles", f"{qs} lie outside the support {support_text(support)} of {dist}"))
    return problems


def _interval_problems(entry: dict, at) -> list[Problem]:
    """``lower < upper`` inside the support, ``mass`` a probability, an optional median between them."""
    dist = entry["distribution"]
    keys = ("lower", "upper", "mass")
    problems = [_not_a_number(at, k, entry[k]) for k in keys if k in entry and _as_number(entry[k]) is None]
    problems += [at(k, "is missing") for k in keys if k not in entry]
    if problems:
        return problems
    lower, upper, mass = (float(entry[k]) for k in keys)
    support = DISTRIBUTIONS[dist]
    low, high = _SUPPORT_BOUNDS[support]
    if not lower < upper:
        problems.append(at("upper", f"interval is reversed: lower {lower:g} is not below upper {upper:g}"))
    if not (low < lower and upper < high):
        problems.append(
            at(
                "lower" if lower <= low else "upper",
                f"interval [{lower:g}, {upper:g}] lies outside the support {support_text(support)} of {dist}",
            )
        )
    if not 0 < mass < 1:
        problems.append(at("mass", f"{mass:g} is not a probability strictly between 0 and 1"))
    if "median" in entry:
        median = _as_number(entry["median"])
        if median is None:
            problems.append(_not_a_number(at, "median", entry["median"]))
        elif not lower < median < upper:
            problems.append(at("median", f"median {median:g} is not inside [{lower:g}, {upper:g}]"))
    return problems


_ELICITED_CHECKS = {
    FORM_DIRICHLET: _dirichlet_problems,
    FORM_QUARTILES: _quartile_problems,
    FORM_INTERVAL: _interval_problems,
}


def entry_problems(entry, file: str, where: str, *, ask_preliz: bool = True) -> list[Problem]:
    """Everything wrong with one prior entry before it is fitted, each problem naming ``file``, ``where`` and the field.

    The elicited forms are checked without PreliZ. Given ``params`` are put
    to PreliZ (does the distribution take them?) unless ``ask_preliz`` is
    false, as when parameters stored with a saved run vouch for them.
    """
    at = partial(Problem, file, where)
    if not isinstance(entry, dict):
        return [at("-", "must be a table")]
    problems = [at(key, "unknown key" + did_you_mean(key, _ENTRY_KEYS)) for key in entry if key not in _ENTRY_KEYS]
    dist = entry.get("distribution")
    if dist is None:
        return [*problems, at("distribution", "is missing")]
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        return [
            *problems,
            at(
                "distribution",
                f"unknown distribution '{dist}'{did_you_mean(dist, DISTRIBUTIONS)}; one of {', '.join(DISTRIBUTIONS)}",
            ),
        ]
    problems += [
        at(key, "is missing: every prior states why and where its numbers come from")
        for key in _DOC_KEYS
        if not str(entry.get(key, "")).strip()
    ]
    forms = [
        f
        for f in (("lower" in entry or "upper" in entry), "quartiles" in entry, "mode" in entry, "params" in entry)
        if f
    ]
    if len(forms) != 1:
        return [*problems, at("-", "give exactly one of: lower/upper/mass, quartiles, mode/mass/bound, params")]
    form = statement_form(entry)
    found = (
        _params_problems(entry, at, ask_preliz=ask_preliz) if form == FORM_PARAMS else _ELICITED_CHECKS[form](entry, at)
    )
    return [*problems, *found]


def support_text(support):
    """A support as the error messages write it: an interval, the simplex or the real line."""
    return {N.POSITIVE: "(0, inf)", N.UNIT_INTERVAL: "(0, 1)", N.SIMPLEX: "the simplex", N.REAL: "the real line"}[
        support
    ]
