"""Generated sweep overrides: refused at load with the point and field named, or every point applies and fits.

A sweep's overrides used to pass ``load_sweep`` and fail only when their
point ran. Each generated sweep file (points or a grid, overrides valid and
invalid) must either raise one InputError whose problems name the sweep
file, the point and the field, or load into a spec whose points all apply
to the base priors; on accepted files the first and last points' priors
give a finite log density at the model's initial point.
"""

import json
import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_priors_fuzz import params_variant

from estimator.errors import InputError
from estimator.sweep_file import AS_OF, apply_overrides, load_sweep

EXAMPLES = 1000
# Elicited overrides come from a few statements (PreliZ fits each once, about 50 ms, then the
# sweep module's cache answers): valid ones, and ones that fail only when refitted.
_STATEMENTS = [
    ("price_152mm_usd.lower", 450),
    ("price_152mm_usd", {"label": "dear", "lower": 900, "upper": 3000}),
    ("fill_152mm.upper", 0.9),
    ("fill_152mm.upper", 1.5),
    ("fill_152mm", {"lower": 0.9, "upper": 0.5}),
    ("cargo_mix", {"mode": [0.6, 0.1, 0.3], "mass": 0.9, "bound": 0.2}),
    ("cargo_mix", {"mode": [0.6, 0.4], "mass": 0.9, "bound": 0.2}),
    ("cargo_mix.mode", [0.5, 0.25, 0.25]),
    ("conversion_noise.quartiles", [0.1, 0.2, 0.3]),
    ("price_152mm_usd.lower.x", 450),
]
_DATES = st.one_of(
    st.sampled_from(
        [
            "2024-01-31",
            "2024-06-30",
            "2023-07-31",
            "2099-01-01",
            "9999-12-31",
            "0001-01-01",
            "20240131",
            "2024-02-30",
            "",
        ]
    ),
    st.dates().map(str),
    st.integers(),
    st.booleans(),
)


@st.composite
def override(draw, fitted: dict):
    """One (key, value) override of a sweep point."""
    kind = draw(st.sampled_from(["param", "param", "params_table", "statement", "as_of"]))
    if kind == "as_of":
        return AS_OF, draw(_DATES)
    if kind == "statement":
        return draw(st.sampled_from(_STATEMENTS))
    var, _, params = draw(params_variant(fitted))
    if kind == "params_table" or not isinstance(params, dict) or not params:
        return var, {"params": params}
    name = draw(st.sampled_from(sorted(params)))
    return f"{var}.params.{name}", params[name]


@st.composite
def sweep_doc(draw, fitted: dict):
    """A sweep document, (points or grid), with 1 to 3 points of 1 or 2 overrides each."""
    if draw(st.booleans()):
        points = [
            dict(draw(st.lists(override(fitted), min_size=1, max_size=2))) for _ in range(draw(st.integers(1, 3)))
        ]
        return {"base": {"seed": 1}, "points": points}
    grid = {}
    for key, value in draw(st.lists(override(fitted), min_size=1, max_size=2)):
        grid.setdefault(key, []).append(value)
    return {"base": {"seed": 1}, "grid": grid}


def _inline(v) -> str:
    """A TOML value written inline (tables as inline tables): a point's override may be a table."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_inline(x)}" for k, x in v.items()) + "}"


def _sweep_toml(doc) -> str:
    """TOML of a generated sweep document."""
    lines = ["[base]", *(f"{k} = {_inline(v)}" for k, v in doc["base"].items())]
    if "grid" in doc:
        lines += ["[grid]", *(f"{json.dumps(k)} = {_inline(v)}" for k, v in doc["grid"].items())]
    for point in doc.get("points", []):
        lines += ["[[points]]", *(f"{json.dumps(k)} = {_inline(v)}" for k, v in point.items())]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_sweep_overrides_are_refused_at_load_by_point_and_field_or_every_point_applies(
    data, fitted_default, sweep_file, log_density, priors
):
    """1,000 generated sweep files; the finite log density is checked on the first and last points of accepted ones."""
    doc = data.draw(sweep_doc(fitted_default))
    sweep_file.write_text(_sweep_toml(doc), encoding="utf-8")
    try:
        spec = load_sweep(sweep_file)
    except InputError as exc:
        problems = exc.problems
        assert problems, str(exc)
        for p in problems:
            assert p.file == str(sweep_file) and p.field, str(exc)
            # The base is valid: every problem is a point's (or two points being the same).
            assert p.row.startswith(("[[points]] ", "[grid] point ")) or (p.row, p.field) == ("points", "-"), str(exc)
        event("refused")
        return
    event("accepted")
    for i, point in enumerate(spec.points):
        new, options = apply_overrides(priors, point, file=spec.source, where=f"point {i + 1}", start=priors.start_date)
        if i in (0, len(spec.points) - 1):
            assert log_density.finite(new), point
