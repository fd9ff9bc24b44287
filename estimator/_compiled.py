"""A PyMC model compiled for nutpie once per graph, reused in this process and from disk.

nutpie samples a model through two C callbacks that numba compiles: the log
density with its gradient, and the *expansion* from the unconstrained point
to every stored variable. ``nutpie.compile_pymc_model`` rebuilds both in every
process (27-37 s for the default model on two cores): its callbacks read the
model's data through arrays frozen into the code, which numba refuses to cache.

:func:`compile_model` builds the same callbacks from the same PyTensor
functions, but reads every ``pm.Data`` value through the pointer table nutpie
already passes to each call, so the machine code depends on the graph alone
and numba's own cache can keep it (``cache=True``). The generated callback
source and numba's cache files live in one directory per key under
``<cache dir>/compiled/`` (:mod:`estimator.cache`), with a record of what the
PyTensor functions looked like (sizes, variable names and shapes, the order
of the data inputs). The key hashes

* the structure of the log density and of every stored variable
  (:func:`_graph_text`: every op with its properties, how they connect, the
  types) and the value of every constant in them;
* the layout (:func:`_layout`): the length of every dimension (source
  families, padded claims, months, ...) and the dtype and shape of every
  ``pm.Data`` (not its values: new data is what a reused model is for).
  The graph leaves these sizes symbolic, but nutpie records every stored
  variable's shape when it compiles, so they are part of what is compiled;
  the record stores the layout too and it is compared with the model's
  before an entry is used;
* the versions of Python, PyMC, PyTensor, numba, llvmlite, nutpie, NumPy and
  estimator, and the machine.

A hit loads the machine code in well under a second; a miss, an unreadable
record, one written under another key or for another layout, or numba files
that do not load, is compiled afresh (into a private staging folder renamed
into place in one step) and rewritten. An entry owned by another user or
writable by others is never loaded (:func:`estimator.cache.trusted`), and a
cache that cannot be written leaves the model compiled uncached.
Compiling happens in child processes (``python -m estimator._compiled``,
which rebuilds the model from the inputs :func:`estimator.model.build_model`
was given, see :func:`_compile_children`): two at once, one per callback, on a
machine with two cores or more, else one (``$ESTIMATOR_COMPILE_PROCESSES``
chooses), each callback into its own folder of the entry, and this process
always samples with the code loaded back from
numba's cache: code compiled here would be linked against PyTensor's
functions as compiled here, which differs from the cached code in the last
bit at some points, and a seed would then give different draws on the run
that compiled the model than on the runs after it.
Within a process the compiled model is also kept in memory by key, so a
second fit of the same graph with other data (another prior setting, one more
claim within the padded capacity, :mod:`estimator.model`) only swaps data.

The initial point of each chain is PyMC's (``support_point`` plus a uniform
jitter in the unconstrained space), compiled and evaluated the same way with
or without the cache, so a seed gives the same draws either way. Its function
is compiled once per graph and fed each model's data (:class:`InitialPoint`);
:func:`with_data` swaps data and the initial point's data together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pymc as pm
from pymc.model.fgraph import clone_model
from pytensor.graph.traversal import graph_inputs, io_toposort

from estimator._callbacks import PARTS, SOURCE, assemble, cfunc, data_values, model_shared, write_module
from estimator.cache import (
    cache_dir,
    canonical_versions,
    digest,
    private_dir,
    read_entry,
    remember,
    trusted,
    warn_unwritable,
    write_entry,
)
from estimator.model import ModelRecipe

__all__ = ["compile_model", "with_data", "graph_key", "LOG_LIKELIHOOD_PREFIX", "LOG_PRIOR_PREFIX", "clear_memory"]

log = logging.getLogger("estimator")

# Stored variables that are really the pointwise log-likelihood and log-prior terms
# (moved to their own groups after sampling, see estimator.sampling).
LOG_LIKELIHOOD_PREFIX = "__log_likelihood__"
LOG_PRIOR_PREFIX = "__log_prior__"
_RECORD = "record.json"
_MEMORY: dict[str, object] = {}
# Exit status of the compiling child when the model it rebuilt is not the caller's.
_GRAPH_DIFFERS = 3
# A fit and a sweep in one session use two graphs (the fit also stores log densities).
_MEMORY_SIZE = 4
# Staging folders (``.build-*``) left by a process killed while compiling are removed after this long.
_STALE_SECONDS = 6 * 3600
# How many child processes compile a model's two callbacks (1 or 2; see _compile_processes).
PROCESSES_VAR = "ESTIMATOR_COMPILE_PROCESSES"


class _CacheUnwritable(OSError):
    """The cache directory could not take a new entry: the model is compiled without it."""


def clear_memory() -> None:
    """Forget the compiled models kept in this process (the disk cache stays)."""
    _MEMORY.clear()


def _stored_vars(model, var_names, log_densities: bool):
    """The model (with log-density terms added as deterministics if asked) and the names to store."""
    if not log_densities:
        return model, var_names

    clone = clone_model(model)
    with clone:
        # Written in the random variables, as deterministics are: nutpie maps them to the
        # constrained values of the point (a log-prior term is the density there, no Jacobian).
        for rv in clone.observed_RVs:
            term = pm.logp(rv, clone.rvs_to_values[rv])
            pm.Deterministic(LOG_LIKELIHOOD_PREFIX + rv.name, term, dims=clone.named_vars_to_dims.get(rv.name))
        for rv in clone.free_RVs:
            term = pm.logp(rv, rv)
            dims = clone.named_vars_to_dims.get(rv.name) if term.ndim else None
            pm.Deterministic(LOG_PRIOR_PREFIX + rv.name, term, dims=dims)
    if var_names is not None:
        extra = [v.name for v in clone.deterministics if v.name.startswith((LOG_LIKELIHOOD_PREFIX, LOG_PRIOR_PREFIX))]
        var_names = [*var_names, *extra]
    return clone, var_names


def _op_text(op) -> str:
    """An op as text: its class and every property that defines it (``__props__``), else its ``str``."""
    cls = f"{type(op).__module__}.{type(op).__qualname__}"
    props = getattr(op, "__props__", None)
    if props:
        return cls + "(" + ", ".join(f"{p}={getattr(op, p)!r}" for p in props) + ")"
    return f"{cls}:{op}"


def _graph_text(outputs) -> str:
    """The structure of the graph of ``outputs`` as text, independent of intermediate variable names.

    One line per root input (kind, type, and its name or, for a constant,
    its value) and per node in topological order (op, input positions,
    output types). Intermediate names are left out: they play no part in
    the compiled code, and a printed graph (``pytensor.dprint``, the key's
    text before) was once seen to name a shared constant differently
    within one process after a gradient had been built.
    """
    ids, lines = {}, []
    inputs = list(graph_inputs(outputs))
    for var in inputs:
        ids[var] = len(ids)
        data = getattr(var, "data", None)
        label = var.name if data is None else np.ascontiguousarray(data).tobytes().hex()
        lines.append(f"input {type(var).__name__} {var.type} {label}")
    for node in io_toposort(inputs, outputs):
        for out in node.outputs:
            ids[out] = len(ids)
        lines.append(
            f"{_op_text(node.op)} ({','.join(str(ids[i]) for i in node.inputs)}) -> {', '.join(str(o.type) for o in node.outputs)}"
        )
    lines.append("outputs " + ",".join(str(ids[o]) for o in outputs))
    return "\n".join(lines)


def _length(value) -> int:
    """A dimension length's value: a shared variable's, or a constant's."""
    get = getattr(value, "get_value", None)
    return int(np.asarray(get(borrow=True) if get is not None else value.data))


