"""Every notebook runs top to bottom, with tiny draws, in a kernel of this environment."""

import sys
from pathlib import Path

import jupytext
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.py"))
# Enough draws for every table and figure to have something to show; far too few to report.
TEST_DRAWS = "60"
KERNEL = "estimator-test"
CELL_TIMEOUT = 600


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernel spec that launches this interpreter, so the notebooks import this checkout.

    A spec of its own, in a folder of its own: a "python3" kernel found elsewhere on the
    machine could run another Python without this environment's packages.
    """
    folder = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(path=folder / KERNEL)
    return KernelSpecManager(kernel_dirs=[str(folder)])


def test_there_are_notebooks_to_run():
    assert {p.stem for p in NOTEBOOKS} >= {"analysis", "add_a_claim"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, kernel_specs, monkeypatch):
    assert Path(sys.executable).exists()
    monkeypatch.setenv("ESTIMATOR_DRAWS", TEST_DRAWS)
    # Agg would stop figures reaching the notebook; the kernel chooses its inline backend itself.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = jupytext.read(path)
    km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, "the notebook drew no figure"
