"""Prior files: elicited statements -> validated distribution specs, through PreliZ.

A prior file is TOML (see ``priors/default.toml``). Each entry states a prior the
way an analyst elicits it, e.g. "90% between 250 and 500", and PreliZ finds the
distribution parameters:

* ``lower, upper, mass``: :func:`preliz.maxent`, the maximum-entropy member of
  the family with ``mass`` probability in ``[lower, upper]``;
* ``lower, upper, mass, median``: the same with the median fixed;
* ``quartiles = [q1, q2, q3]``: :func:`preliz.quartile`;
* ``mode, mass, bound`` (Dirichlet): :func:`preliz.dirichlet_mode`;
* ``params = {...}``: parameters given directly.

Every parameter in :data:`estimator.names.PARAMETERS`, and a bias and a noise
for each declared source family, must have exactly one entry; an entry the
model does not use is an error.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import warnings
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from estimator import names as N
from estimator.errors import InputError, Problem, did_you_mean, parse_toml_tables
from estimator.formatting import fmt_number

__all__ = ["PriorSpec", "PriorSet", "load_priors", "read_priors_text", "DEFAULT_PRIORS", "DISTRIBUTIONS", "ELICITATION_FIELDS"]

DEFAULT_PRIORS = "priors-default.toml"

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


@dataclass(frozen=True)
class PriorSpec:
    """One parameter's prior: distribution, fitted parameters and provenance.

    ``params`` are the distribution's parameters as PyMC names them (PreliZ
    uses the same names); ``elicited`` is the entry as written in the file.
    """

    name: str
    distribution: str
    params: dict
    elicited: dict
    unit: str = ""
    rationale: str = ""
    citation: str = ""

    def preliz(self):
        """The prior as a PreliZ distribution (for plotting and moments)."""
        import preliz as pz

        return getattr(pz, self.distribution)(**{k: _unwrap(v) for k, v in self.params.items()})

    def describe(self) -> str:
        """Short text: the elicited statement and the fitted distribution."""
        e = self.elicited
        if "quartiles" in e:
            said = f"quartiles {e['quartiles']}"
        elif "mode" in e:
            said = f"mode {e['mode']}, {e.get('mass')} within +/-{e.get('bound')}"
        elif "lower" in e:
            said = f"{100 * e['mass']:g}% between {e['lower']:,g} and {e['upper']:,g}"
            if "median" in e:
                said += f", median {e['median']:,g}"
        else:
            said = "parameters given"
        # Three significant digits per Dirichlet weight, four for a scalar parameter.
        fitted = ", ".join(f"{k}={fmt_number(v, 'plain', digits=3 if np.ndim(v) else 4)}" for k, v in self.params.items())
        return f"{said} -> {self.distribution}({fitted})"


def _unwrap(v):
    return np.asarray(v, dtype=float) if isinstance(v, (list, tuple, np.ndarray)) else float(v)


@dataclass
class PriorSet:
    """All priors of one model: parameters, families and metadata."""

    parameters: dict[str, PriorSpec]
    families: dict[str, str]  # declared family -> label (a ledger may name others)
    start_date: str
    valuation_basis: str
    source: str = "<priors>"
    text: str = ""
    overrides: dict = field(default_factory=dict)
    family_notes: dict = field(default_factory=dict)  # declared family -> what its scope is, in words

    def all_specs(self) -> dict[str, PriorSpec]:
        """Every spec, keyed by its model variable name (family biases and noises are pooled: none per family)."""
        return dict(self.parameters)

    def family_label(self, family: str) -> str:
        """The family's label: as declared, else its key in words (``think_tank`` -> "think tank")."""
        return self.families.get(family, family.replace("_", " "))

    def model_families(self, used) -> list[str]:
        """The families a model of a ledger has: declared ones it names, in file order, then the undeclared in ledger order."""
        used = list(dict.fromkeys(used))
        return [f for f in self.families if f in used] + [f for f in used if f not in self.families]

    def fitted_params(self) -> dict[str, dict]:
        """Every spec's distribution parameters, keyed by variable (JSON-ready)."""
        return {
            name: {k: (list(map(float, v)) if isinstance(v, (list, tuple, np.ndarray)) else float(v)) for k, v in spec.params.items()}
            for name, spec in self.all_specs().items()
        }

    def with_params(self, updates: dict[str, dict]) -> PriorSet:
        """Return a copy with some specs' parameters replaced (for sweeps).

        ``updates`` maps a variable name (as in :meth:`all_specs`) to a dict of
        parameter values. The caller's PriorSet is not modified.
        """
        new = copy.deepcopy(self)
        specs = new.all_specs()
        for name, params in updates.items():
            if name not in specs:
                raise KeyError(f"no prior named '{name}'{did_you_mean(name, specs)}")
            old = specs[name]
            spec = PriorSpec(old.name, old.distribution, {**old.params, **params}, {"params": params}, old.unit, old.rationale, old.citation)
            new.parameters[name] = spec
        new.overrides = {**self.overrides, **updates}
        return new

    def restricted_to(self, families) -> PriorSet:
        """A copy without the families not in ``families`` (e.g. those with no claim at a vintage)."""
        new = copy.deepcopy(self)
        for fam in list(new.families):
            if fam not in families:
                del new.families[fam]
                new.family_notes.pop(fam, None)
        return new

    def table(self):
        """Tidy table of the priors: name, distribution, elicited, fitted, rationale, citation."""
        import pandas as pd

        rows = [
            {
                "parameter": name,
                "prior": spec.describe(),
                "unit": spec.unit,
                "rationale": spec.rationale,
                "citation": spec.citation,
            }
            for name, spec in self.all_specs().items()
        ]
        return pd.DataFrame(rows).set_index("parameter")


