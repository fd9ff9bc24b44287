"""Every gallery notebook draws at least one figure, or the build warns (an error under ``-W``).

MyST-NB fails the build on a cell that raises (``nb_execution_raise_on_error``); this adds the
other thing a notebook must do to be worth a page: show a figure. A notebook whose plotting cells
ran but drew nothing (a backend that keeps figures from the kernel's output, a plot call left
out) would otherwise build green.
"""

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)
GALLERY = "gallery/"


def check_figures(app, doctree, docname):
    """Warn when a gallery notebook's executed page holds no image output."""
    if not docname.startswith(GALLERY) or docname == GALLERY + "index":
        return
    if not any(True for _ in doctree.findall(nodes.image)):
        logger.warning("the notebook drew no figure", location=docname)


def setup(app):
    """Check each page as it is resolved."""
    app.connect("doctree-resolved", check_figures)
    return {"parallel_read_safe": True, "version": "1"}
