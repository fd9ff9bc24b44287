"""Sphinx configuration of the estimator documentation (make docs).

The gallery's notebooks are the percent-format ``.py`` files in ``notebooks/`` (copied into
``gallery/`` at each build; git ignores the copies), read by jupytext and executed by MyST-NB at build time with few draws
(``ESTIMATOR_DRAWS``, 60 unless set): the build shows that
they run, not numbers to report. Any cell error fails the build, and so does a gallery page
without a figure (``_ext/gallery_figures.py``); ``make test`` relies on both, as pytest no
longer runs the notebooks itself.
"""

import os
import shutil
import sys
from pathlib import Path

from ipykernel.kernelspec import write_kernel_spec

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
NOTEBOOKS = DOCS.parent / "notebooks"

# Sphinx reads sources under docs/ only; a copy is rewritten only when its notebook changed.
for _nb in NOTEBOOKS.glob("*.py"):
    _copy = DOCS / "gallery" / _nb.name
    if not _copy.is_file() or _copy.read_bytes() != _nb.read_bytes():
        shutil.copyfile(_nb, _copy)

# The gallery runs on this interpreter: a kernel spec of its own, so a "python3" kernel found
# elsewhere on the machine cannot run the notebooks without this environment's packages. The
# notebooks name the kernel "estimator" (make notebook-kernel registers that name for Jupyter).
_kernels = DOCS / "_build" / "jupyter"
shutil.rmtree(_kernels, ignore_errors=True)
write_kernel_spec(path=_kernels / "kernels" / "estimator")
os.environ["JUPYTER_PATH"] = os.pathsep.join([str(_kernels), *filter(None, [os.environ.get("JUPYTER_PATH")])])
os.environ.setdefault("ESTIMATOR_DRAWS", "60")
# Figures reach the page through the kernel's inline backend; Agg set by a caller would stop them.
os.environ.pop("MPLBACKEND", None)

import estimator  # noqa: E402

project = "estimator"
author = "estimator contributors"
copyright = "the estimator contributors; MIT licence"
release = version = estimator.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "results_tables",
    "layers",
    "field_tables",
    "api_modules",
    "gallery_figures",
]
exclude_patterns = ["_build", "_ext", "conf.py", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = os.environ.get("ESTIMATOR_DOCS_EXECUTE", "force")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()

html_theme = "pydata_sphinx_theme"
html_title = "estimator"
html_static_path = ["_static"]
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
    "icon_links": [],
    "pygments_light_style": "default",
    "pygments_dark_style": "github-dark",
}
html_context = {"default_mode": "light"}
# The section navigation is empty on pages without sub-pages: shown for the gallery only.
html_sidebars = {"*": [], "gallery/*": ["sidebar-nav-bs"]}