def read_priors_text(path: str | Path | None = None) -> tuple[str, str]:
    """Return (display name, text) of a prior file; ``None`` means the embedded default."""
    if path is None:
        res = resources.files("estimator.data").joinpath(DEFAULT_PRIORS)
        return f"<embedded>/{DEFAULT_PRIORS}", res.read_text(encoding="utf-8")
    p = Path(path)
    try:
        return str(p), p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(str(p), "file", "-", "file not found")]) from None


# The open bounds of each support.
_SUPPORT_BOUNDS = {N.POSITIVE: (0.0, math.inf), N.UNIT_INTERVAL: (0.0, 1.0), N.SIMPLEX: (0.0, 1.0), N.REAL: (-math.inf, math.inf)}
# The statements an entry can make, as the checks and the fit read them.
_PARAMS, _DIRICHLET, _QUARTILES, _INTERVAL = "params", "dirichlet", "quartiles", "interval"


def _form(entry: dict) -> str:
    """Which statement an entry makes (a Dirichlet without ``params`` is read as mode/mass/bound, whatever its fields)."""
    if "params" in entry:
        return _PARAMS
    if entry["distribution"] == "Dirichlet":
        return _DIRICHLET
    if "quartiles" in entry:
        return _QUARTILES
    return _INTERVAL


