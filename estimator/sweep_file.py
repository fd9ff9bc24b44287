r"""A sweep file: the base inputs and settings, and the points to refit, validated before any sampling.

Sweep file (TOML)
-----------------
::

    [base]                       # everything optional
    claims = "my-claims.csv"     # relative to the sweep file; default: embedded ledger
    priors = "my-priors.toml"    # default: embedded priors
    as_of = "2024-02-23"         # default: the latest claim's date said
    dynamics = "ar1"             # rate dynamics (default: the model's default)
    seed = 7                     # sweep seed; each point's seed derives from it and the point
    draws = 500                  # per chain, exact refits
    tune = 500
    chains = 2
    reference_draws = 2000       # per chain, the reference posterior of approximate mode

    [grid]                       # product of lists ...
    "price_152mm_usd.lower" = [400, 900, 1400]
    "price_152mm_usd.upper" = [600, 1100, 1600]   # (zipped? no: every combination)
    "fill_152mm" = [{label = "low", lower = 0.3, upper = 0.6}, {label = "high", lower = 0.7, upper = 0.95}]

    [[points]]                   # ... or an explicit list of overrides
    "price_152mm_usd" = {lower = 400, upper = 600}
    as_of = "2024-01-31"

An override key is a prior name (a parameter such as ``price_152mm_usd`` or a
family prior such as ``bias_us_government``), optionally with one field of
its elicited statement (``.lower``, ``.upper``, ``.mass``, ``.median``, or
``.params.<name>``); a table value replaces several fields at once (``label``
names it in tables and figures). The distribution family never changes within
a sweep, so every point is the same compiled model with other ``pm.Data``.
``as_of`` is the one model option that can be swept (dates up to the latest
one in the sweep).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from estimator.claims import load_claims
from estimator.errors import InputError, Problem, did_you_mean, parse_toml_tables
from estimator.inference import resolve_as_of
from estimator.model import DEFAULT_DYNAMICS, DYNAMICS
from estimator.priors import ELICITATION_FIELDS, PriorSet, iso_date, load_priors, read_text_file, reelicit
from estimator.refit import RefitSpec, canonical
from estimator.timeline import default_as_of

__all__ = [
    "SweepSpec",
    "load_sweep",
    "apply_overrides",
    "changed_specs",
    "point_id",
    "point_seed",
    "point_label",
    "AS_OF",
]


_BASE_KEYS = {"claims", "priors", "as_of", "dynamics", "seed", "draws", "tune", "chains", "reference_draws"}

# Whole-number settings: (default, least, most). A million draws per chain is hundreds of times
# the effective sample size any reported quantile needs, and a posterior that size (times the
# chains) fills gigabytes; 64 chains is far more than R-hat needs (4 is usual) and each holds a
# sampler's state. A seed is a 64-bit signed integer, as TOML integers are elsewhere.
_COUNTS = {
    "seed": (0, 0, 2**63 - 1),
    "draws": (500, 1, 1_000_000),
    "tune": (500, 1, 1_000_000),
    "chains": (2, 1, 64),
    "reference_draws": (2000, 1, 1_000_000),
}


AS_OF = "as_of"


@dataclasses.dataclass
class SweepSpec:
    """A validated sweep: base inputs and settings, the points, and the grid's dimensions."""

    source: str
    claims_path: str | None
    priors_path: str | None
    as_of: str
    seed: int
    draws: int
    tune: int
    chains: int
    reference_draws: int
    points: list[dict]
    grid_keys: list[str] | None  # set when the points are a full grid
    text: str = ""
    dynamics: str = DEFAULT_DYNAMICS
    # The inputs as load_sweep validated them (loaded from the paths when not given).
    claims: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    priors: PriorSet | None = dataclasses.field(default=None, repr=False)

    def refit_spec(self) -> RefitSpec:
        """The base model every point refits: the validated inputs, no paths (:class:`estimator.refit.RefitSpec`)."""
        return RefitSpec.from_inputs(
            self.claims if self.claims is not None else self.claims_path,
            self.priors if self.priors is not None else self.priors_path,
            as_of=self.as_of,
            horizon=max([self.as_of, *(str(p[AS_OF]) for p in self.points if AS_OF in p)]),
            dynamics=self.dynamics,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            source=self.source,
        )


def point_id(overrides: dict) -> str:
    """Stable 12-hex-digit identifier of a point (its overrides, canonically ordered)."""
    return hashlib.sha256(canonical(overrides).encode()).hexdigest()[:12]


def point_seed(sweep_seed: int, overrides: dict) -> int:
    """Seed of one point: a function of the sweep seed and the point alone."""
    digest = int(point_id(overrides), 16)
    return int(np.random.SeedSequence([int(sweep_seed), digest]).generate_state(1)[0])


def point_label(value) -> str | float:
    """A setting as tables and figures name it: a table's ``label`` (or its canonical text), else the value."""
    if isinstance(value, dict):
        return str(value.get("label", canonical({k: v for k, v in value.items() if k != "label"})))
    return value


