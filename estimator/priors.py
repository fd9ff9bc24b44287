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
import dataclasses
import datetime as dt
import json
import warnings
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from estimator import names as N
from estimator.cache import cache_dir, canonical_versions, digest, read_entry, write_entry
from estimator.errors import InputError, Problem, did_you_mean, parse_toml_tables
from estimator.formatting import fmt_number
from estimator.prior_checks import (
    DISTRIBUTIONS,
    ELICITATION_FIELDS,
    FORM_DIRICHLET,
    FORM_INTERVAL,
    FORM_PARAMS,
    FORM_QUARTILES,
    STATEMENT_FIELD,
    STATEMENT_FIELDS,
    entry_problems,
    given_params,
    param_problems,
    statement_form,
    support_text,
)

__all__ = [
    "PriorSpec",
    "PriorSet",
    "load_priors",
    "read_priors_text",
    "DEFAULT_PRIORS",
    "DISTRIBUTIONS",
    "ELICITATION_FIELDS",
    "read_text_file",
]

DEFAULT_PRIORS = "priors-default.toml"
BOM = "\ufeff"


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
        import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

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
        fitted = ", ".join(
            f"{k}={fmt_number(v, 'plain', digits=3 if np.ndim(v) else 4)}" for k, v in self.params.items()
        )
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
            name: {
                k: (list(map(float, v)) if isinstance(v, (list, tuple, np.ndarray)) else float(v))
                for k, v in spec.params.items()
            }
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
            spec = PriorSpec(
                old.name,
                old.distribution,
                {**old.params, **params},
                {"params": params},
                old.unit,
                old.rationale,
                old.citation,
            )
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
    return str(p), read_text_file(p)


def read_text_file(path: Path) -> str:
    """The UTF-8 text of an input file (a leading byte-order mark dropped), or InputError naming it.

    Editors on Windows save UTF-8 with a byte-order mark, which TOML would
    read as a stray character at line 1, column 1; it is not part of the text.
    """
    name = str(path)
    try:
        return path.read_bytes().decode("utf-8").removeprefix(BOM)
    except FileNotFoundError:
        raise InputError([Problem(name, "file", "-", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(name, "file", "-", "is a folder, not a file")]) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(name, "file", "-", f"is not UTF-8 text (byte {exc.start} cannot be decoded)")]
        ) from None
    except OSError as exc:
        raise InputError([Problem(name, "file", "-", f"cannot be read: {exc.strerror or exc}")]) from None


def _fit_dirichlet(entry: dict) -> dict:
    import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, d = pz.dirichlet_mode(
            entry["mode"], mass=float(entry["mass"]), bound=float(entry.get("bound", 0.01)), plot=False
        )
    return {"alpha": [float(a) for a in np.asarray(d.alpha)]}


def _fit_quartiles(entry: dict) -> dict:
    import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = pz.quartile(getattr(pz, entry["distribution"])(), *(float(q) for q in entry["quartiles"]), plot=False)
    return {k: float(v) for k, v in d.params_dict.items()}


def _fit_interval(entry: dict) -> dict:
    import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    kwargs = {"fixed_stat": ("median", float(entry["median"]))} if "median" in entry else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = pz.maxent(
            getattr(pz, entry["distribution"])(),
            float(entry["lower"]),
            float(entry["upper"]),
            float(entry["mass"]),
            plot=False,
            **kwargs,
        )
    return {k: float(v) for k, v in d.params_dict.items()}


_FITS = {
    FORM_PARAMS: lambda entry: given_params(entry["params"]),
    FORM_DIRICHLET: _fit_dirichlet,
    FORM_QUARTILES: _fit_quartiles,
    FORM_INTERVAL: _fit_interval,
}


def _elicit(entry: dict) -> dict:
    """The distribution parameters an entry states, fitted by PreliZ (given ``params`` as they are).

    ``entry`` must have passed :func:`entry_problems`. The result depends only
    on the entry's statement (distribution and elicitation fields) and the
    installed PreliZ.
    """
    return _FITS[statement_form(entry)](entry)


def _fit_problems(entry: dict, params: dict, file: str, where: str) -> list[Problem]:
    """What the fit shows is wrong: a family that cannot put the stated mass in the stated interval."""
    if statement_form(entry) != FORM_INTERVAL:
        return []
    import preliz as pz  # noqa: PLC0415 - PreliZ loads matplotlib; only when a prior is fitted

    dist = entry["distribution"]
    lower, upper, mass = (float(entry[k]) for k in ("lower", "upper", "mass"))
    d = getattr(pz, dist)(**params)
    got = float(d.cdf(upper) - d.cdf(lower))
    if not abs(got - mass) <= 0.02:  # a NaN mass is a failed fit too
        return [
            Problem(
                file,
                where,
                "mass",
                f"{dist} cannot put {mass:g} of its mass in [{lower:g}, {upper:g}] (best fit puts {got:.3f})",
            )
        ]
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


