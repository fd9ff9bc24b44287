"""A run shown to a person: as HTML in Jupyter, as text in a terminal.

:func:`result_html` is what a notebook shows for a :class:`~estimator.FitResult`
(its ``_repr_html_``); :func:`result_text` is what ``estimator fit`` prints and
``print(result)`` shows, so a notebook and the command line read the same words. The numbers are those of the command-line summary and
the Markdown report: medians and equal-tailed 90% intervals
(:mod:`estimator.summaries`), diagnostics against the thresholds of
:mod:`estimator.sampling`. When a threshold is missed, a red box at the top
says so before any number is read.
"""

from __future__ import annotations

from html import escape

from estimator import names as N
from estimator.formatting import fmt_number, vintage_label
from estimator.summaries import headline_table, prob_shells_above, round_to_mcse, scope_table

__all__ = ["result_html", "result_text", "whatif_line"]

_WARNING_BOX = "border:2px solid #b00020;background:#fdecea;color:#5f0010;padding:6px 10px;margin:4px 0 8px 0"
_PASS_LINE = "color:#1b5e20;margin:4px 0 8px 0"


def whatif_line(manifest: dict) -> str:
    """How a what-if (:meth:`estimator.FitResult.update`) was answered, in words; empty for a plain fit.

    ``reweighted from run abc123 by PSIS (k-hat 0.12 ≤ 0.70, ESS 2,900)``, or
    ``refitted exactly (a what-if of run abc123): k-hat 1.30 > 0.70``.
    """
    source = manifest.get("from_run")
    if not source:
        return ""
    khat, threshold, ess = manifest.get("khat"), manifest.get("khat_threshold"), manifest.get("ess")
    if manifest.get("method") == "psis":
        return (
            f"Reweighted from run {source} by PSIS (k-hat {khat:.2f} ≤ {threshold:.2f}, "
            f"ESS {fmt_number(round(ess), 'compact')}), resampled to the run's draws"
        )
    return f"Refitted exactly (a what-if of run {source}): {manifest.get('refit_reason') or 'exact NUTS'}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _diagnostics_html(d) -> str:
    table = _table(["check", "value", "threshold", "worst variable"], [list(row) for row in d.checks()])
    if d.ok:
        return f'<p style="{_PASS_LINE}">&#10004; All sampler diagnostics pass.</p>' + table
    items = "".join(f"<li>{escape(p)}</li>" for p in d.problems())
    return (
        f'<div style="{_WARNING_BOX}"><strong>&#9888; The sampler missed a threshold: do not report these numbers yet.</strong><ul>{items}</ul></div>'
        + table
    )


def result_html(result) -> str:
    """HTML summary of a run: diagnostics, headline quantities and the run's identity.

    Parameters
    ----------
    result : FitResult
        A fitted or loaded run.

    Returns
    -------
    str
        An HTML fragment. A red box opens it when any diagnostic misses its
        threshold; then the diagnostics table, the headline table (median and
        90% interval), P(152mm shells > 2 million) and the run manifest line.
    """
    m = result.manifest
    head = headline_table(result)
    rows = [
        [
            r["label"].strip(),
            *(fmt_number(r[c], "words", money=q in N.MONEY_QUANTITIES) for c in ("median", "q05", "q95")),
        ]
        for q, r in head.iterrows()
    ]
    identity = f"{len(result.claims)} claims, {m.get('chains')} chains × {m.get('draws')} draws ({m.get('sampler')}), seed {m.get('seed')}, run {m.get('input_hash')}"
    return "".join(
        [
            '<div class="estimator-result">',
            f"<h4>estimator run: posterior {escape(vintage_label(m))}</h4>",
            f"<p>{escape(identity)}</p>",
            f"<p>{escape(whatif_line(m))}</p>" if whatif_line(m) else "",
            _diagnostics_html(result.diagnostics),
            "<p><strong>Headline quantities</strong> (median and 90% interval)</p>",
            _table(["quantity", "median", "5%", "95%"], rows),
            f"<p>P(152mm shells delivered &gt; {escape(fmt_number(N.SHELLS_THRESHOLD, 'words'))}) = {prob_shells_above(result):.2f}. "
            f"Valuation basis: {escape(result.priors.valuation_basis)}.</p>",
            "</div>",
        ]
    )


def _cells(r) -> str:
    """Median, 5% and 95% of a table row at their supported precision, right-aligned in 12-character columns."""
    return "".join(f"{fmt_number(_supported(r, c), 'table'):>12s}" for c in ("median", "q05", "q95"))


def _supported(row, column: str) -> float:
    """A table cell rounded to the digits its Monte Carlo error supports (``mcse_<column>``)."""
    return round_to_mcse(row[column], row.get(f"mcse_{column}", float("nan")))


def result_text(result, wall: float | None = None) -> str:
    """The plain-text summary of a run: what ``estimator fit`` prints and ``print(result)`` shows.

    Medians and interval ends are rounded to the precision their Monte Carlo
    standard error supports (:func:`estimator.summaries.round_to_mcse`).
    """
    head = headline_table(result)
    lines = [
        f"Posterior {vintage_label(result.manifest)} (median and 90% interval)",
        f"Valuation basis: {result.priors.valuation_basis}",
        "",
        f"{'':46s}{'median':>12s}{'5%':>12s}{'95%':>12s}",
    ]
    if whatif_line(result.manifest):
        lines[2:2] = [whatif_line(result.manifest)]
    for _, r in head.iterrows():
        lines.append(f"{r['label']:46s}{_cells(r)}")
    lines += ["", "Containers as each source family counts them (total x family bias):"]
    for _, r in scope_table(result).iterrows():
        lines.append(f"  {r['label']:44s}{_cells(r)}")
    p = prob_shells_above(result)
    lines += ["", f"P(152mm shells delivered > 2 million) = {p:.2f}"]
    d = result.diagnostics
    lines += [
        "",
        "Diagnostics: " + ", ".join(f"{check} {value} ({threshold})" for check, value, threshold, _ in d.checks()),
    ]
    if d.ok:
        lines.append("All diagnostics pass.")
    else:
        bar = "!" * 78
        lines += [bar, "WARNING: THE SAMPLER MISSED A THRESHOLD; do not trust these numbers yet:"]
        lines += [f"  - {p}" for p in d.problems()]
        lines += ["  Try more draws/tune, another seed, or check the claims and priors.", bar]
    m = result.manifest
    lines.append(
        f"Sampler {m.get('sampler')}, {m.get('dynamics')} rate dynamics, {m.get('chains')} chains x {m.get('draws')} draws (+{m.get('tune')} tune), seed {m.get('seed')}, "
        f"input hash {m.get('input_hash')}"
    )
    if wall is not None:
        lines.append(
            f"Wall time {wall:.1f} s (model build and sampling {m.get('sampling_seconds', float('nan')):.1f} s)"
        )
    return "\n".join(lines)