def _as_number(value) -> float | None:
    """``value`` as a float if it is a finite number (a boolean is not), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _not_a_number(at, key: str, value) -> Problem:
    return at(key, f"'{value}' is not a finite number")


def _given_params(raw: dict) -> dict:
    return {k: (list(map(float, v)) if isinstance(v, list) else float(v)) for k, v in raw.items()}


def _params_problems(entry: dict, at, *, ask_preliz: bool) -> list[Problem]:
    """Given parameters: a table of numbers that PreliZ accepts for the distribution (if asked)."""
    raw, dist = entry["params"], entry["distribution"]
    if not isinstance(raw, dict):
        return [at("params", "must be a table of parameter values")]
    try:
        params = _given_params(raw)
        if ask_preliz:
            import preliz as pz

            getattr(pz, dist)(**params)
    except (TypeError, ValueError) as exc:
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
        problems.append(at("quartiles", f"{qs} lie outside the support {_support_text(support)} of {dist}"))
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
            at("lower" if lower <= low else "upper", f"interval [{lower:g}, {upper:g}] lies outside the support {_support_text(support)} of {dist}")
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


_ELICITED_CHECKS = {_DIRICHLET: _dirichlet_problems, _QUARTILES: _quartile_problems, _INTERVAL: _interval_problems}


def _entry_problems(entry, file: str, where: str, *, ask_preliz: bool = True) -> list[Problem]:
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
        return [*problems, at("distribution", f"unknown distribution '{dist}'{did_you_mean(dist, DISTRIBUTIONS)}; one of {', '.join(DISTRIBUTIONS)}")]
    problems += [at(key, "is missing: every prior states why and where its numbers come from") for key in _DOC_KEYS if not str(entry.get(key, "")).strip()]
    forms = [f for f in (("lower" in entry or "upper" in entry), "quartiles" in entry, "mode" in entry, "params" in entry) if f]
    if len(forms) != 1:
        return [*problems, at("-", "give exactly one of: lower/upper/mass, quartiles, mode/mass/bound, params")]
    form = _form(entry)
    found = _params_problems(entry, at, ask_preliz=ask_preliz) if form == _PARAMS else _ELICITED_CHECKS[form](entry, at)
    return [*problems, *found]


def _fit_dirichlet(entry: dict) -> dict:
    import preliz as pz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, d = pz.dirichlet_mode(entry["mode"], mass=float(entry["mass"]), bound=float(entry.get("bound", 0.01)), plot=False)
    return {"alpha": [float(a) for a in np.asarray(d.alpha)]}


def _fit_quartiles(entry: dict) -> dict:
    import preliz as pz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = pz.quartile(getattr(pz, entry["distribution"])(), *(float(q) for q in entry["quartiles"]), plot=False)
    return {k: float(v) for k, v in d.params_dict.items()}


def _fit_interval(entry: dict) -> dict:
    import preliz as pz

    kwargs = {"fixed_stat": ("median", float(entry["median"]))} if "median" in entry else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = pz.maxent(getattr(pz, entry["distribution"])(), float(entry["lower"]), float(entry["upper"]), float(entry["mass"]), plot=False, **kwargs)
    return {k: float(v) for k, v in d.params_dict.items()}


_FITS = {_PARAMS: lambda entry: _given_params(entry["params"]), _DIRICHLET: _fit_dirichlet, _QUARTILES: _fit_quartiles, _INTERVAL: _fit_interval}


def _elicit(entry: dict) -> dict:
    """The distribution parameters an entry states, fitted by PreliZ (given ``params`` as they are).

    ``entry`` must have passed :func:`_entry_problems`. The result depends only
    on the entry's statement (distribution and elicitation fields) and the
    installed PreliZ.
    """
    return _FITS[_form(entry)](entry)


def _fit_problems(entry: dict, params: dict, file: str, where: str) -> list[Problem]:
    """What the fit shows is wrong: a family that cannot put the stated mass in the stated interval."""
    if _form(entry) != _INTERVAL:
        return []
    import preliz as pz

    dist = entry["distribution"]
    lower, upper, mass = (float(entry[k]) for k in ("lower", "upper", "mass"))
    d = getattr(pz, dist)(**params)
    got = float(d.cdf(upper) - d.cdf(lower))
    if abs(got - mass) > 0.02:
        return [Problem(file, where, "mass", f"{dist} cannot put {mass:g} of its mass in [{lower:g}, {upper:g}] (best fit puts {got:.3f})")]
    return []


def _spec(name: str, entry: dict, params: dict) -> PriorSpec:
    return PriorSpec(
        name=name,
        distribution=entry["distribution"],
        params=params,
        elicited={k: entry[k] for k in ELICITATION_FIELDS if k in entry},
        unit=str(entry.get("unit", "")),
        rationale=str(entry.get("rationale", "")),
        citation=str(entry.get("citation", "")),
    )


def _prior_spec(name: str, entry, file: str, where: str, fitted: dict | None = None) -> tuple[PriorSpec | None, list[Problem]]:
    """One entry validated, then elicited: ``(spec, [])``, or ``(None, its problems)``.

    ``fitted`` (parameters stored with a saved run) replaces the PreliZ fit,
    so a run reloads with the priors it was fitted with, whatever PreliZ
    version is installed (and PreliZ is not imported). An entry is fitted
    only when nothing else is wrong with it.
    """
    problems = _entry_problems(entry, file, where, ask_preliz=fitted is None)
    if problems:
        return None, problems
    if fitted is not None and _form(entry) != _PARAMS:
        return _spec(name, entry, fitted), []
    params = _elicit(entry)
    problems = _fit_problems(entry, params, file, where)
    return (None, problems) if problems else (_spec(name, entry, params), [])


def _support_text(support):
    return {N.POSITIVE: "(0, inf)", N.UNIT_INTERVAL: "(0, 1)", N.SIMPLEX: "the simplex", N.REAL: "the real line"}[support]


def _table(doc: dict, key: str, file: str) -> tuple[dict | None, list[Problem]]:
    """The document's table ``key`` (empty if absent), or ``None`` and a problem if it is not a table."""
    value = doc.get(key, {})
    if isinstance(value, dict):
        return value, []
    return None, [Problem(file, f"[{key}]", "-", "must be a table")]


