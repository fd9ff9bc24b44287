"""The C callbacks of a compiled model: their generated source, numba's cache of them, and nutpie's model object around them.

Private to :mod:`estimator._compiled`, which decides when to compile and where
entries live; this module turns a compiled record into callbacks nutpie can
call (:func:`assemble`), loading the machine code from numba's cache beside
the generated source (:func:`cache_beside_source`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import types
import warnings
from pathlib import Path

import numpy as np
from pymc.initial_point import make_initial_point_fn
from pymc.model.fgraph import clone_model
from pytensor.compile.sharedvalue import SharedVariable

from estimator.files import write_text

__all__ = [
    "SOURCE",
    "assemble",
    "cache_beside_source",
    "callback_source",
    "cfunc",
    "PARTS",
    "data_values",
    "model_shared",
    "write_module",
]


SOURCE = "callbacks.py"
# The two callbacks, each compiled (by its own process) into its own folder of an entry, in this order.
PARTS = ("logp", "expand")

# numba's cache location is process-wide configuration: set and restored under this lock.
_NUMBA_CONFIG_LOCK = threading.Lock()


def callback_source(
    n_dim: int, n_expanded: int, logp_inputs: list[str], expand_inputs: list[str], data: list[tuple[str, int, str]]
) -> str:
    """Python source of the two C callbacks, reading data through nutpie's pointer table.

    ``data`` lists (name, rank, dtype) of every data input in table order;
    ``logp_inputs`` and ``expand_inputs`` name the inputs of each PyTensor
    function in its own order. nutpie passes ``user_data``: a record of, for
    each data input in order, the data pointer, then each size, then each
    shape (all 8-byte words).
    """
    index = {k: i for i, (k, _, _) in enumerate(data)}
    ndims = {k: ndim for k, ndim, _ in data}
    dtypes = {k: dtype for k, _, dtype in data}
    n = len(data)
    shape_at, offset = {}, 2 * n
    for k, ndim, _ in data:
        shape_at[k] = offset
        offset += ndim

    def arrays(inputs):
        lines = []
        for j, k in enumerate(inputs):
            ndim = ndims[k]
            i = index[k]
            shape = ", ".join(f"words[{shape_at[k] + d}]" for d in range(ndim))
            dtype = dtypes[k]
            lines.append(
                f"    a{j} = numba.carray(address_as_void_pointer(words[{i}]), words[{n + i}], np.{dtype}).reshape(({shape}{',' if ndim == 1 else ''}))"
            )
        # Python 3.12 compiles a call or tuple of more than 30 items through a list, which
        # numba cannot type: pass the arrays as one tuple joined from chunks of 16.
        chunks = [
            ", ".join(f"a{j}" for j in range(i, min(i + 16, len(inputs)))) + "," for i in range(0, len(inputs), 16)
        ]
        lines.append("    args = (x,)" + "".join(f" + ({c})" for c in chunks))
        return lines

    logp_lines = arrays(logp_inputs)
    expand_lines = arrays(expand_inputs)
    return "\n".join(
        [
            '"""C callbacks of one compiled model (generated; see estimator._compiled)."""',
            "import numba",
            "import numpy as np",
            "from nutpie.compile_pymc import address_as_void_pointer",
            "",
            f"N_DIM = {n_dim}",
            f"N_EXPANDED = {n_expanded}",
            f"N_WORDS = {offset}",
            "logp_inner = None",
            "expand_inner = None",
            "",
            "",
            "def logp(dim, x_, out_, logp_, user_data_):",
            "    if dim != N_DIM:",
            "        return -1",
            "    words = numba.carray(user_data_, (N_WORDS,), np.uint64)",
            "    x = numba.carray(x_, (N_DIM,))",
            *logp_lines,
            "    try:",
            "        out = numba.carray(out_, (N_DIM,))",
            "        lp = numba.carray(logp_, ())",
            "        value, grad = logp_inner(*args)",
            "        lp[()] = value",
            "        out[...] = grad",
            "        if not np.all(np.isfinite(out)):",
            "            return 3",
            "        if not np.isfinite(value):",
            "            return 4",
            "    except Exception:",
            "        return 1",
            "    return 0",
            "",
            "",
            "def expand(dim, expanded, x_, out_, user_data_):",
            "    if dim != N_DIM or expanded != N_EXPANDED:",
            "        return -1",
            "    words = numba.carray(user_data_, (N_WORDS,), np.uint64)",
            "    x = numba.carray(x_, (N_DIM,))",
            *expand_lines,
            "    try:",
            "        out = numba.carray(out_, (N_EXPANDED,))",
            "        (values,) = expand_inner(*args)",
            "        out[...] = values",
            "    except Exception:",
            "        return -2",
            "    return 0",
            "",
        ]
    )


def signatures():
    import numba  # noqa: PLC0415 - heavy; only when compiling or loading callbacks

    t = numba.types
    logp = t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    expand = t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    return logp, expand


def import_source(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def cache_beside_source():
    """Keep numba's cache files of the callbacks beside their source, in the entry, whatever ``NUMBA_CACHE_DIR`` says.

    With ``NUMBA_CACHE_DIR`` (or ``NUMBA_CACHE_LOCATOR_CLASSES``) set, numba
    would write them under that directory, out of the entry that records
    them: the entry could then not be checked, moved into place whole or
    cleared. The variables still apply to every other function numba caches.
    """
    import numba.core.config as config  # noqa: PLC0415 - heavy; only when compiling or loading callbacks

    with _NUMBA_CONFIG_LOCK:
        saved = config.CACHE_DIR, getattr(config, "CACHE_LOCATOR_CLASSES", "")
        config.CACHE_DIR, config.CACHE_LOCATOR_CLASSES = "", ""
        try:
            yield
        finally:
            config.CACHE_DIR, config.CACHE_LOCATOR_CLASSES = saved


def cfunc(module, part: str):
    """The C callback ``part`` (:data:`PARTS`) of ``module`` through numba's cache (compiled and stored on a miss)."""
    import numba  # noqa: PLC0415 - heavy; only when compiling or loading callbacks

    # PyTensor generates its numba functions in a module named "<dynamic>"; numba rebuilds the
    # environment of each cached function by importing its module by name (on a load, and on
    # a compile that finds the entry another process just wrote). Nopython code reads no
    # globals through that environment, so an empty module of that name serves.
    sys.modules.setdefault("<dynamic>", types.ModuleType("<dynamic>"))

    signature = dict(zip(PARTS, signatures()))[part]
    with warnings.catch_warnings(), cache_beside_source():
        warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=numba.NumbaWarning)
        return numba.cfunc(signature, cache=True)(getattr(module, part))


