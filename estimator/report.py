"""A run as a report: headline, figures, claims, priors, diagnostics, manifest.

Two renderings of the same content. :func:`report_markdown` is Markdown text
linking figure files beside it; :func:`report_html` is one self-contained HTML
page, the figures inline as SVG, that opens offline and prints. Neither writes
anything; :func:`write_report` writes either into a folder. Numbers are the
command-line summary's: medians and equal-tailed 90% intervals
(:mod:`estimator.summaries`), headline figures rounded to the digits their
Monte Carlo standard error supports.

This layer draws no figure (the figures are a layer beside it): the caller
passes them, as file links for Markdown and as matplotlib figures for HTML.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from html import escape
from pathlib import Path

from estimator import claims as C
from estimator import names as N
from estimator.formatting import fmt_number, vintage_label
from estimator.stats import SURPRISE_P
from estimator.summaries import claim_check_table, headline_table, prob_shells_above, round_to_mcse, scope_table

__all__ = [
    "report_markdown",
    "report_html",
    "write_report",
    "svg_inline",
    "FIGURE_CAPTIONS",
    "REPORT_FORMATS",
    "REPORT_FILES",
]

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
REPORT_FORMATS = ("md", "html")
REPORT_FILES = {"md": "report.md", "html": "report.html"}
# The run settings the manifest section lists, in this order, when the run has them.
MANIFEST_FIELDS = (
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
)
CLAIM_CHECK_TEXT = (
    "Each claim as said, and how the fitted model sees it: the 90% predictive interval of "
    "what that source would say, and p as `estimator score` gives it (for a bound, the probability of an estimate "
    "beyond it; for a range, inside it; for a point, the two-sided tail probability, after the percentile at which "
    f"its figure falls). A claim with p < {SURPRISE_P:g} is marked surprising. A claim that repeats an earlier row's estimate names "
    "that row (restates); how it entered the fit is the manifest's `restatements`."
)


# ---------------------------------------------------------------- content shared by both renderings


def _urls(url: str) -> list[str]:
    """The links of a ledger's ``url`` cell (several are separated by ';')."""
    return [u.strip() for u in str(url).split(";") if u.strip()]


def _headline_rows(result) -> list[dict]:
    """Each headline quantity: label, raw median and interval, and each as text rounded to its MCSE."""
    rows = []
    for q, r in headline_table(result).iterrows():
        text = {
            c: fmt_number(round_to_mcse(r[c], r[f"mcse_{c}"]), "words", money=q in N.MONEY_QUANTITIES)
            for c in ("median", "q05", "q95")
        }
        rows.append({"quantity": q, "label": r["label"].strip(), "value": {c: float(r[c]) for c in text}, "text": text})
    return rows


def _scope_rows(result) -> list[list[str]]:
    return [
        [r["label"], *(fmt_number(r[c], "words") for c in ("median", "q05", "q95")), f"{r['bias_median']:.2f}"]
        for _, r in scope_table(result).iterrows()
    ]


def _claim_rows(result) -> list[dict]:
    """Each claim with its predictive interval and its check, as text."""
    checks = claim_check_table(result)
    rows = []
    for cid, c in result.claims.iterrows():
        k = checks.loc[cid]
        per = " per container" if c["kind"] == C.CAPACITY else ""
        rows.append(
            {
                "id": cid,
                "restates": str(c.get("restates") or ""),
                "date_said": str(c["date_said"]),
                "who": str(c["who"]),
                "quantity": f"{c['quantity']} ({c['kind']}, {c['qualifier']})",
                "wording": str(c["wording"]),
                "predicted": f"{fmt_number(k['pred_q05'], 'words')} – {fmt_number(k['pred_q95'], 'words')}{per}",
                "percentile": f"percentile {100 * k['pit_low']:.0f}" if k["low"] == k["high"] else "",
                "p": float(k["p_figure"]),
                "surprising": bool(k["surprising"]),
                "urls": _urls(c["url"]),
            }
        )
    return rows