def _prior_spec(
    name: str, entry, file: str, where: str, fitted: dict | None = None
) -> tuple[PriorSpec | None, list[Problem]]:
    """One entry validated, then elicited: ``(spec, [])``, or ``(None, its problems)``.

    ``fitted`` (parameters stored with a saved run) replaces the PreliZ fit,
    so a run reloads with the priors it was fitted with, whatever PreliZ
    version is installed (and PreliZ is not imported). An entry is fitted
    only when nothing else is wrong with it.
    """
    problems = entry_problems(entry, file, where, ask_preliz=fitted is None)
    if problems:
        return None, problems
    form = statement_form(entry)
    at = partial(Problem, file, where)
    if fitted is not None and form != FORM_PARAMS:
        # Stored parameters are checked like given ones: a run or cache entry written by
        # other code must not reach the sampler unchecked.
        problems = param_problems(entry["distribution"], fitted, at, field=STATEMENT_FIELD[form])
        return (None, problems) if problems else (_spec(name, entry, fitted), [])
    try:
        params = _elicit(entry)
    except (ValueError, ArithmeticError, FloatingPointError, np.linalg.LinAlgError) as exc:
        # Extreme statements (an interval from 1e-320 or up to 1e300) break PreliZ's optimiser.
        return None, [
            at(
                STATEMENT_FIELD[form],
                f"PreliZ cannot fit {entry['distribution']} to this statement ({type(exc).__name__}: {exc})",
            )
        ]
    if form != FORM_PARAMS:
        problems = param_problems(entry["distribution"], params, at, field=STATEMENT_FIELD[form])
        if problems:
            return None, [
                dataclasses.replace(p, message=f"PreliZ's fit to this statement is unusable: {p.message}")
                for p in problems
            ]
    problems = _fit_problems(entry, params, file, where)
    return (None, problems) if problems else (_spec(name, entry, params), [])


def _table(doc: dict, key: str, file: str) -> tuple[dict | None, list[Problem]]:
    """The document's table ``key`` (empty if absent), or ``None`` and a problem if it is not a table."""
    value = doc.get(key, {})
    if isinstance(value, dict):
        return value, []
    return None, [Problem(file, f"[{key}]", "-", "must be a table")]


# Shipments may be modelled from a date in this range. The model has a rate per month from the
# start to the latest claim, so a start decades before any claim only adds months no claim speaks
# of (and a year near 9999 overflows the month grid).
START_DATES = (dt.date(1950, 1, 1), dt.date(2099, 12, 31))


def iso_date(value) -> dt.date:
    """A YYYY-MM-DD date (a TOML date or text); ``fromisoformat`` alone also reads 20230801 or 2023-W31-2."""
    text = str(value)
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def _meta_problems(meta: dict, file: str) -> list[Problem]:
    problems = []
    start_date = str(meta.get("start_date", ""))
    try:
        start = iso_date(start_date)
        if not START_DATES[0] <= start <= START_DATES[1]:
            problems.append(
                Problem(file, "[meta]", "start_date", f"{start} is outside {START_DATES[0]} to {START_DATES[1]}")
            )
    except ValueError:
        problems.append(Problem(file, "[meta]", "start_date", f"'{start_date}' is not a date (use YYYY-MM-DD)"))
    if not str(meta.get("valuation_basis", "")).strip():
        problems.append(Problem(file, "[meta]", "valuation_basis", "is missing: say what the unit prices measure"))
    return problems


def _support_problems(pname: str, spec: PriorSpec, file: str, where: str) -> list[Problem]:
    """A distribution whose support (or, for the cargo mix, number of shares) is not the one the parameter needs."""
    has, needs = DISTRIBUTIONS[spec.distribution], N.PARAMETERS[pname]
    if has != needs:
        return [
            Problem(
                file,
                where,
                "distribution",
                f"{spec.distribution} has support {support_text(has)}, but {pname} needs {support_text(needs)}",
            )
        ]
    # The one simplex is the cargo mix, with a share per cargo type (the model's cargo dimension).
    shares = len(spec.params.get("alpha", ())) if has == N.SIMPLEX else len(N.CARGO_TYPES)
    if shares != len(N.CARGO_TYPES):
        field = "mode" if "mode" in spec.elicited else "params.alpha"
        return [
            Problem(
                file, where, field, f"{shares} shares given; {pname} has one per cargo type: {', '.join(N.CARGO_TYPES)}"
            )
        ]
    return []


def _parameter_specs(params_doc: dict, file: str, fitted: dict) -> tuple[dict[str, PriorSpec], list[Problem]]:
    """Every model parameter's spec from the ``[parameters]`` table; problems with missing, unused and bad entries."""
    problems = [
        Problem(file, f"[parameters.{p}]", "-", "the model needs a prior for this parameter")
        for p in N.PARAMETERS
        if p not in params_doc
    ]
    parameters: dict[str, PriorSpec] = {}
    for pname, entry in params_doc.items():
        where = f"[parameters.{pname}]"
        if pname not in N.PARAMETERS:
            problems.append(
                Problem(file, where, "-", "the model has no such parameter" + did_you_mean(pname, N.PARAMETERS))
            )
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
    path: str | Path | None = None,
    *,
    text: str | None = None,
    name: str | None = None,
    fitted: dict | None = None,
    cache: bool = True,
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
    text = text.removeprefix(BOM)
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
        write_entry(_fit_cache_path(cache_key), cache_key, {"params": out.fitted_params()})
    return out


def _fit_cache_path(key: str) -> Path:

    return cache_dir() / "priors" / f"{key[:32]}.json"


def _cached_fit(text: str) -> tuple[dict | None, str]:
    """(parameters fitted to ``text`` before or ``None``, the cache key of ``text``).

    The key covers the text and the versions of everything that fits it
    (:func:`estimator.cache.versions`); an entry that does not match is
    ignored and overwritten after this fit.
    """
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

    key = digest("reelicit", spec.name, json.dumps(entry, sort_keys=True, default=str), canonical_versions())
    path = _fit_cache_path(key)
    cached = read_entry(path, key)
    fitted = cached.get("params") if cached else None
    new, problems = _prior_spec(spec.name, entry, file, where, fitted=fitted if isinstance(fitted, dict) else None)
    if not problems and spec.name in N.PARAMETERS:
        problems = _support_problems(spec.name, new, file, where)
    if problems:
        raise InputError(problems)
    if cached is None:
        write_entry(path, key, {"params": new.params})
    return new
