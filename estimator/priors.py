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
import math
import warnings
from dataclasses import dataclass, field
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


def _elicit(name, entry, where, file, problems, fitted=None):
    """Validate one entry and fit it with PreliZ; append problems, return spec or None.

    ``fitted`` (parameters stored with a saved run) replaces the PreliZ fit,
    so a run reloads with the priors it was fitted with, whatever PreliZ
    version is installed, and PreliZ is not even imported.
    """

    def bad(fld, msg):
        problems.append(Problem(file, where, fld, msg))

    start = len(problems)
    if not isinstance(entry, dict):
        bad("-", "must be a table")
        return None
    for key in entry:
        if key not in _ENTRY_KEYS:
            bad(key, "unknown key" + did_you_mean(key, _ENTRY_KEYS))
    dist = entry.get("distribution")
    if dist is None:
        bad("distribution", "is missing")
        return None
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        bad("distribution", f"unknown distribution '{dist}'{did_you_mean(dist, DISTRIBUTIONS)}; one of {', '.join(DISTRIBUTIONS)}")
        return None
    for key in _DOC_KEYS:
        if not str(entry.get(key, "")).strip():
            bad(key, "is missing: every prior states why and where its numbers come from")
    support = DISTRIBUTIONS[dist]
    lo_s, hi_s = {N.POSITIVE: (0.0, math.inf), N.UNIT_INTERVAL: (0.0, 1.0), N.SIMPLEX: (0.0, 1.0), N.REAL: (-math.inf, math.inf)}[support]
    elicited = {k: entry[k] for k in ("lower", "upper", "mass", "median", "quartiles", "mode", "bound", "params") if k in entry}
    forms = [f for f in (("lower" in entry or "upper" in entry), "quartiles" in entry, "mode" in entry, "params" in entry) if f]
    if len(forms) != 1:
        bad("-", "give exactly one of: lower/upper/mass, quartiles, mode/mass/bound, params")
        return None

    def number(key, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            bad(key, f"'{value}' is not a finite number")
            return None
        return float(value)

    params = None
    if "params" in entry:
        raw = entry["params"]
        if not isinstance(raw, dict):
            bad("params", "must be a table of parameter values")
            return None
        try:
            params = {k: (list(map(float, v)) if isinstance(v, list) else float(v)) for k, v in raw.items()}
            if fitted is None:
                import preliz as pz

                getattr(pz, dist)(**params)
        except (TypeError, ValueError) as exc:
            bad("params", f"not valid parameters for {dist}: {exc}")
            return None
    elif dist == "Dirichlet":
        mode, mass, bound = entry.get("mode"), entry.get("mass"), entry.get("bound", 0.01)
        if not isinstance(mode, list) or len(mode) < 2:
            bad("mode", "a Dirichlet needs a list of at least two shares")
            return None
        finite = all(not isinstance(m, bool) and isinstance(m, (int, float)) and math.isfinite(m) for m in mode)
        if not finite or abs(sum(mode) - 1) > 1e-6 or any(m <= 0 for m in mode):
            bad("mode", f"shares {mode} must be positive numbers that sum to 1")
        mass = number("mass", mass)
        if mass is not None and not 0 < mass < 1:
            bad("mass", f"{mass} is not a probability strictly between 0 and 1")
        bound = number("bound", bound)
        if bound is not None and not 0 < bound < 1:
            bad("bound", f"{bound} is not a share strictly between 0 and 1")
        if len(problems) > start:
            return None
        if fitted is not None:
            params = fitted
        else:
            import preliz as pz

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, d = pz.dirichlet_mode(mode, mass=mass, bound=bound, plot=False)
            params = {"alpha": [float(a) for a in np.asarray(d.alpha)]}
    elif "quartiles" in entry:
        qs = entry["quartiles"]
        if not isinstance(qs, list) or len(qs) != 3:
            bad("quartiles", "give three numbers [q1, median, q3]")
            return None
        qs = [number("quartiles", q) for q in qs]
        if None in qs:
            return None
        if not qs[0] < qs[1] < qs[2]:
            bad("quartiles", f"{qs} must increase")
        if not (lo_s < qs[0] and qs[2] < hi_s):
            bad("quartiles", f"{qs} lie outside the support {_support_text(support)} of {dist}")
        if len(problems) > start:
            return None
        if fitted is not None:
            params = fitted
        else:
            import preliz as pz

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = pz.quartile(getattr(pz, dist)(), *qs, plot=False)
            params = {k: float(v) for k, v in d.params_dict.items()}
    else:
        lower, upper, mass = (number(k, entry.get(k)) if k in entry else None for k in ("lower", "upper", "mass"))
        for k, v in (("lower", lower), ("upper", upper), ("mass", mass)):
            if k not in entry:
                bad(k, "is missing")
        if len(problems) > start:
            return None
        if not lower < upper:
            bad("upper", f"interval is reversed: lower {lower:g} is not below upper {upper:g}")
        if not (lo_s < lower and upper < hi_s):
            bad(
                "lower" if lower <= lo_s else "upper",
                f"interval [{lower:g}, {upper:g}] lies outside the support {_support_text(support)} of {dist}",
            )
        if not 0 < mass < 1:
            bad("mass", f"{mass:g} is not a probability strictly between 0 and 1")
        kwargs = {}
        if "median" in entry:
            med = number("median", entry["median"])
            if med is not None and not lower < med < upper:
                bad("median", f"median {med:g} is not inside [{lower:g}, {upper:g}]")
            kwargs["fixed_stat"] = ("median", med)
        if len(problems) > start:
            return None
        if fitted is not None:
            params = fitted
        else:
            import preliz as pz

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = pz.maxent(getattr(pz, dist)(), lower, upper, mass, plot=False, **kwargs)
            params = {k: float(v) for k, v in d.params_dict.items()}
            got = float(d.cdf(upper) - d.cdf(lower))
        if fitted is None and abs(got - mass) > 0.02:
            bad("mass", f"{dist} cannot put {mass:g} of its mass in [{lower:g}, {upper:g}] (best fit puts {got:.3f})")
            return None
    if len(problems) > start:
        return None
    return PriorSpec(
        name=name,
        distribution=dist,
        params=params,
        elicited=elicited,
        unit=str(entry.get("unit", "")),
        rationale=str(entry.get("rationale", "")),
        citation=str(entry.get("citation", "")),
    )


def _support_text(support):
    return {N.POSITIVE: "(0, inf)", N.UNIT_INTERVAL: "(0, 1)", N.SIMPLEX: "the simplex", N.REAL: "the real line"}[support]


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

    def table(key):
        value = doc.get(key, {})
        if isinstance(value, dict):
            return value
        problems.append(Problem(name, f"[{key}]", "-", "must be a table"))
        return None

    meta = table("meta") or {}
    start_date = str(meta.get("start_date", ""))
    try:
        import datetime as dt

        dt.date.fromisoformat(start_date)
    except ValueError:
        problems.append(Problem(name, "[meta]", "start_date", f"'{start_date}' is not a date (use YYYY-MM-DD)"))
    basis = str(meta.get("valuation_basis", "")).strip()
    if not basis:
        problems.append(Problem(name, "[meta]", "valuation_basis", "is missing: say what the unit prices measure"))

    params_doc = table("parameters")
    parameters: dict[str, PriorSpec] = {}
    for pname in N.PARAMETERS if params_doc is not None else ():
        if pname not in params_doc:
            problems.append(Problem(name, f"[parameters.{pname}]", "-", "the model needs a prior for this parameter"))
    for pname, entry in (params_doc or {}).items():
        where = f"[parameters.{pname}]"
        if pname not in N.PARAMETERS:
            problems.append(Problem(name, where, "-", "the model has no such parameter" + did_you_mean(pname, N.PARAMETERS)))
            continue
        spec = _elicit(pname, entry, where, name, problems, (fitted or {}).get(pname))
        if spec is not None and DISTRIBUTIONS[spec.distribution] != N.PARAMETERS[pname]:
            problems.append(
                Problem(
                    name,
                    where,
                    "distribution",
                    f"{spec.distribution} has support {_support_text(DISTRIBUTIONS[spec.distribution])}, but {pname} needs {_support_text(N.PARAMETERS[pname])}",
                )
            )
        elif spec is not None:
            parameters[pname] = spec

    # Families need only a label (and a note on their scope): their biases and noises are
    # drawn from the population whose hyperpriors are [parameters.family_*] entries.
    families: dict[str, str] = {}
    notes: dict[str, str] = {}
    for fam, entry in (table("families") or {}).items():
        where = f"[families.{fam}]"
        if not isinstance(entry, dict):
            problems.append(Problem(name, where, "-", "must be a table"))
            continue
        families[fam] = str(entry.get("label", fam))
        notes[fam] = str(entry.get("note", ""))
        for key in entry:
            if key in ("bias", "noise"):
                problems.append(
                    Problem(
                        name,
                        where,
                        key,
                        "families are pooled: their biases and noises come from the [parameters.family_log_*] population priors, not per-family entries",
                    )
                )
            elif key not in ("label", "note"):
                problems.append(Problem(name, where, key, "unknown key" + did_you_mean(key, ("label", "note"))))
    if problems:
        raise InputError(problems)
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
    problems: list[Problem] = []
    new = _elicit(spec.name, entry, where, file, problems)
    if problems:
        raise InputError(problems)
    return new