def _check_text(row: dict) -> str:
    return ", ".join(t for t in (row["percentile"], f"p = {row['p']:.2f}") if t) + (
        " (surprising)" if row["surprising"] else ""
    )


def _manifest_rows(m: Mapping) -> list[list[str]]:
    rows = [[k, str(m[k])] for k in MANIFEST_FIELDS if k in m]
    rows.append(["prior_overrides", str(m.get("prior_overrides") or {})])
    rows += [[f"version: {pkg}", str(v)] for pkg, v in m.get("versions", {}).items()]
    return rows


def _identity(result) -> str:
    m = result.manifest
    return (
        f"Run {m.get('input_hash')}: {len(result.claims)} claims, {m.get('chains')} chains × {m.get('draws')} draws, seed {m.get('seed')}. "
        f"Valuation basis: {result.priors.valuation_basis}."
    )


# ---------------------------------------------------------------- Markdown


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _links(url: str) -> str:
    return " ; ".join(f"<{u}>" if u.startswith("http") else _cell(u) for u in _urls(url))


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
    id_text = _identity(result).replace(f"Run {m.get('input_hash')}", f"Run `{m.get('input_hash')}`", 1)
    out = [
        f"# Estimator report: posterior {vintage_label(m)}",
        "",
        id_text,
        "",
        "## Headline (median and 90% interval)",
        "",
    ]
    out += _table(
        ["quantity", "median", "5%", "95%"], [[r["label"], *r["text"].values()] for r in _headline_rows(result)]
    )
    out += [
        "",
        f"P(152mm shells delivered > {fmt_number(N.SHELLS_THRESHOLD, 'words')}) = {prob_shells_above(result):.2f}",
        "",
    ]
    out += ["## Containers as each source family counts them", "", "Total × the family's multiplicative bias.", ""]
    out += _table(["family", "median", "5%", "95%", "bias (median)"], _scope_rows(result))
    if figure_files:
        out += ["", "## Figures", ""]
        for name, path in figure_files.items():
            caption = FIGURE_CAPTIONS.get(name, name)
            out += [f"![{caption}]({path})", "", f"*{caption}*", ""]

    out += ["", "## Claims", "", CLAIM_CHECK_TEXT, ""]
    rows = [
        [
            f"`{r['id']}`" + (f" (restates `{r['restates']}`)" if r["restates"] else ""),
            r["date_said"],
            r["who"],
            r["quantity"],
            f"“{r['wording']}”",
            r["predicted"],
            _check_text(r),
            _links(";".join(r["urls"])),
        ]
        for r in _claim_rows(result)
    ]
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
    out += [
        "",
        "All diagnostics pass." if d.ok else "**The sampler missed a threshold; do not trust these numbers yet:**",
        "",
    ]
    out += [f"- {p}" for p in d.problems()]

    out += ["", "## Run manifest", ""]
    out += _table(["field", "value"], [[k, f"`{v}`"] for k, v in _manifest_rows(m)])
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML

# Okabe-Ito blue for links and headings' rule, vermilion's dark shade for a warning: each with a
# text contrast of at least 4.5:1 on white, and every state they mark also said in words.
_CSS = """
:root { --ink: #1a1a1a; --muted: #4d4d4d; --rule: #c8c8c8; --link: #005a8c; --warn: #8a2a00; --warn-bg: #fff1e8; --ok: #1b5e20; }
html { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; line-height: 1.45; }
body { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; } h2 { font-size: 1.25rem; border-bottom: 2px solid var(--link); padding-bottom: .15rem; margin-top: 2rem; }
a { color: var(--link); } a:focus { outline: 3px solid #e69f00; outline-offset: 2px; }
.identity, .note { color: var(--muted); }
dl.dates { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .6rem 0; }
dl.dates dt { font-weight: 600; }
.status { padding: .5rem .8rem; border-left: 6px solid; margin: .8rem 0; }
.status.ok { border-color: var(--ok); } .status.missed { border-color: var(--warn); background: var(--warn-bg); }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; vertical-align: top; text-align: left; }
thead th { border-bottom: 2px solid var(--ink); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.claims { width: 100%; } table.claims td { font-size: .86rem; } table.claims td.wording { max-width: 22rem; }
td.source { overflow-wrap: anywhere; min-width: 10rem; }
tr.surprising td.check { color: var(--warn); font-weight: 700; }
figure { margin: 1.2rem 0 2rem; break-inside: avoid; page-break-inside: avoid; }
figure svg { width: 100%; height: auto; max-width: 60rem; display: block; }
figcaption { color: var(--muted); font-style: italic; margin-top: .3rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em; }
@media print {
  @page { size: A4; margin: 14mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, figure, .status { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; }
}
"""
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def svg_inline(fig, name: str, alt: str) -> str:
    """A matplotlib figure as an inline SVG element with alt text.

    Text is written as text (``svg.fonttype = "none"``), so it stays
    selectable and the file small; every ``id`` is prefixed with the
    figure's name, so several figures share one page without clashing; the
    root gets ``role="img"`` and a ``<title>`` (its accessible name) and the
    fixed width and height give way to the ``viewBox``, so the figure
    scales with the page.
    """
    import matplotlib  # noqa: PLC0415 - heavy, only to serialise a figure the caller drew

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.12, metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    prefix = f"{name}-"
    text = re.sub(r'\bid="([^"]+)"', lambda mt: f'id="{prefix}{mt.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda mt: f"url(#{prefix}{mt.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda mt: f'href="#{prefix}{mt.group(1)}"', text)
    title_id = f"{prefix}title"
    opening = _SVG_OPEN.search(text).group(0)
    new_open = (
        re.sub(r'\s(width|height)="[^"]*"', "", opening)[:-1]
        + f' role="img" aria-labelledby="{title_id}" focusable="false">'
    )
    return text.replace(opening, f'{new_open}\n<title id="{title_id}">{escape(alt)}</title>', 1).strip()


def _h_table(caption: str, header: list[str], rows: list[list[str]], *, num_from: int = 1, cls: str = "") -> str:
    """A table whose first column heads each row; columns from ``num_from`` on are numbers."""
    th = "".join(
        f'<th scope="col"{" class=num" if i >= num_from else ""}>{escape(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td{' class=num' if i + 1 >= num_from else ''}>{escape(c)}</td>" for i, c in enumerate(row[1:]))
        + "</tr>"
        for row in rows
    )
    return f"<table{f' class={cls}' if cls else ''}><caption>{escape(caption)}</caption><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _headline_html(result) -> str:
    cols = ("median", "q05", "q95")
    body = "".join(
        f'<tr data-quantity="{escape(r["quantity"])}"><th scope="row">{escape(r["label"])}</th>'
        + "".join(
            f'<td class="num" data-column="{c}" data-value="{r["value"][c]!r}">{escape(r["text"][c])}</td>'
            for c in cols
        )
        + "</tr>"
        for r in _headline_rows(result)
    )
    head = '<tr><th scope="col">quantity</th><th scope="col" class="num">median</th><th scope="col" class="num">5%</th><th scope="col" class="num">95%</th></tr>'
    caption = "Each headline quantity: median and equal-tailed 90% interval, rounded to the digits its Monte Carlo error supports"
    return f'<table class="headline"><caption>{caption}</caption><thead>{head}</thead><tbody>{body}</tbody></table>'


def _claims_html(result) -> str:
    rows = []
    for r in _claim_rows(result):
        links = "<br>".join(
            f'<a href="{escape(u)}">{escape(u)}</a>' if u.startswith("http") else escape(u) for u in r["urls"]
        )
        check = escape(_check_text(r)).replace(" (surprising)", " <strong>(⚠ surprising)</strong>")
        rows.append(
            f'<tr data-claim="{escape(r["id"])}" data-p="{r["p"]!r}"{" class=surprising" if r["surprising"] else ""}>'
            f'<th scope="row"><code>{escape(r["id"])}</code>{f" (restates <code>{escape(r['restates'])}</code>)" if r["restates"] else ""}</th><td><time datetime="{escape(r["date_said"])}">{escape(r["date_said"])}</time></td>'
            f"<td>{escape(r['who'])}</td><td>{escape(r['quantity'])}</td><td class=wording>“{escape(r['wording'])}”</td>"
            f"<td>{escape(r['predicted'])}</td><td class=check>{check}</td><td class=source>{links}</td></tr>"
        )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("id", "date said", "who", "quantity", "wording", "predicted (90%)", "check", "source")
    )
    return f'<table class="claims"><caption>Every claim in the ledger, and how the fitted model sees it</caption><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _status_html(d) -> str:
    if d.ok:
        return '<p class="status ok" role="status"><strong>✔ All sampler diagnostics pass.</strong></p>'
    items = "".join(f"<li>{escape(p)}</li>" for p in d.problems())
    return f'<div class="status missed" role="alert"><p><strong>⚠ The sampler missed a threshold: do not report these numbers yet.</strong></p><ul>{items}</ul></div>'