def _layout(model) -> dict:
    """Every size the compiled code and nutpie's variable metadata depend on, as plain data.

    ``dims``: the length of every dimension (families, claims as padded,
    months, ...); ``data``: the dtype and shape of every ``pm.Data``. The
    graph itself leaves these symbolic, but nutpie records each stored
    variable's shape when the model is compiled, so a model with another
    family count must not be served the same compiled model.
    """
    dims = {str(name): _length(length) for name, length in model.dim_lengths.items()}
    data = {}
    for name, var in sorted(model_shared(model).items()):
        if name in dims:
            continue
        value = np.asarray(var.get_value(borrow=True))
        data[name] = [str(value.dtype), list(value.shape)]
    return {"dims": dict(sorted(dims.items())), "data": data}


def graph_key(model, var_names=None) -> str:
    """The cache key of ``model`` compiled to store ``var_names`` (see the module docstring).

    It hashes the versions, the graph's structure and constants
    (:func:`_graph_text`), the stored variables' names, dtypes and ranks, the
    transforms of the free variables, and the layout (:func:`_layout`: every
    dimension length and every ``pm.Data`` dtype and shape, not its values).
    """
    stored = [v for v in model.unobserved_value_vars if var_names is None or v.name in set(var_names)]
    outputs = [model.logp(), *stored]
    parts = ["compiled", canonical_versions(), _graph_text(outputs)]
    parts.append(json.dumps([[v.name, v.type.dtype, v.type.ndim] for v in stored]))
    parts.append(json.dumps({rv.name: type(model.rvs_to_transforms.get(rv)).__name__ for rv in model.free_RVs}))
    parts.append(json.dumps(_layout(model), sort_keys=True))
    return digest(*parts)


