"""The two lock files and the Makefile targets that install them.

``requirements.lock`` pins the runtime install (``pip install .``), which is all
``make fit`` installs; ``requirements-test.lock`` pins ``.[test]`` on top of it.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME, TEST = ROOT / "requirements.lock", ROOT / "requirements-test.lock"
# Test, notebook and cluster tools: none of them belongs in the runtime install.
TEST_ONLY = {"pytest", "hypothesis", "ipykernel", "nbclient", "ruff", "dask", "distributed"}


def _pins(path: Path) -> dict[str, str]:
    """Canonical package name -> exact version of every ``name==version`` line (comments skipped)."""
    pins = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and not any(c in version for c in " ;<>=!~"), (
            f"{path.name}:{number}: not an exact pin: {line}"
        )
        key = canonicalize_name(name)
        assert key not in pins, f"{path.name}:{number}: {name} pinned twice"
        pins[key] = version
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_runtime_lock_has_no_test_notebook_or_cluster_tools():
    runtime = _pins(RUNTIME)
    found = sorted(n for n in runtime if n in TEST_ONLY or n.startswith("jupyter"))
    assert not found, f"requirements.lock pins test-only packages: {found}"


def test_every_runtime_pin_is_in_the_test_lock_at_the_same_version():
    runtime, test = _pins(RUNTIME), _pins(TEST)
    missing = sorted(n for n in runtime if n not in test)
    differ = {n: (v, test[n]) for n, v in runtime.items() if n in test and test[n] != v}
    assert not missing and not differ, (
        f"missing from the test lock: {missing}; other versions (runtime, test): {differ}"
    )
    assert TEST_ONLY <= set(test)


def _requirements(specs, extra=None):
    reqs = [Requirement(s) for s in specs]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": extra or ""})]


def test_every_declared_dependency_is_pinned_within_its_range():
    project = _project()
    runtime, test = _pins(RUNTIME), _pins(TEST)
    checks = [(r, runtime, RUNTIME.name) for r in _requirements(project["dependencies"])]
    checks += [
        (r, test, TEST.name)
        for r in _requirements(project["optional-dependencies"]["test"])
        if canonicalize_name(r.name) != "estimator"
    ]
    for extra in ("notebooks", "dask"):
        checks += [(r, test, TEST.name) for r in _requirements(project["optional-dependencies"][extra])]
    for req, pins, name in checks:
        key = canonicalize_name(req.name)
        assert key in pins, f"{req} is declared in pyproject.toml but not pinned in {name}"
        assert req.specifier.contains(pins[key], prereleases=True), (
            f"{name} pins {req.name}=={pins[key]}, outside {req}"
        )
        # An extra asked of a dependency (a name like pkg[extra]) needs its packages pinned too.
        for extra in req.extras:
            for sub in _requirements(metadata.requires(req.name) or [], extra):
                if sub.marker is not None:
                    assert canonicalize_name(sub.name) in pins, f"{req} needs {sub.name}, not pinned in {name}"


def test_ruff_is_pinned_to_the_version_the_tree_is_formatted_with():
    test_extra = _requirements(_project()["optional-dependencies"]["test"])
    ruff = next(r for r in test_extra if r.name == "ruff")
    assert str(ruff.specifier) == f"=={_pins(TEST)['ruff']}"


def _dry_run(target: str, tmp_path: Path) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_make_fit_installs_the_runtime_lock_only(tmp_path):
    lines = _dry_run("fit", tmp_path)
    assert any("-r requirements.lock" in line for line in lines)
    assert not any("requirements-test.lock" in line for line in lines)
    assert any("--no-deps -e ." in line for line in lines)


def test_make_test_adds_the_test_lock_and_lints_before_pytest(tmp_path):
    lines = _dry_run("test", tmp_path)
    index = {
        key: next(i for i, line in enumerate(lines) if key in line)
        for key in ("-r requirements-test.lock", "ruff format --check .", "ruff check .", "-m pytest")
    }
    assert index["-r requirements-test.lock"] < index["ruff format --check ."] < index["-m pytest"]
    assert index["ruff check ."] < index["-m pytest"]