def _meta_problems(meta: dict, file: str) -> list[Problem]:
    problems = []
    start_date = str(meta.get("start_date", ""))
    try:
        dt.date.fromisoformat(start_date)
    except ValueError:
        problems.append(Problem(file, "[meta]", "start_date", f"'{start_date}' is not a date (use YYYY-MM-DD)"))
    if not str(meta.get("valuation_basis", "")).strip():
        problems.append(Problem(file, "[meta]", "valuation_basis", "is missing: say what the unit prices measure"))
    return problems


def _support_problems(pname: str, spec: PriorSpec, file: str, where: str) -> list[Problem]:
    """A distribution whose support is not the one the parameter needs."""
    has, needs = DISTRIBUTIONS[spec.distribution], N.PARAMETERS[pname]
    if has == needs:
        return []
    return [Problem(file, where, "distribution", f"{spec.distribution} has support {_support_text(has)}, but {pname} needs {_support_text(needs)}")]


def _parameter_specs(params_doc: dict, file: str, fitted: dict) -> tuple[dict[str, PriorSpec], list[Problem]]:
    """Every model parameter's spec from the ``[parameters]`` table; problems with missing, unused and bad entries."""
    problems = [Problem(file, f"[parameters.{p}]", "-", "the model needs a prior for this parameter") for p in N.PARAMETERS if p not in params_doc]
    parameters: dict[str, PriorSpec] = {}
    for pname, entry in params_doc.items():
        where = f"[parameters.{pname}]"
        if pname not in N.PARAMETERS:
            problems.append(Problem(file, where, "-", "the model has no such parameter" + did_you_mean(pname, N.PARAMETERS)))
            continue
        spec, found = _prior_spec(pname, entry, file, where, fitted.get(pname))
        found = found or _support_problems(pname, spec, file, where)
        if found:
            problems += found
        else:
            parameters[pname] = spec
    return parameters, problems


def _family_problems(fam: str, entry: dict, file: str) -> list[Problem]:
    where = f"[families.{fam}]"
    problems = []
    for key in entry:
        if key in ("bias", "noise"):
            message = "families are pooled: their biases and noises come from the [parameters.family_log_*] population priors, not per-family entries"
            problems.append(Problem(file, where, key, message))
        elif key not in ("label", "note"):
            problems.append(Problem(file, where, key, "unknown key" + did_you_mean(key, ("label", "note"))))
    return problems


def _families(families_doc: dict, file: str) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """Each declared family's label and note (keys in file order), and problems with the tables."""
    labels: dict[str, str] = {}
    notes: dict[str, str] = {}
    problems = []
    for fam, entry in families_doc.items():
        if not isinstance(entry, dict):
            problems.append(Problem(file, f"[families.{fam}]", "-", "must be a table"))
            continue
        labels[fam] = str(entry.get("label", fam))
        notes[fam] = str(entry.get("note", ""))
        problems += _family_problems(fam, entry, file)
    return labels, notes, problems