def compile_model(
    model, *, recipe: ModelRecipe | None = None, var_names=None, cache: bool = True, log_densities: bool = False
):
    """``model`` compiled for nutpie, its ``pm.Data`` swappable with ``with_data``.

    Parameters
    ----------
    model : pymc.Model
    recipe : ModelRecipe, optional
        How ``model`` was built (:class:`estimator.model.ModelRecipe`): the
        child process that compiles it rebuilds it from this. Without one the
        model is compiled in this process, uncached (see :func:`_build`).
    var_names : list of str, optional
        Variables to store per draw (default: every one).
    cache : bool
        Reuse a compiled model of the same graph from this process or the
        cache directory, and store a new one there. ``False`` compiles afresh
        and reads or writes nothing.
    log_densities : bool
        Also store each observed variable's pointwise log-likelihood and each
        free variable's log-prior density (named with
        :data:`LOG_LIKELIHOOD_PREFIX` and :data:`LOG_PRIOR_PREFIX`), so no
        separate function needs compiling to compute them after sampling.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Holding ``model``'s current data.
    """
    job = None if recipe is None else (recipe, var_names, log_densities)
    model, var_names = _stored_vars(model, var_names, log_densities)
    key = graph_key(model, var_names)
    if not cache:
        return _build(model, var_names, job, None, key)
    if key in _MEMORY:
        return _with_model_data(_MEMORY[key], model)
    entry = _entry_dir(key)
    compiled = _load_entry(model, entry, key)
    if compiled is None:
        try:
            compiled = _build(model, var_names, job, None if _untrusted(entry) else entry, key)
        except _CacheUnwritable as exc:
            warn_unwritable(entry, exc)
            compiled = _build(model, var_names, job, None, key)
    return remember(_MEMORY, key, compiled, _MEMORY_SIZE)


def _entry_dir(key: str) -> Path:
    return cache_dir() / "compiled" / key[:32]


def _read_record(entry: Path, key: str) -> dict | None:
    record = read_entry(entry / _RECORD, key)
    if record is None or not all((entry / part / SOURCE).is_file() for part in PARTS):
        return None
    return record


def _entry_files(entry: Path) -> list[Path]:
    """The entry folder and everything in it that is read or run on a load."""
    return [entry, *sorted(entry.rglob("*"))]


def _untrusted(entry: Path) -> bool:
    """An existing entry that is not this user's own or that others may write (:func:`estimator.cache.trusted`)."""
    return entry.exists() and not all(trusted(p) for p in _entry_files(entry))


def _load_entry(model, entry: Path, key: str):
    """The compiled model stored in ``entry`` for ``key`` and ``model``'s layout, or ``None`` to compile afresh.

    Whatever is wrong with an entry (unreadable, another key, another
    layout, numba's files missing or not loadable) means: compile afresh.
    It is said in the log (``-v``), and the entry is removed so the new one
    can take its place, unless it is not this user's own: such an entry is
    neither loaded nor touched.
    """
    if not entry.exists():
        return None
    if _untrusted(entry):
        log.warning(
            "compiled model cache entry %s is not this user's own or others may write it: not used (the model is compiled without the cache)",
            entry,
        )
        return None
    record = _read_record(entry, key)
    reason = None
    if record is None:
        reason = "its record is missing, unreadable or of another key"
    elif record.get("layout") != _layout(model):
        reason = f"it was compiled for another layout ({_layout_difference(record.get('layout'), _layout(model))})"
    else:
        try:
            return _load(model, record, entry)
        except Exception as exc:  # noqa: BLE001 - any failure to load means: compile afresh
            reason = f"it could not be loaded ({type(exc).__name__}: {exc})"
    log.info("compiled model cache entry %s not used: %s; compiling afresh", entry.name, reason)
    _discard(entry)
    return None


