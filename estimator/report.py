"""A run as a Markdown report: headline, figures, claims, priors, diagnostics, manifest.

:func:`report_markdown` returns the text and writes nothing; ``estimator
report`` writes it next to the figures it links to. Numbers are the same as
the command-line summary: medians and equal-tailed 90% intervals
(:mod:`estimator.summaries`), headline figures rounded to the digits their
Monte Carlo standard error supports.
"""

from __future__ import annotations

from collections.abc import Mapping

from estimator import claims as C
from estimator import names as N
from estimator.formatting import fmt_number, vintage_label
from estimator.stats import SURPRISE_P
from estimator.summaries import claim_check_table, headline_table, prob_shells_above, round_to_mcse, scope_table

__all__ = ["report_markdown", "FIGURE_CAPTIONS"]

FIGURE_CAPTIONS = {
    "containers_over_time": (
        "Cumulative containers over time: the modelled total and the count as each family that "
        "reports containers would give it, with every claim at the end of the period it counts."
    ),
    "delivered_152mm": "152mm shells and all artillery rounds delivered by the as-of date: prior against posterior.",
    "value": "Implied value of deliveries and its parts, on the valuation basis of the prior file.",
    "loads_and_mix": "152mm shells per container (with the weight limit) and the cargo mix: prior against posterior.",
    "claim_check": "Each claim against what the fitted model predicts its source would say.",
    "family_bias": "Each source family's multiplicative bias: which scope counts more.",
}


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _links(url: str) -> str:
    parts = [u.strip() for u in str(url).split(";") if u.strip()]
    return " ; ".join(f"<{u}>" if u.startswith("http") else _cell(u) for u in parts)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def report_markdown(result, figure_files: Mapping[str, str] | None = None) -> str:
    """The run's report as Markdown text.

    Parameters
    ----------
    result : FitResult
        A fitted or loaded run.
    figure_files : mapping, optional
        Figure name (:data:`estimator.figures.FIGURES`) -> path relative to
        the report, in the order to show them. ``None``: no figures section.

    Returns
    -------
    str
        Headline table, containers by scope, figures, claims (wording, date,
        link, and how the model sees each), priors with rationale,
        diagnostics and the run manifest (seed, versions, input hash).
    """
    m = result.manifest
    out = [
        f"# Estimator report: posterior {vintage_label(m)}",
        "",
        f"Run `{m.get('input_hash')}`: {len(result.claims)} claims, {m.get('chains')} chains × {m.get('draws')} draws, seed {m.get('seed')}. "
        f"Valuation basis: {result.priors.valuation_basis}.",
        "",
        "## Headline (median and 90% interval)",
        "",
    ]
    head = headline_table(result)
    out += _table(
        ["quantity", "median", "5%", "95%"],
        [
            [r["label"].strip(), *(fmt_number(round_to_mcse(r[c], r[f"mcse_{c}"]), "words", money=q in N.MONEY_QUANTITIES) for c in ("median", "q05", "q95"))]
            for q, r in head.iterrows()
        ],
    )
    out += ["", f"P(152mm shells delivered > {fmt_number(N.SHELLS_THRESHOLD, 'words')}) = {prob_shells_above(result):.2f}", ""]
    out += ["## Containers as each source family counts them", "", "Total × the family's multiplicative bias.", ""]
    out += _table(
        ["family", "median", "5%", "95%", "bias (median)"],
        [[r["label"], *(fmt_number(r[c], "words") for c in ("median", "q05", "q95")), f"{r['bias_median']:.2f}"] for _, r in scope_table(result).iterrows()],
    )
    if figure_files:
        out += ["", "## Figures", ""]
        for name, path in figure_files.items():
            caption = FIGURE_CAPTIONS.get(name, name)
            out += [f"![{caption}]({path})", "", f"*{caption}*", ""]

    checks = claim_check_table(result)
    out += [
        "",
        "## Claims",
        "",
        "Each claim as said, and how the fitted model sees it: the 90% predictive interval of "
        "what that source would say, and p as `estimator score` gives it (for a bound, the probability of an estimate "
        "beyond it; for a range, inside it; for a point, the two-sided tail probability, after the percentile at which "
        f"its figure falls). A claim with p < {SURPRISE_P:g} is marked surprising. A claim that repeats an earlier row's estimate names "
        "that row (restates); how it entered the fit is the manifest's `restatements`.",
        "",
    ]
    rows = []
    for cid, c in result.claims.iterrows():
        k = checks.loc[cid]
        check = (f"percentile {100 * k['pit_low']:.0f}, " if k["low"] == k["high"] else "") + f"p = {k['p_figure']:.2f}"
        check += " (surprising)" if k["surprising"] else ""
        per = " per container" if c["kind"] == C.CAPACITY else ""
        rows.append(
            [
                f"`{cid}`" + (f" (restates `{c['restates']}`)" if c.get("restates") else ""),
                f"{c['date_said']}",
                c["who"],
                f"{c['quantity']} ({c['kind']}, {c['qualifier']})",
                f"“{c['wording']}”",
                f"{fmt_number(k['pred_q05'], 'words')} – {fmt_number(k['pred_q95'], 'words')}{per}",
                check,
                _links(c["url"]),
            ]
        )
    out += _table(["id", "date said", "who", "quantity", "wording", "predicted (90%)", "check", "source"], rows)

    out += ["", "## Priors", "", f"From `{result.priors.source}`; start of shipments {result.priors.start_date}.", ""]
    pt = result.priors.table()
    out += _table(
        ["parameter", "prior", "unit", "rationale", "citation"],
        [[f"`{name}`", r["prior"], r["unit"], r["rationale"], r["citation"]] for name, r in pt.iterrows()],
    )

    d = result.diagnostics
    out += ["", "## Diagnostics", ""]
    out += _table(["check", "value", "threshold", "worst"], [list(row) for row in d.checks()])
    out += ["", "All diagnostics pass." if d.ok else "**The sampler missed a threshold; do not trust these numbers yet:**", ""]
    out += [f"- {p}" for p in d.problems()]

    out += ["", "## Run manifest", ""]
    settings = [
        "as_of",
        "known_by",
        "months_extrapolated",
        "dynamics",
        "restatements",
        "seed",
        "sampler",
        "chains",
        "draws",
        "tune",
        "target_accept",
        "input_hash",
        "claims_source",
        "priors_source",
        "sampling_seconds",
    ]
    rows = [[k, f"`{m[k]}`"] for k in settings if k in m]
    rows.append(["prior_overrides", f"`{m.get('prior_overrides') or {}}`"])
    rows += [[f"version: {pkg}", f"`{v}`"] for pkg, v in m.get("versions", {}).items()]
    out += _table(["field", "value"], rows)
    return "\n".join(out) + "\n"