def load_sweep(path: str | Path) -> SweepSpec:
    """Load and validate a sweep file; every problem is reported at once (file, table, field)."""
    path = Path(path)
    name = str(path)
    text = read_text_file(path)
    doc, problems = parse_toml_tables(text, name, ("base", "grid", "points"))
    base = doc.get("base", {})
    if not isinstance(base, dict):
        problems.append(Problem(name, "[base]", "-", "must be a table of settings"))
        base = {}
    for key in base:
        if key not in _BASE_KEYS:
            problems.append(Problem(name, "[base]", key, "unknown setting" + did_you_mean(key, _BASE_KEYS)))

    inputs = {key: _input_path(path, base, key, problems) for key in ("claims", "priors")}
    settings = {}
    for key, (default, least, most) in _COUNTS.items():
        v = base.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not least <= v <= most:
            problems.append(Problem(name, "[base]", key, f"'{v}' must be a whole number from {least} to {most:,}"))
        settings[key] = v
    as_of = base.get("as_of")
    if as_of is not None:
        as_of = str(as_of)
        try:
            iso_date(as_of)
        except ValueError:
            problems.append(Problem(name, "[base]", "as_of", f"'{as_of}' is not a date (use YYYY-MM-DD)"))
            as_of = None
    dynamics = str(base.get("dynamics", DEFAULT_DYNAMICS))
    if dynamics not in DYNAMICS:
        problems.append(
            Problem(
                name,
                "[base]",
                "dynamics",
                f"unknown rate dynamics '{dynamics}'{did_you_mean(dynamics, DYNAMICS)}; one of {', '.join(DYNAMICS)}",
            )
        )

    grid, listed = doc.get("grid"), doc.get("points")
    points: list[dict] = []
    grid_keys = None
    if (grid is None) == (listed is None):
        problems.append(
            Problem(
                name, "file", "-", "give exactly one of [grid] (a product of lists) or [[points]] (a list of overrides)"
            )
        )
    elif not isinstance(grid if grid is not None else {}, dict):
        problems.append(Problem(name, "[grid]", "-", "must be a table of setting = [values]"))
    elif grid is not None:
        bad = [k for k, v in grid.items() if not isinstance(v, list) or not v]
        for k in bad:
            problems.append(Problem(name, "[grid]", k, "must be a non-empty list of values"))
        if not bad:
            grid_keys = list(grid)
            for combo in itertools.product(*(grid[k] for k in grid_keys)):
                points.append(dict(zip(grid_keys, combo)))
    else:
        if not isinstance(listed, list) or not listed:
            problems.append(Problem(name, "[[points]]", "-", "must be a non-empty list of tables"))
        elif not all(isinstance(p, dict) for p in listed):
            problems += [
                Problem(name, f"[[points]] {i + 1}", "-", "must be a table of overrides")
                for i, p in enumerate(listed)
                if not isinstance(p, dict)
            ]
        else:
            points = [dict(p) for p in listed]
    if not points:
        raise InputError(problems)

    # Validate the inputs and every override against the base priors now, before any sampling.
    if any(p is False for p in inputs.values()):
        raise InputError(problems)
    try:
        priors = load_priors(inputs["priors"])
        claims = load_claims(inputs["claims"])
    except InputError as exc:
        raise InputError([*problems, *exc.problems]) from None
    if as_of is None:
        as_of = str(default_as_of(claims))
    problems += _as_of_problems(claims, priors, as_of, name, "[base]")
    spec = SweepSpec(
        name,
        inputs["claims"],
        inputs["priors"],
        as_of,
        settings["seed"],
        settings["draws"],
        settings["tune"],
        settings["chains"],
        settings["reference_draws"],
        points,
        grid_keys,
        text,
        dynamics,
        claims,
        priors,
    )
    for i, point in enumerate(points):
        where = f"[grid] point {i + 1}" if grid_keys else f"[[points]] {i + 1}"
        try:
            _, options = changed_specs(priors, point, file=name, where=where, start=priors.start_date)
        except InputError as exc:
            problems += exc.problems
            continue
        if AS_OF in options:
            problems += _as_of_problems(claims, priors, options[AS_OF], name, where)
    ids = [point_id(p) for p in points]
    if len(set(ids)) != len(ids):
        problems.append(Problem(name, "points", "-", "two points have identical overrides"))
    if problems:
        raise InputError(problems)
    return spec


def _input_path(sweep: Path, base: dict, key: str, problems: list[Problem]) -> str | None | bool:
    """The absolute path of the ``claims`` or ``priors`` file a sweep names (relative to the sweep file).

    ``None`` for the embedded default; ``False``, with a problem added, for a
    value that is not a path or names a folder.
    """
    value = base.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(
            Problem(str(sweep), "[base]", key, f"'{value}' must be the path of a file, relative to the sweep file")
        )
        return False
    resolved = (sweep.parent / value).resolve()
    if resolved.is_dir():
        problems.append(Problem(str(sweep), "[base]", key, f"'{value}' is a folder, not a file"))
        return False
    return str(resolved)