def _layout_difference(stored, wanted: dict) -> str:
    """The first sizes in which two layouts differ, as text."""
    if not isinstance(stored, dict):
        return "no layout recorded"
    diffs = []
    for part in ("dims", "data"):
        a, b = stored.get(part) or {}, wanted[part]
        diffs += [
            f"{part[:-1] if part == 'dims' else part} {name}: {a.get(name)} here {b.get(name)}"
            for name in sorted(set(a) | set(b))
            if a.get(name) != b.get(name)
        ]
    return "; ".join(diffs[:3]) or "same sizes"


def _discard(entry: Path) -> None:
    """Remove an entry: renamed out of the way first, so no other process loads it half-removed."""
    trash = entry.with_name(f".trash-{entry.name}-{os.getpid()}-{threading.get_ident()}")
    try:
        entry.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale(folder: Path) -> None:
    """Remove staging and trash folders that processes killed mid-way left behind long ago."""
    now = time.time()
    for path in folder.glob(".*"):
        try:
            if path.is_dir() and now - path.lstat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _with_model_data(compiled, model):
    """``compiled`` holding every ``pm.Data`` value and coordinate of ``model`` (matched by name).

    The coordinates matter as much as the data: a ledger with other claim ids
    (or the same months relabelled) must come back labelled as itself.
    """
    from nutpie.compile_pymc import _prepare_dims_and_coords  # noqa: PLC0415 - nutpie loads numba and matplotlib; only when sampling

    data = _shared_by_name(model, [var.name for var in compiled.shared_var_keys])
    swapped = compiled.with_data(**{var.name: var.get_value() for var in data})
    dims, coords = _prepare_dims_and_coords(model, compiled.shape_info, compiled.reparameterized_names)
    # The initial point is this model's: its support point depends on the prior settings,
    # which are data. The first model's data would start a refit elsewhere than a fresh
    # process fitting the same inputs starts, and a seed would give other draws.
    initial = compiled.initial_point_func.maker.bind(data_values(model))
    return dataclasses.replace(swapped, dims=dims, _coords=coords, initial_point_func=initial)


def with_data(compiled, **values):
    """``compiled.with_data(**values)``, starting its chains where a model built with these data starts them.

    nutpie's own ``with_data`` keeps the initial-point function, which reads
    the data the model was compiled with; the support point depends on the
    prior settings, so a sweep point would start elsewhere than a fresh fit
    of the same settings (and a seed give other draws).
    """
    fn = compiled.initial_point_func
    swapped = compiled.with_data(**values)
    return dataclasses.replace(swapped, initial_point_func=fn.maker.bind({**fn.values, **values}))


def _shared_by_name(model, names):
    data = model_shared(model)
    missing = [n for n in names if n not in data]
    if missing:
        raise KeyError(f"the compiled model reads data the model lacks: {', '.join(missing)}")
    return [data[n] for n in names]


