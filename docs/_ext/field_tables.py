"""Column-aligned field tables in docstrings, rendered as definition lists.

Some module docstrings list fields as an aligned plain-text table (````name``  meaning``, with
indented continuation lines), which reads well in a terminal but is not reStructuredText. This
turns each such block (three or more fields) into a definition list before autodoc renders it,
and escapes a bare star in the line that introduces it ("required ones marked *"), so the
docstring is shown, not reported as broken markup.
"""

import re

_FIELD = re.compile(r"^(``[A-Za-z_]+``(?:\\\*)?)\s+(\S.*)$")


def field_tables(app, what, name, obj, options, lines: list[str]) -> None:
    """Rewrite ``lines`` in place: each aligned field table becomes a definition list."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        fields: list[tuple[str, list[str]]] = []
        while j < len(lines) and (m := _FIELD.match(lines[j])):
            text = [m.group(2)]
            j += 1
            while j < len(lines) and lines[j].startswith(" ") and lines[j].strip():
                text.append(lines[j].strip())
                j += 1
            fields.append((m.group(1), text))
        if len(fields) >= 3:
            # The table's lead-in says which fields are marked with a star: a bare star there is text.
            k = len(out) - 1
            while k >= 0 and not out[k].strip():
                k -= 1
            if k >= 0:
                out[k] = re.sub(r"(?<![\\*\w])\*(?![\w*])", r"\\*", out[k])
            if out and out[-1].strip():
                out.append("")
            for term, text in fields:
                out += [term, *("   " + t for t in text)]
            out.append("")
            i = j
        else:
            out.append(lines[i])
            i += 1
    lines[:] = out


def setup(app):
    """Connect the handler to autodoc."""
    app.connect("autodoc-process-docstring", field_tables)
    return {"parallel_read_safe": True, "version": "1"}
