"""``package-layers``: the package's layers as the import-linter contract in pyproject.toml states them.

The contract is what ``make lint`` enforces (every module imports only from layers below its own;
modules sharing a layer with "|" import nothing from each other), so the architecture page renders
it rather than restating it: a layer added to the contract appears here at the next build.
"""

import tomllib
from pathlib import Path

from sphinx.util.docutils import SphinxDirective

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def layers_markdown(pyproject: dict) -> str:
    """The layers contract as a table, top to bottom, each module a link to its API entry."""
    contract = next(c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    root = pyproject["tool"]["importlinter"]["root_package"]
    lines = ["| layer (top to bottom) | modules |", "|---|---|"]
    for i, layer in enumerate(contract["layers"], start=1):
        names = [n.strip() for n in layer.split("|")]
        lines.append(f"| {i} | " + ", ".join(f"`{root}.{n}`" for n in names) + " |")
    return "\n".join(lines)


class PackageLayers(SphinxDirective):
    """Render the layers contract of pyproject.toml as a table."""

    def run(self):
        """Read pyproject.toml and return the table's nodes."""
        self.env.note_dependency(str(PYPROJECT))
        with PYPROJECT.open("rb") as f:
            return self.parse_text_to_nodes(layers_markdown(tomllib.load(f)))


def setup(app):
    """Register the directive."""
    app.add_directive("package-layers", PackageLayers)
    return {"parallel_read_safe": True, "version": "1"}
