r"""A fit at an as-of date past the claims, from the model of the claims' own months.

Under AR(1) rate dynamics (:mod:`estimator.model`) a month after the last one
any claim reaches is observed by nothing: its innovation :math:`z_m \sim
N(0, 1)` enters no likelihood term, and the sampler's level coordinate
(:class:`estimator.coordinates.LevelCoordinate`) changes the coordinates NUTS
moves in, not the model. With :math:`M` the months the claims reach and
:math:`M'` the months to the as-of date, the posterior of the model at that
date therefore factorises exactly:

.. math::

    p(\theta, z_{1..M}, z_{M+1..M'} \mid y)
      = p(\theta, z_{1..M} \mid y) \prod_{m=M+1}^{M'} N(z_m \mid 0, 1).

So a fit at a later as-of date samples the model of the claims' months (the
graph of the default fit: compiled once, cached, its data swapped) and then
draws the later innovations, independently and exactly, from
:math:`N(0, 1)` with the fit's seed (:func:`extend_posterior`). Every
deterministic of the model at the as-of date (monthly rates, cumulative
curves, headline totals at that date, the claims' moments) and each free
parameter's log-prior term are evaluated at those draws by that model itself,
through PyTensor's Python linker (nothing compiled), so no formula is written
twice and a new as-of date compiles nothing.

Under a random walk the walk is centred on its mean over every modelled month,
so a later month moves the earlier ones and the factorisation does not hold: a
fit there samples the model at its as-of date, as before (:func:`extends`).
"""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import xarray as xr

from estimator import names as N
from estimator.cache import remember
from estimator.model import RANDOM_WALK
from estimator.scoring import batched_function, unconstrained_model

__all__ = ["EXTRAPOLATION_DRAWN", "extends", "extend_posterior", "extend_draws", "FORECAST_STREAM"]

# The innovations of the months past the claims are drawn from the fit's seed and this
# stream, so they are independent of the sampler's own stream and fixed by the seed.
FORECAST_STREAM = 0x46435354

# The manifest's "extrapolation" of a fit whose months past the claims were drawn here.
EXTRAPOLATION_DRAWN = "drawn after sampling"

# PyTensor's Python linker: nothing compiled for a month count (see the module docstring).
_MODE = "FAST_COMPILE"


def extends(dynamics: str) -> bool:
    """Whether a fit past the claims with ``dynamics`` samples the claims' months only and draws the rest after."""
    return dynamics != RANDOM_WALK


def extend_posterior(tree: xr.DataTree, claims, priors, as_of, dynamics: str, restatements: str, seed: int):
    """``tree`` (sampled on the claims' months) with its month-dependent groups at ``as_of``.

    The ``posterior`` group gets each monthly innovation continued by
    standard-normal draws to the months of the model at ``as_of`` (module
    docstring) and every deterministic it stores from that model; the
    ``log_prior`` group every term, and the ``constant_data`` group every data
    array, from that model. The other groups (claims' log likelihoods and
    predictions, sampler statistics) depend on the claims' months only and are kept.
    """
    ext = _extension(claims, priors, as_of, dynamics, restatements)
    groups = {name: tree[name].to_dataset() for name in tree.children}
    log_prior = groups.get("log_prior")
    groups["posterior"], terms = ext.extend(groups["posterior"], np.random.default_rng([seed, FORECAST_STREAM]))
    if log_prior is not None:
        groups["log_prior"] = _dataset({n: terms[n] for n in log_prior.data_vars}, ext.coords, log_prior.attrs)
    if "constant_data" in groups:
        kept = groups["constant_data"]
        # A data array PyMC gave no dims keeps the ones the sampled run's group gave it.
        data = {
            v.name: xr.Variable(ext.model.named_vars_to_dims.get(v.name) or kept[v.name].dims, v.get_value())
            for v in ext.model.data_vars
            if v.name in kept.data_vars
        }
        groups["constant_data"] = _dataset(data, ext.coords, kept.attrs)
    return xr.DataTree.from_dict(groups)


