"""Input errors that name the file, the row and the field, all at once.

Loaders collect every problem they find before raising, so an analyst fixing a
ledger sees the whole list in one go rather than one error per run.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "InputError", "FitError", "CacheWarning", "SamplingWarning", "did_you_mean"]


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


class CacheWarning(UserWarning):
    """The cache directory cannot be used: the run goes on without the cache (same results, slower)."""


class SamplingWarning(UserWarning):
    """A sampler diagnostic missed its threshold: the posterior may not be trustworthy yet."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when ``value`` is close to a choice."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_toml_tables(text: str, name: str, allowed: tuple[str, ...]) -> tuple[dict, list[Problem]]:
    """Parse TOML text; raise on a syntax error, return (document, problems with unknown tables)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(name, "file", "-", f"not valid TOML: {exc}")]) from None
    problems = [
        Problem(name, f"[{key}]", "-", "unknown table" + did_you_mean(key, allowed))
        for key in doc
        if key not in allowed
    ]
    return doc, problems


class FitError(RuntimeError):
    """A fit failed for a reason other than its input: compiling or sampling the model.

    Its message says what failed, the run's input hash, and whether the
    compiled model came from the cache (``cache=False``, ``--no-cache``,
    bypasses it); the original exception is chained (``__cause__``).
    """

    def __init__(self, stage: str, cause: BaseException, *, input_hash: str | None = None, cache: bool | None = None):
        self.stage, self.cause, self.input_hash, self.cache = stage, cause, input_hash, cache
        parts = [f"{stage} failed: {type(cause).__name__}: {_first_line(cause)}"]
        if input_hash is not None:
            parts.append(f"input hash {input_hash}")
        if cache is not None:
            parts.append(
                "the compiled model cache was used (estimator cache info; --no-cache or cache=False bypasses it)"
                if cache
                else "the cache was not used"
            )
        super().__init__("; ".join(parts))

    def with_context(self, *, input_hash: str, cache: bool) -> FitError:
        """The same failure with the run's input hash and cache use added."""
        return FitError(self.stage, self.cause, input_hash=input_hash, cache=cache)


def _first_line(exc: BaseException) -> str:
    """An exception's message up to its first line break (a sampler's message may run to a whole backtrace)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"
