"""Every notebook is on the documentation's gallery, whose build runs it top to bottom.

The notebooks are executed by ``make docs`` (MyST-NB, ``ESTIMATOR_DRAWS=60``, the same tiny draws
this module once ran them with in a kernel of its own), which ``make test`` runs before pytest.
That build fails on the first cell that raises (``nb_execution_raise_on_error`` with ``-W``:
checked with a deliberately broken cell, which stopped the build with exit status 2 naming the
notebook and the cell) and on a notebook page without a figure (``docs/_ext/gallery_figures.py``),
the two things the executing test here checked. Running every notebook a second time under
pytest cost a couple of minutes and tested nothing more, so what is left here is what keeps the
build covering every notebook.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
GALLERY_INDEX = ROOT / "docs" / "gallery" / "index.md"


def test_there_are_notebooks_to_run():
    assert {p.stem for p in NOTEBOOKS} >= {"analysis", "add_a_claim"}


def test_every_notebook_is_in_the_gallery_the_docs_build_executes():
    toctree = re.search(r"```\{toctree\}\n(.*?)```", GALLERY_INDEX.read_text(encoding="utf-8"), re.S)
    assert toctree, "the gallery page has no toctree"
    listed = {line.strip() for line in toctree.group(1).splitlines() if line.strip() and not line.startswith(":")}
    assert {p.stem for p in NOTEBOOKS} <= listed


def test_the_docs_build_fails_on_a_cell_error_and_runs_every_notebook():
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert "nb_execution_raise_on_error = True" in conf
    assert '"gallery_figures"' in conf
    # "force" (the default here) executes every notebook at every build, never from a stored copy.
    assert 'nb_execution_mode = os.environ.get("ESTIMATOR_DOCS_EXECUTE", "force")' in conf
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "sphinx-build -W" in makefile