def _dates_html(result) -> str:
    m = result.manifest
    latest = str(max(result.claims["date_said"])) if len(result.claims) else "–"
    known = m.get("known_by")
    months = int(m.get("months_extrapolated") or 0)
    items = [
        ("As of", f'<time datetime="{escape(str(m.get("as_of")))}">{escape(str(m.get("as_of")))}</time>'),
        (
            "Vintage",
            f'claims known by <time datetime="{escape(str(known))}">{escape(str(known))}</time>'
            if known
            else "all claims in the ledger",
        ),
        ("Latest claim said", f'<time datetime="{escape(latest)}">{escape(latest)}</time>'),
        (
            "Forecast",
            f"{months} month{'s' if months != 1 else ''} past the latest fitted claim"
            if months
            else "none: the as-of date is within the claims",
        ),
    ]
    return '<dl class="dates">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


SECTIONS = (
    ("answer", "The answer"),
    ("scopes", "By source family"),
    ("figures", "Figures"),
    ("claims", "Claims"),
    ("priors", "Priors"),
    ("diagnostics", "Diagnostics"),
    ("manifest", "Run manifest"),
)


def report_html(result, figures: Mapping | None = None) -> str:
    """The run's report as one self-contained HTML page.

    Parameters
    ----------
    result : FitResult
        A fitted or loaded run.
    figures : mapping, optional
        Figure name -> matplotlib ``Figure`` (as
        :func:`estimator.figures.standard_figures` gives, or its
        ``(fig, ax)`` pairs), in the order to show them; each is inlined as
        SVG with its caption (:data:`FIGURE_CAPTIONS`) as alt text.
        ``None``: no figures section.

    Returns
    -------
    str
        An HTML5 document with no external resource: the vintage and as-of
        dates, the diagnostics' verdict, the headline table (each number
        with its unrounded value in ``data-value``), containers by scope,
        the figures, every claim with its source links and the model's
        surprise p (``data-p``), the priors, the diagnostics table and the
        run manifest (input hash, seed, package versions). Print rules
        keep rows and figures whole and repeat table headers on each page;
        each source link's text is its address, so a printout carries it.
    """
    m = result.manifest
    title = f"Estimator report: posterior {vintage_label(m)}"
    nav = "".join(
        f'<li><a href="#{sid}">{escape(name)}</a></li>' for sid, name in SECTIONS if figures or sid != "figures"
    )
    parts = [
        f"<header><h1>{escape(title)}</h1><p class=identity>{escape(_identity(result))}</p>{_dates_html(result)}{_status_html(result.diagnostics)}</header>",
        f'<nav aria-label="Sections of the report"><ul>{nav}</ul></nav><main>',
        '<section id="answer" aria-labelledby="answer-h"><h2 id="answer-h">The answer</h2>',
        _headline_html(result),
        f'<p>P(152mm shells delivered &gt; {escape(fmt_number(N.SHELLS_THRESHOLD, "words"))}) = <strong data-value="{prob_shells_above(result)!r}">{prob_shells_above(result):.2f}</strong></p></section>',
        '<section id="scopes" aria-labelledby="scopes-h"><h2 id="scopes-h">Containers as each source family counts them</h2>',
        _h_table(
            "Total containers × the family's multiplicative bias",
            ["family", "median", "5%", "95%", "bias (median)"],
            _scope_rows(result),
        ),
        "</section>",
    ]
    if figures:
        parts.append('<section id="figures" aria-labelledby="figures-h"><h2 id="figures-h">Figures</h2>')
        for name, fig in figures.items():
            fig = fig[0] if isinstance(fig, tuple) else fig
            caption = FIGURE_CAPTIONS.get(name, name)
            parts.append(
                f'<figure id="figure-{escape(name)}">{svg_inline(fig, name, caption)}<figcaption>{escape(caption)}</figcaption></figure>'
            )
        parts.append("</section>")
    claim_text = escape(CLAIM_CHECK_TEXT).replace("`estimator score`", "<code>estimator score</code>")
    parts += [
        '<section id="claims" aria-labelledby="claims-h"><h2 id="claims-h">Claims</h2>',
        f"<p>{claim_text}</p>",
        _claims_html(result),
        "</section>",
    ]
    pt = result.priors.table()
    parts += [
        '<section id="priors" aria-labelledby="priors-h"><h2 id="priors-h">Priors</h2>',
        f"<p>From <code>{escape(str(result.priors.source))}</code>; start of shipments {escape(str(result.priors.start_date))}.</p>",
        _h_table(
            "Each prior, as elicited, with its rationale",
            ["parameter", "prior", "unit", "rationale", "citation"],
            [[n, *r[["prior", "unit", "rationale", "citation"]]] for n, r in pt.iterrows()],
            num_from=99,
        ),
        "</section>",
        '<section id="diagnostics" aria-labelledby="diagnostics-h"><h2 id="diagnostics-h">Diagnostics</h2>',
        _h_table(
            "Sampler diagnostics against their thresholds",
            ["check", "value", "threshold", "worst variable"],
            [list(row) for row in result.diagnostics.checks()],
            num_from=99,
        ),
        _status_html(result.diagnostics),
        "</section>",
        '<section id="manifest" aria-labelledby="manifest-h"><h2 id="manifest-h">Run manifest</h2>',
        _h_table(
            "What produced these numbers: settings, input hash and package versions",
            ["field", "value"],
            _manifest_rows(m),
            num_from=99,
        ),
        "</section></main>",
    ]
    head = f'<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title><style>{_CSS}</style>'
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n<body>\n' + "\n".join(parts) + "\n</body>\n</html>\n"
    )


def write_report(result, out, format: str = "html", figures: Mapping | None = None) -> Path:
    """Write the report of ``result`` into folder ``out``; return the file.

    Parameters
    ----------
    result : FitResult
    out : path
        The folder (created if missing). The file is ``report.html`` or
        ``report.md`` (:data:`REPORT_FILES`).
    format : {"html", "md"}
    figures : mapping, optional
        For ``"html"``, name -> matplotlib figure, inlined
        (:func:`report_html`); for ``"md"``, name -> the figure file's path
        relative to ``out``, linked (:func:`report_markdown`).
    """
    if format not in REPORT_FORMATS:
        raise ValueError(f"unknown report format '{format}'; one of {', '.join(REPORT_FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILES[format]
    text = report_html(result, figures) if format == "html" else report_markdown(result, figures)
    path.write_text(text, encoding="utf-8")
    return path
