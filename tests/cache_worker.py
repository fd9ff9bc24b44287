"""Fit a list of input variants in one process, with the compiled-model cache or without it.

Run by ``tests/test_cache_differential.py`` as ``python tests/cache_worker.py VARIANTS OUT
[--no-cache]``: every variant of the default inputs (:func:`materialize`) is fitted at tiny
draws and its outcome written to OUT as JSON: a digest of every draw, or the input error's
message. The two runs must agree variant by variant.

With the cache, each fit goes through the public path (the elicited priors and compiled
models read from ``$ESTIMATOR_CACHE_DIR``, written on a miss). Without it (the caller
points ``$ESTIMATOR_CACHE_DIR`` at an empty folder of its own), every fit passes
``cache=False``; a model is compiled afresh once per *build structure* (the
number of families, the padded claim count, the months, the dynamics and the prior
distributions: the arguments of ``build_model`` that shape the graph, taken from the
inputs, not from the cache key under test) and its later variants swap their data into
that fresh compile, as a refit in one process does. Compiling afresh for each of 200
variants would take hours on two cores.
"""

from __future__ import annotations

import estimator  # isort: skip

import csv
import hashlib
import io
import json
import sys
import warnings

import numpy as np

from estimator import _compiled as compiled
from estimator import sampling
from estimator.claims import read_claims_text
from estimator.errors import FitError, InputError
from estimator.priors import read_priors_text
from estimator.sweep_file import apply_overrides, load_sweep

SWEEP = "sweeps/prices-and-fill.toml"
DRAWS = {"draws": 5, "tune": 5, "chains": 1, "progress": False}
# The build structures a variant can have; each differs from the default in one thing the
# compiled code or nutpie's metadata depends on.
STRUCTURES = ("default", "family_added", "family_dropped", "random_walk", "over_capacity", "forecast")
# As-of dates inside the default's last month (September 2025): the same months, other data.
AS_OF_SAME_MONTHS = ("2025-09-01", "2025-09-18", "2025-09-30")
FORECAST_AS_OF = "2025-11-20"
# Vintages after every family's first claim (2025-05-29), so no family drops out.
KNOWN_BY = ("2025-06-30", "2025-07-31", "2025-09-18")
BAD_CELLS = (("figure", "-5"), ("qualifier", "roughly"), ("date_said", "2024-13-01"), ("quantity", "tanks"))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _safe_quantities(rows) -> list[str]:
    """Quantities whose every row can be removed without losing a family or the padded claim count."""
    head, body = rows[0], rows[1:]
    q, f = head.index("quantity"), head.index("source_family")
    families = {r[f] for r in body}
    out = []
    for quantity in sorted({r[q] for r in body}):
        kept = [r for r in body if r[q] != quantity]
        if {r[f] for r in kept} == families and len(kept) > 32:
            out.append(quantity)
    return out


def materialize(v: dict):
    """(ledger text, priors, fit keyword arguments) of a variant."""
    rows = _rows(read_claims_text()[1])
    head = rows[0]
    col = {name: i for i, name in enumerate(head)}
    body = rows[1:]
    structure = v["structure"]
    if structure == "family_added":
        extra = list(body[v["row"] % len(body)])
        extra[col["id"]], extra[col["source_family"]] = "variant-new-family", v["new_family"]
        body.append(extra)
    elif structure == "family_dropped":
        body = [r for r in body if r[col["source_family"]] != v["dropped_family"]]
    elif structure == "over_capacity":
        for i in range(12):
            copy = list(body[(v["row"] + i) % len(body)])
            copy[col["id"]] = f"variant-copy-{i}"
            body.append(copy)
    if v["drop_quantity"]:
        body = [r for r in body if r[col["quantity"]] != v["drop_quantity"]]
    if v["rename_family"]:
        old = sorted({r[col["source_family"]] for r in body})[v["row"] % 7]
        for r in body:
            if r[col["source_family"]] == old:
                r[col["source_family"]] = "renamed_family"
    if v["scale"] is not None:
        r = body[v["row"] % len(body)]
        r[col["figure"]] = repr(float(r[col["figure"]]) * v["scale"])
        if r[col["figure_high"]]:
            r[col["figure_high"]] = repr(float(r[col["figure_high"]]) * v["scale"])
    if v["bad_cell"] is not None:
        field, value = BAD_CELLS[v["bad_cell"]]
        body[v["row"] % len(body)][col[field]] = value
    kwargs = {"seed": v["seed"], **DRAWS}
    if structure == "random_walk":
        kwargs["dynamics"] = "random_walk"
    if structure == "forecast":
        kwargs["as_of"] = FORECAST_AS_OF
    elif v["as_of"] is not None:
        kwargs["as_of"] = v["as_of"]
    if v["known_by"] is not None:
        kwargs["known_by"] = v["known_by"]
        kwargs.setdefault("as_of", "2025-09-18")
    return _text([head, *body]), kwargs