def _build(model, var_names, job: tuple | None, entry: Path | None, key: str | None = None):
    """Compile in a child process; load the machine code here from numba's cache.

    The code is compiled into a private staging folder. With ``entry`` the
    folder is then renamed to ``entry`` in one step (the cache), so a
    process killed while compiling leaves only a staging folder that no run
    trusts, and of two processes compiling the same model the first to
    finish places its entry and the other loads it (the code is the same).
    Without ``entry`` the staging folder is removed afterwards. Either way
    this process samples with the machine code as numba's cache gives it
    back to a process that compiled nothing: the code every later run loads.
    Code compiled in this process would be linked against PyTensor's
    functions as compiled here and differs from it in the last bit at some
    points, so a seed would give other draws on the run that compiled the
    model than on the runs after it.

    The child rebuilds the model from ``job``, the model's
    :class:`~estimator.model.ModelRecipe` with the stored variables; a model
    given without a recipe is compiled in this process, uncached, and so is one whose
    rebuilt graph has another key than ``key`` (a module setting changed in
    this process after import, say), which the child checks before compiling.

    Raises :class:`_CacheUnwritable` when ``entry``'s folder cannot take the
    new entry (the caller then compiles without the cache).
    """
    key = key or "uncached"
    staging = _staging_dir(entry, key)
    try:
        if job is None:
            log.info(
                "model without a build recipe: compiled in this process (its draws may differ in the last bit from a cached run's)"
            )
            _compile_entry(model, var_names, staging, key)
        else:
            with tempfile.NamedTemporaryFile(dir=staging, prefix=".recipe-", suffix=".pkl", delete=False) as f:
                pickle.dump((job, str(staging), key), f)
            try:
                done = _compile_children(f.name)
            finally:
                os.unlink(f.name)
            if any(d.returncode == _GRAPH_DIFFERS for d in done):
                # The model rebuilt from its recipe is not this one (a module setting changed
                # in this process, say): its code must not be cached under this model's key.
                log.warning(
                    "the model rebuilt from its recipe has another graph than this one; compiling it in this process, uncached"
                )
                return _build(model, var_names, None, None, key)
            failed = [d for d in done if d.returncode != 0]
            if failed:
                stderr = "\n".join(f"({d.args[-1]}: exit status {d.returncode}) {d.stderr}" for d in failed)
                if entry is not None and _disk_full(stderr):
                    raise _CacheUnwritable(f"no space left to compile into {entry.parent}")
                raise RuntimeError(f"compiling the model for nutpie failed:\n{stderr[-4000:]}")
        record = _read_record(staging, key)
        if record is None:
            raise RuntimeError("compiling the model for nutpie wrote no usable record")
        if len({(staging / part / SOURCE).read_bytes() for part in PARTS}) != 1:
            # Each child built the PyTensor functions itself: their data tables must agree.
            raise RuntimeError("the callbacks were compiled for different layouts of the model's data")
        if entry is None:
            return _load(model, record, staging)
        _seal(staging)
        try:
            staging.rename(entry)
        except OSError:
            # Another process placed this entry first (or the folder cannot be renamed):
            # its code is this code, so load it if it loads, else ours from staging.
            with contextlib.suppress(Exception):
                placed = _read_record(entry, key)
                if placed is not None and not _untrusted(entry):
                    return _load(model, placed, entry)
            return _load(model, record, staging)
        return _load(model, record, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _compile_processes() -> int:
    """How many child processes compile the callbacks: ``$ESTIMATOR_COMPILE_PROCESSES`` (1 or 2), else one per usable core up to two.

    Two processes finish a compile in about the time of the longer callback
    on an idle machine with two cores, but each imports PyMC, rebuilds the
    model and has PyTensor build both functions (about 10 s of one core for
    the default model, 6 s of it PyTensor's rewriting), so where the cores
    are already busy (a test suite on every core, a sweep's workers) one
    process doing both callbacks in turn finishes sooner
    (``benchmarks/bench_compile.py``); the code it caches is the same
    (``tests/test_cache_differential.py`` and the benchmark compare the draws).
    """
    value = os.environ.get(PROCESSES_VAR, "").strip()
    if value:
        if value not in {"1", "2"}:
            raise ValueError(f"{PROCESSES_VAR} must be 1 or 2, not {value!r}")
        return int(value)
    return min(len(PARTS), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _compile_children(job_file: str) -> list[subprocess.CompletedProcess]:
    """Compile the two callbacks (:data:`~estimator._callbacks.PARTS`), in one child process each or both in one (:func:`_compile_processes`).

    numba compiles in one thread under a process-wide lock, so the log density
    with its gradient and the expansion, compiled one after the other in one
    process, keep one core busy for the sum of the two; in two processes they
    take about the longer of the two on a machine with two cores or more
    (``benchmarks/bench_cold.py``). Each child builds both PyTensor functions
    (the record of the entry needs both; that part is the cheaper one) and
    compiles its callbacks into their own folders of the entry.
    """
    t0 = time.perf_counter()
    groups = [(part,) for part in PARTS] if _compile_processes() > 1 else [PARTS]
    children = {
        ",".join(parts): subprocess.Popen(
            [sys.executable, "-m", "estimator._compiled", job_file, ",".join(parts)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for parts in groups
    }
    done = []
    try:
        for parts, child in children.items():
            stdout, stderr = child.communicate()
            done.append(subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr))
            log.info("compiled the callbacks %s in a child process: %.1f s", parts, time.perf_counter() - t0)
    finally:
        # Interrupted (Ctrl-C): no child goes on compiling into a staging folder about to be removed.
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
    return done


def _staging_dir(entry: Path | None, key: str) -> Path:
    """A new private folder to compile into: beside ``entry`` (same file system, so it can be renamed to it), else a scratch folder."""
    if entry is None:
        return Path(tempfile.mkdtemp(prefix="estimator-compile-"))
    try:
        private_dir(entry.parent)
        _remove_stale(entry.parent)
        return Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".build-{key[:8]}-"))
    except OSError as exc:
        raise _CacheUnwritable(str(exc)) from exc


def _disk_full(stderr: str) -> bool:
    return "No space left on device" in stderr or "Errno 28" in stderr


def _seal(folder: Path) -> None:
    """Make ``folder`` and everything in it writable by this user only (the umask may have let the group write)."""
    for path in _entry_files(folder):
        mode = path.lstat().st_mode
        path.chmod(mode & ~0o022)


def _compile_entry(model, var_names, directory: Path, key: str, parts=PARTS) -> None:
    """Compile ``model`` with PyTensor and numba; write the callbacks ``parts``, numba's cache of them and the record to ``directory``.

    Each callback of ``parts`` is compiled from its own copy of the source in
    ``directory/<part>/``; the record (the same whichever part is compiled)
    is written last, once every callback asked for is in numba's cache.
    """
    from nutpie.compile_pymc import _make_functions  # noqa: PLC0415 - nutpie loads numba and matplotlib; only when sampling

    n_dim, n_expanded, logp_fn, expand_fn, _, shape_info, reparameterized = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=lambda seed: None,
        var_names=var_names,
    )
    shared_vars = list(dict.fromkeys([*logp_fn.get_shared(), *expand_fn.get_shared()]))
    known = model_shared(model)
    unnamed = [v for v in shared_vars if known.get(v.name) is not v]
    if unnamed:
        raise ValueError(f"every shared input must be a named pm.Data or dimension length; not {unnamed}")
    names, slices, shapes = shape_info
    record = {
        "n_dim": int(n_dim),
        "n_expanded": int(n_expanded),
        "n_free": len(model.free_RVs),
        "names": list(names),
        "slices": [[int(s.start), int(s.stop)] for s in slices],
        "shapes": [list(map(int, s)) for s in shapes],
        "reparameterized": list(reparameterized),
        "data": [[v.name, v.type.ndim, str(np.asarray(v.get_value(borrow=True)).dtype)] for v in shared_vars],
        "logp_data": [v.name for v in logp_fn.get_shared()],
        "expand_data": [v.name for v in expand_fn.get_shared()],
        "layout": _layout(model),
    }
    for part in parts:
        module = write_module(directory / part, record, key)
        module.logp_inner = logp_fn.vm.jit_fn
        module.expand_inner = expand_fn.vm.jit_fn
        cfunc(module, part)
        if not any((directory / part).rglob("*.nbi")):
            raise RuntimeError(f"numba did not cache the compiled {part} callback in {directory / part}")
    if not write_entry(directory / _RECORD, key, record):
        raise OSError(f"could not write the compiled model's record in {directory}")