def load_priors(
    path: str | Path | None = None, *, text: str | None = None, name: str | None = None, fitted: dict | None = None, cache: bool = True
) -> PriorSet:
    """Load, validate and fit a prior file.

    Parameters
    ----------
    path : path-like, optional
        TOML prior file; ``None`` loads the embedded default.
    text, name : str, optional
        Parse this text instead (``name`` labels errors).
    fitted : dict, optional
        Distribution parameters per variable (as :meth:`PriorSet.fitted_params`
        returns them, stored with a saved run): used instead of fitting each
        entry with PreliZ again. Entries it lacks are fitted as usual.
    cache : bool
        Reuse the parameters fitted to the same text before (with the same
        PreliZ, SciPy and estimator versions) from the cache directory
        (:mod:`estimator.cache`), and store them after a fit. The file is
        validated either way; ``False`` fits every entry afresh.

    Returns
    -------
    PriorSet

    Raises
    ------
    InputError
        Listing every problem (file, entry, field) found.
    """
    if text is None:
        name, text = read_priors_text(path)
    name = name or "<priors>"
    cache_key = None
    if fitted is None and cache:
        fitted, cache_key = _cached_fit(text)
    doc, problems = parse_toml_tables(text, name, ("meta", "parameters", "families"))
    meta, found = _table(doc, "meta", name)
    meta = meta or {}
    problems += found + _meta_problems(meta, name)

    params_doc, found = _table(doc, "parameters", name)
    problems += found
    parameters, found = _parameter_specs(params_doc, name, fitted or {}) if params_doc is not None else ({}, [])
    problems += found

    # Families need only a label (and a note on their scope): their biases and noises are
    # drawn from the population whose hyperpriors are [parameters.family_*] entries.
    families_doc, found = _table(doc, "families", name)
    families, notes, more = _families(families_doc or {}, name)
    problems += found + more
    if problems:
        raise InputError(problems)
    start_date, basis = str(meta.get("start_date", "")), str(meta.get("valuation_basis", "")).strip()
    out = PriorSet(parameters, families, start_date, basis, source=name, text=text, family_notes=notes)
    if cache_key is not None and fitted is None:
        from estimator.cache import write_entry

        write_entry(_fit_cache_path(cache_key), cache_key, {"params": out.fitted_params()})
    return out


def _fit_cache_path(key: str) -> Path:
    from estimator.cache import cache_dir

    return cache_dir() / "priors" / f"{key[:32]}.json"


def _cached_fit(text: str) -> tuple[dict | None, str]:
    """(parameters fitted to ``text`` before or ``None``, the cache key of ``text``).

    The key covers the text and the versions of everything that fits it
    (:func:`estimator.cache.versions`); an entry that does not match is
    ignored and overwritten after this fit.
    """
    from estimator.cache import canonical_versions, digest, read_entry

    key = digest("priors", text, canonical_versions())
    entry = read_entry(_fit_cache_path(key), key)
    params = entry.get("params") if entry else None
    return (params if isinstance(params, dict) else None), key


def reelicit(spec: PriorSpec, changes: dict, *, file: str, where: str) -> PriorSpec:
    """Elicit ``spec`` again with some of its statement changed (e.g. a new interval).

    ``changes`` maps elicitation fields (``lower``, ``upper``, ``mass``,
    ``median``, ``quartiles``, ``mode``, ``bound``, ``params``) to new values;
    the distribution family stays the same. Raises InputError naming ``file``,
    ``where`` and the field.
    """
    entry = {
        "distribution": spec.distribution,
        **spec.elicited,
        "rationale": spec.rationale,
        "citation": spec.citation,
        "unit": spec.unit,
    }
    if "params" in changes:
        for key in STATEMENT_FIELDS:
            entry.pop(key, None)
    elif any(k in changes for k in STATEMENT_FIELDS):
        entry.pop("params", None)
    entry.update(changes)
    # Fitted parameters are cached by the whole entry and the versions that fit it, like a
    # prior file's (a sweep re-elicits each of its settings in every process otherwise,
    # importing PreliZ for it: 2.8 s before the first point of the example sweep).
    from estimator.cache import canonical_versions, digest, read_entry, write_entry

    key = digest("reelicit", spec.name, json.dumps(entry, sort_keys=True, default=str), canonical_versions())
    path = _fit_cache_path(key)
    cached = read_entry(path, key)
    fitted = cached.get("params") if cached else None
    new, problems = _prior_spec(spec.name, entry, file, where, fitted=fitted if isinstance(fitted, dict) else None)
    if problems:
        raise InputError(problems)
    if cached is None:
        write_entry(path, key, {"params": new.params})
    return new