def _digest(result) -> str:
    """SHA-256 of every draw the fit stored (posterior, log-likelihood, log-prior, predictive), with the coordinates."""
    h = hashlib.sha256()
    for group in ("posterior", "log_likelihood", "log_prior", "posterior_predictive"):
        ds = result.tree[group].to_dataset()
        for name in sorted(ds.data_vars):
            values = np.ascontiguousarray(ds[name].values)
            h.update(f"{group}/{name}{values.shape}".encode())
            h.update(values.tobytes())
        for name in sorted(ds.coords):
            h.update(str(ds[name].values.tolist()).encode())
    return h.hexdigest()


def _fresh_compiles():
    """``compile_model`` compiling afresh once per build structure (see the module docstring), never touching the disk cache."""
    fresh: dict = {}
    original = compiled.compile_model

    def compile_fresh(model, *, recipe=None, var_names=None, cache=True, log_densities=False):
        structure = (
            len(model.coords["family"]),
            len(model.coords["claim"]),
            len(model.coords["month"]),
            recipe.dynamics,
            tuple(
                sorted(
                    (name, spec.distribution, tuple(sorted(spec.params)))
                    for name, spec in recipe.priors.all_specs().items()
                )
            ),
            tuple(var_names or ()),
            log_densities,
        )
        compile_fresh.calls += 1
        if structure not in fresh:
            fresh[structure] = original(
                model, recipe=recipe, var_names=var_names, cache=False, log_densities=log_densities
            )
            return fresh[structure]
        data_model, _ = compiled._stored_vars(model, var_names, log_densities)
        return compiled._with_model_data(fresh[structure], data_model)

    compile_fresh.calls = 0
    return compile_fresh


def run(variants: list[dict], use_cache: bool) -> list[dict]:
    sweep = load_sweep(SWEEP)
    priors_text = read_priors_text()[1]
    base_priors = {}
    if not use_cache:
        # Where fit's sampling step reads it (imported at the top of estimator.sampling).
        sampling.compile_model = fresh = _fresh_compiles()
    out = []
    for v in variants:
        ledger, kwargs = materialize(v)
        try:
            # Without the cache the prior file is elicited afresh once: it is an input here,
            # and PreliZ gives the same fit every time.
            if use_cache or "base" not in base_priors:
                base_priors["base"] = estimator.load_priors(text=priors_text, name="priors.toml", cache=use_cache)
            priors = base_priors["base"]
            if v["sweep_point"] is not None:
                priors, _ = apply_overrides(
                    priors, sweep.points[v["sweep_point"]], file=SWEEP, where=f"point {v['sweep_point']}"
                )
            if v["price_shift"]:
                mu = priors.parameters["price_152mm_usd"].params["mu"]
                priors = priors.with_params({"price_152mm_usd": {"mu": mu + v["price_shift"]}})
            claims = estimator.load_claims(text=ledger, name="variant.csv")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = estimator.fit(claims, priors, cache=use_cache, **kwargs)
            if not use_cache and fresh.calls == 0:
                # Else every variant would compile afresh: right, but hours long.
                raise RuntimeError("the fresh compiles were never used: patch compile_model where fit reads it")
            out.append(
                {"status": "fitted", "digest": _digest(result), "families": int(result.posterior.sizes["family"])}
            )
        except InputError as exc:
            out.append({"status": "InputError", "message": str(exc)})
        except FitError as exc:
            out.append({"status": "FitError", "message": f"{exc.stage}: {type(exc.cause).__name__}"})
    return out


if __name__ == "__main__":
    variants_path, out_path = sys.argv[1], sys.argv[2]
    use_cache = "--no-cache" not in sys.argv[3:]
    with open(variants_path, encoding="utf-8") as f:
        variants = json.load(f)
    results = run(variants, use_cache)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