def _load(model, record: dict, entry: Path):
    """The compiled model of ``record`` from numba's cache in ``entry`` (raises if it is not there)."""
    modules = {part: write_module(entry / part, record, "cached") for part in PARTS}
    logp_cf, expand_cf = (cfunc(modules[part], part) for part in PARTS)
    if logp_cf._cache_hits != 1 or expand_cf._cache_hits != 1:
        raise RuntimeError("numba's cache did not hold the callbacks")
    module = modules[PARTS[0]]
    shared_vars = _shared_by_name(model, [name for name, _, _ in record["data"]])
    for var, (name, ndim, dtype) in zip(shared_vars, record["data"]):
        value = np.asarray(var.get_value(borrow=True))
        if value.ndim != ndim or str(value.dtype) != dtype:
            raise RuntimeError(
                f"data {name} is {value.dtype} of rank {value.ndim}, the compiled model reads {dtype} of rank {ndim}"
            )
    return assemble(model, module, logp_cf, expand_cf, record, shared_vars)


if __name__ == "__main__":
    # A child process of _build: rebuild the model from its recipe and compile the callbacks named (comma-separated).
    with open(sys.argv[1], "rb") as f:
        (_recipe, _names, _log_densities), _directory, _key = pickle.load(f)
    _model, _names = _stored_vars(_recipe.build(), _names, _log_densities)
    if graph_key(_model, _names) != _key:
        print("the model rebuilt from its recipe has another graph key than the caller's", file=sys.stderr)
        sys.exit(_GRAPH_DIFFERS)
    _compile_entry(_model, _names, Path(_directory), _key, parts=tuple(sys.argv[2].split(",")))
