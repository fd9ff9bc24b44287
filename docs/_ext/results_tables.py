"""``benchmark-results`` and ``results-table``: render a benchmark's own output file (``benchmarks/results/NAME.json``).

Each file holds what one benchmark printed, as blocks of sentences and tables, with when and on
what it ran (``benchmarks/resultfile.py`` writes them). The directive turns them into MyST text
and parses it in place, so a rerun of ``make bench`` changes the page with no hand editing. A
missing file is a build error naming the command that writes it.
"""

import csv
import json
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def results_markdown(doc: dict) -> str:
    """One results file as MyST text: where it comes from, then its blocks in order."""
    m = doc["machine"]
    lines = [
        f"*From `{doc['command']}`, {doc['measured']}, estimator {doc['estimator']}, Python {m['python']} on {m['cpus']} CPUs ({m['platform']}).*",
        "",
    ]
    for block in doc["blocks"]:
        if "text" in block:
            lines += [block["text"], ""]
        else:
            lines.append("| " + " | ".join(_cell(c) for c in block["columns"]) + " |")
            lines.append("|" + "|".join("---" for _ in block["columns"]) + "|")
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block["rows"]]
            lines.append("")
    return "\n".join(lines)


class BenchmarkResults(SphinxDirective):
    """Render ``benchmarks/results/NAME.json``: its provenance, then its sentences and tables."""

    required_arguments = 1  # the benchmark's name: benchmarks/results/NAME.json

    def run(self):
        """Read the results file and return its nodes."""
        path = RESULTS / f"{self.arguments[0]}.json"
        self.env.note_dependency(str(path))
        if not path.is_file():
            raise self.error(
                f"{path.name} not found in benchmarks/results: run `python benchmarks/{self.arguments[0]}.py` (make bench) first"
            )
        container = nodes.container(classes=["benchmark-results"])
        container += self.parse_text_to_nodes(results_markdown(json.loads(path.read_text(encoding="utf-8"))))
        return [container]


def _column_spec(spec: str) -> list[tuple[str, str, str]]:
    """``key=Header:fmt, ...`` -> [(key, header, format)]; the format (Python's mini-language) is optional."""
    out = []
    for part in spec.split(";"):
        key, _, rest = part.strip().partition("=")
        header, _, fmt = rest.partition("::")
        out.append((key.strip(), header.strip() or key.strip(), fmt.strip()))
    return out


def _records(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc if isinstance(doc, list) else [doc]


def _value(raw, fmt: str) -> str:
    if not fmt or raw in (None, ""):
        return "" if raw is None else str(raw)
    try:
        return format(float(raw), fmt)
    except ValueError:
        return str(raw)


class ResultsTable(SphinxDirective):
    """``results-table FILE [FILE ...]``: chosen columns of CSV rows or JSON records, one table.

    ``:columns: key=Header::fmt; key2=Header 2::.3f`` names the fields, their headers and
    formats; ``:only: key=a,b`` keeps the records whose ``key`` is one of those, in that order;
    ``:transpose:`` puts one field on each row and one record in each column (for a few wide
    records).
    The files are paths relative to the repository root; a JSON file is one record (a summary)
    or a list of them.
    """

    required_arguments = 1
    optional_arguments = 10
    option_spec = {"columns": str, "only": str, "transpose": lambda arg: True}

    def run(self):
        """Read the files and return the table's nodes."""
        root = RESULTS.parents[1]
        cols = _column_spec(self.options["columns"])
        table: list[list[str]] = []
        for name in self.arguments:
            path = root / name
            self.env.note_dependency(str(path))
            if not path.is_file():
                raise self.error(f"{name} not found")
            records = _records(path)
            if "only" in self.options:
                key, _, wanted = self.options["only"].partition("=")
                by_key = {r.get(key.strip()): r for r in records}
                keep = [w.strip() for w in wanted.split(",")]
                if unknown := [w for w in keep if w not in by_key]:
                    raise self.error(f"{name}: no record with {key.strip()} = {', '.join(unknown)}")
                records = [by_key[w] for w in keep]
            for rec in records:
                missing = [k for k, _, _ in cols if k not in rec]
                if missing:
                    raise self.error(f"{name}: no field {', '.join(missing)}")
                table.append([_value(rec[k], f) for k, _, f in cols])
        header = [h for _, h, _ in cols]
        if "transpose" in self.options:
            values = ["value"] if len(table) == 1 else [f"record {i}" for i in range(1, len(table) + 1)]
            header, table = ["field", *values], [[h, *(row[i] for row in table)] for i, h in enumerate(header)]
        lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table]
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app):
    """Register the directives."""
    app.add_directive("benchmark-results", BenchmarkResults)
    app.add_directive("results-table", ResultsTable)
    return {"parallel_read_safe": True, "version": "1"}