def extend_draws(ds: xr.Dataset, claims, priors, as_of, dynamics: str, restatements: str, seed: int) -> xr.Dataset:
    """Draws ``ds`` of the model of the claims' months (the prior group, say) as draws of the model at ``as_of``.

    As :func:`extend_posterior` does for a posterior: valid for any draws of
    that model, since the months past the claims are independent standard
    normal innovations under the prior as under the posterior.
    """
    ext = _extension(claims, priors, as_of, dynamics, restatements)
    return ext.extend(ds, np.random.default_rng([seed, FORECAST_STREAM]))[0]


class _Extension:
    """The model at an as-of date and its deterministics and log-prior terms as one batched function."""

    def __init__(self, claims, priors, as_of, dynamics: str, restatements: str):
        self.model = model = unconstrained_model(claims, priors, as_of, None, dynamics, restatements)
        self.outputs = [v.name for v in model.deterministics]
        self.terms = [rv.name for rv in model.free_RVs]
        graphs = [*model.deterministics, *(pm.logp(rv, rv) for rv in model.free_RVs)]
        self.fn, self.inputs = batched_function(model, graphs, mode=_MODE)
        self.months = len(model.coords[N.MONTH])
        self.coords = {dim: np.asarray(list(values)) for dim, values in model.coords.items()}

    def extend(self, ds: xr.Dataset, rng) -> tuple[xr.Dataset, dict]:
        """``ds`` with its free parameters extended and its deterministics recomputed; and every log-prior term."""
        chains, draws = ds.sizes["chain"], ds.sizes["draw"]
        model = self.model
        values = {}
        for rv in model.free_RVs:
            x = np.asarray(ds[rv.name].values, dtype=float)
            dims = model.named_vars_to_dims.get(rv.name) or ()
            if N.MONTH in dims:
                axis = 2 + dims.index(N.MONTH)
                shape = list(x.shape)
                shape[axis] = self.months - x.shape[axis]
                x = np.concatenate([x, rng.standard_normal(shape)], axis=axis)
            values[rv.name] = x.reshape(chains * draws, *x.shape[2:])
        results = self.fn(*(values[name] for name in self.inputs))

        def variable(name, array):
            dims = model.named_vars_to_dims.get(name) or ()
            array = np.asarray(array).reshape(chains, draws, *np.shape(array)[1:])
            # A log-prior term of a vector parameter summed to one number keeps no dims.
            return xr.Variable(("chain", "draw", *(dims if array.ndim - 2 == len(dims) else ())), array)

        out = {rv.name: variable(rv.name, values[rv.name]) for rv in model.free_RVs if rv.name in ds.data_vars}
        det = dict(zip(self.outputs, results[: len(self.outputs)]))
        out.update({name: variable(name, det[name]) for name in self.outputs if name in ds.data_vars})
        missing = set(ds.data_vars) - set(out)
        if missing:
            raise ValueError(f"the model at the as-of date has no variables {sorted(missing)}")
        terms = {name: variable(name, t) for name, t in zip(self.terms, results[len(self.outputs) :])}
        coords = {"chain": ds["chain"].values, "draw": ds["draw"].values, **self.coords}
        return _dataset(out, coords, ds.attrs), terms


# Extensions by model (a few; each holds a function PyTensor built): a fit and its prior
# draws at one as-of date share one.
_EXTENSIONS: dict[str, _Extension] = {}
_KEEP = 4


def _extension(claims, priors, as_of, dynamics: str, restatements: str) -> _Extension:
    key = json.dumps(
        [
            claims.to_csv(),
            priors.text,
            priors.fitted_params(),
            str(as_of),
            dynamics,
            restatements,
        ],
        sort_keys=True,
        default=str,
    )
    ext = _EXTENSIONS.get(key)
    if ext is None:
        ext = remember(_EXTENSIONS, key, _Extension(claims, priors, as_of, dynamics, restatements), _KEEP)
    return ext


def _dataset(variables: dict, coords: dict, attrs) -> xr.Dataset:
    """A dataset of ``variables`` with the coordinates of the dims they use."""
    used = {d for v in variables.values() for d in v.dims}
    return xr.Dataset(variables, coords={d: c for d, c in coords.items() if d in used}, attrs=attrs)
