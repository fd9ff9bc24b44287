"""``api-modules``: one autodoc section per public module, listed by the package itself.

The package names its public submodules in ``estimator._SUBMODULES`` (what ``estimator.X``
loads on first use); this directive documents each of them, plus the modules named in
``:also:``, less those in ``:skip:``, so a module added, renamed or split in the package
appears here at the next build without editing the page.
"""

import importlib

from sphinx.util.docutils import SphinxDirective


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


class ApiModules(SphinxDirective):
    """Document the package's public modules, one section each."""

    required_arguments = 1  # the package
    option_spec = {"also": str, "skip": str}

    def run(self):
        """Emit an autodoc section per module, in alphabetical order."""
        package = importlib.import_module(self.arguments[0])
        if not hasattr(package, "_SUBMODULES"):
            raise self.error(f"{package.__name__} lists no public submodules (_SUBMODULES)")
        skip = set(_names(self.options.get("skip", "")))
        names = sorted((set(package._SUBMODULES) | set(_names(self.options.get("also", "")))) - skip)
        text = []
        for name in names:
            module = f"{package.__name__}.{name}"
            text += [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", "```", ""]
        return self.parse_text_to_nodes("\n".join(text), allow_section_headings=True)


def setup(app):
    """Register the directive."""
    app.add_directive("api-modules", ApiModules)
    return {"parallel_read_safe": True, "version": "1"}