class InitialPoint:
    """nutpie's initial point for every model of one graph: PyMC's support point jittered in the unconstrained space, flattened.

    PyMC's function is compiled once, for a private clone of the first model
    (its own ``pm.Data``), and each model's data are written into the clone
    just before a call: the support point depends on the prior settings,
    which are data, and a refit of the same graph with other settings needs
    no new function (about 0.3 s each, README, Performance).
    """

    def __init__(self, model, names, shapes):

        private = clone_model(model)
        self._fn = make_initial_point_fn(model=private, jitter_rvs=set(private.free_RVs), return_transformed=True)
        self._shared = model_shared(private)
        self._names, self._shapes = names, shapes
        self._lock = threading.Lock()

    def bind(self, values: dict):
        """The initial-point function (seed -> flat array) at data ``values`` (by name; a model of this graph's, complete)."""
        from nutpie.compile_pymc import _rv_dict_to_flat_array_wrapper  # noqa: PLC0415 - nutpie loads numba and matplotlib; only when sampling

        # In the clone's own dtypes, as nutpie's with_data casts them (claim forms arrive as int64).
        values = {name: np.array(values[name], dtype=var.type.dtype, copy=True) for name, var in self._shared.items()}

        def point(seed):
            # One lock for every bound function: they share the clone's data.
            with self._lock:
                for name, value in values.items():
                    self._shared[name].set_value(value)
                return self._fn(seed)

        initial_point = _rv_dict_to_flat_array_wrapper(point, names=self._names, shapes=self._shapes)
        # What with_data needs to bind the same graph to other data (a new function per call).
        initial_point.maker, initial_point.values = self, values
        return initial_point


def assemble(model, module, logp_cf, expand_cf, record, shared_vars):
    """The compiled-model object of nutpie for loaded callbacks, holding ``model``'s data (no PyTensor functions: none were compiled here)."""
    from nutpie.compile_pymc import CompiledPyMCModel, _prepare_dims_and_coords, make_user_data  # noqa: PLC0415 - nutpie loads numba and matplotlib; only when sampling

    names = record["names"]
    shapes = [tuple(s) for s in record["shapes"]]
    slices = [slice(a, b) for a, b in record["slices"]]
    shape_info = (names, slices, shapes)
    keys = {var: f"d{i}" for i, var in enumerate(shared_vars)}
    shared_data = {}
    for var, key in keys.items():
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[key] = value
    user_data = make_user_data(keys, shared_data)
    if user_data.dtype.itemsize != 8 * module.N_WORDS:
        raise RuntimeError("nutpie's data table does not have the layout the callbacks read")
    n_dim = record["n_dim"]
    dims, coords = _prepare_dims_and_coords(model, shape_info, record["reparameterized"])
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(names, shapes)},
        compiled_logp_func=logp_cf,
        compiled_expand_func=expand_cf,
        initial_point_func=InitialPoint(model, names[: record["n_free"]], shapes[: record["n_free"]]).bind(
            data_values(model)
        ),
        shared_data=shared_data,
        shared_var_keys=keys,
        user_data=user_data,
        n_expanded=record["n_expanded"],
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        reparameterized_names=record["reparameterized"],
    )


def write_module(directory: Path, record: dict, key: str):
    """Write (once) and import the callbacks' source for ``record`` in ``directory``.

    Each callback is compiled from its own copy of the source (one folder per
    part of :data:`PARTS`): numba's cache of a function is tied to its source
    file's time stamp, so two processes compiling one callback each must not
    share (and rewrite) one file.
    """
    data = [(name, ndim, dtype) for name, ndim, dtype in record["data"]]
    source = callback_source(record["n_dim"], record["n_expanded"], record["logp_data"], record["expand_data"], data)
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / SOURCE
    # Rewriting an unchanged file would change its time stamp, which invalidates numba's cache.
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        write_text(path, source)
    return import_source(path, f"estimator_compiled_{key[:16]}_{directory.name}")


def model_shared(model) -> dict:
    """Every shared input a model's graph may read, by name: ``pm.Data`` and mutable dimension lengths."""
    out = {v.name: v for v in model.data_vars}
    out.update({v.name: v for v in model.dim_lengths.values() if isinstance(v, SharedVariable) and v.name})
    return out


def data_values(model) -> dict:
    return {name: var.get_value() for name, var in model_shared(model).items()}