def _as_of_problems(claims, priors, as_of, file: str, where: str) -> list[Problem]:
    """An as-of date past the forecast horizon of the claims, or before the start of shipments."""
    try:
        day, _ = resolve_as_of(claims, as_of, source=file)
    except InputError as exc:
        return [Problem(file, where, AS_OF, p.message) for p in exc.problems]
    if day < dt.date.fromisoformat(priors.start_date):
        return [
            Problem(
                file,
                where,
                AS_OF,
                f"{day} is before the start of shipments ({priors.start_date}, the prior file's start_date)",
            )
        ]
    return []


def apply_overrides(priors, overrides: dict, *, file: str, where: str, start: str | None = None):
    """Return (PriorSet with the overrides applied, model options). The input PriorSet is untouched."""
    updates, options = changed_specs(priors, overrides, file=file, where=where, start=start)
    return priors.with_params({var: spec.params for var, spec in updates.items()}), options


def _reelicit_cached(spec, change, *, file, where):

    key = (spec.name, canonical(spec.params), canonical(change))
    if key not in _ELICITED:
        _ELICITED[key] = reelicit(spec, change, file=file, where=where)
    return _ELICITED[key]


def changed_specs(priors, overrides: dict, *, file: str, where: str, start: str | None = None):
    """Return ({variable: re-elicited PriorSpec} for the overridden priors, model options).

    Every point of a sweep refits one compiled model whose prior parameters
    are ``pm.Data`` named by variable and parameter, so an override must
    keep each prior's parameter names and shapes (an elicited statement refitted to a prior given as
    ``mu, sigma`` would come back as ``alpha, beta``). Raises InputError
    naming ``file``, ``where`` and the field.
    """
    specs = priors.all_specs()
    changes: dict[str, dict] = {}
    options: dict = {}
    problems: list[Problem] = []
    for key, value in overrides.items():
        if key == AS_OF:
            try:
                d = iso_date(value)
                if start and d < dt.date.fromisoformat(start):
                    raise ValueError
                options[AS_OF] = str(d)
            except ValueError:
                problems.append(
                    Problem(file, where, key, f"'{value}' is not a date on or after the start of shipments")
                )
            continue
        var, _, field = key.partition(".")
        if var not in specs:
            problems.append(Problem(file, where, key, f"no prior named '{var}'" + did_you_mean(var, [*specs, AS_OF])))
            continue
        if field:
            top, _, rest = field.partition(".")
            if top not in ELICITATION_FIELDS:
                problems.append(
                    Problem(file, where, key, f"unknown field '{top}'" + did_you_mean(top, ELICITATION_FIELDS))
                )
                continue
            if top == "params" and rest:
                params = changes.setdefault(var, {}).setdefault("params", dict(specs[var].params))
                if not isinstance(params, dict):
                    # The same point also gave `var.params` whole, as a value that is not a table.
                    problems.append(Problem(file, where, key, f"'{var}.params' is given both whole and by part"))
                    continue
                params[rest] = value
            elif rest:
                problems.append(
                    Problem(file, where, key, f"'{top}' has no parts: name the field alone, e.g. {var}.{top}")
                )
            else:
                changes.setdefault(var, {})[top] = value
        elif isinstance(value, dict):
            fields = {k: v for k, v in value.items() if k != "label"}
            unknown = [k for k in fields if k not in ELICITATION_FIELDS]
            for k in unknown:
                problems.append(
                    Problem(file, where, f"{key}.{k}", "unknown field" + did_you_mean(k, ELICITATION_FIELDS))
                )
            changes.setdefault(var, {}).update(fields)
        else:
            problems.append(
                Problem(file, where, key, "give a table of fields or name one field, e.g. price_152mm_usd.lower")
            )
    updates = {}
    for var, change in changes.items():
        try:
            updates[var] = _reelicit_cached(specs[var], change, file=file, where=f"{where}: {var}")
        except InputError as exc:
            problems += exc.problems
            continue
        problems += _parameter_shape_problems(specs[var], updates[var], file, f"{where}: {var}")
    if problems:
        raise InputError(problems)
    return updates, options


def _parameter_shape_problems(base, new, file: str, where: str) -> list[Problem]:
    """An override that changes a prior's parameter names or shapes (the compiled model's ``pm.Data``)."""
    shapes = {k: np.shape(v) for k, v in base.params.items()}
    got = {k: np.shape(v) for k, v in new.params.items()}
    if got == shapes:
        return []
    said = ", ".join(f"{k}{list(s) if s else ''}" for k, s in shapes.items())
    return [
        Problem(
            file,
            where,
            "params",
            f"gives {base.distribution} parameters {', '.join(got)}, but the sweep's model holds {said} as data: "
            "every point of a sweep keeps the base prior's parametrisation",
        )
    ]


# (variable, its base parameters, the change) -> re-elicited spec. A grid repeats each
# value of a setting across the other settings: elicit it once (PreliZ takes ~50 ms).
_ELICITED: dict[tuple[str, str, str], object] = {}
