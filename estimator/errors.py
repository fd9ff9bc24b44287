"""Input errors that name the file, the row and the field, all at once.

Loaders collect every problem they find before raising, so an analyst fixing a
ledger sees the whole list in one go rather than one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "InputError", "SamplingWarning", "did_you_mean"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    ``row`` is a human locator: ``"line 4 (id us-nsc-2023-10-13)"`` for a CSV
    row, ``"[parameters.fill_152mm]"`` for a TOML table, ``"header"`` for a
    missing column.
    """

    file: str
    row: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.row}: field '{self.field}': {self.message}"


class InputError(ValueError):
    """Raised with every problem found in one input (or several inputs)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class SamplingWarning(UserWarning):
    """A sampler diagnostic missed its threshold: the posterior may not be trustworthy yet."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when ``value`` is close to a choice."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_toml_tables(text: str, name: str, allowed: tuple[str, ...]) -> tuple[dict, list[Problem]]:
    """Parse TOML text; raise on a syntax error, return (document, problems with unknown tables)."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(name, "file", "-", f"not valid TOML: {exc}")]) from None
    problems = [Problem(name, f"[{key}]", "-", "unknown table" + did_you_mean(key, allowed)) for key in doc if key not in allowed]
    return doc, problems
