"""The HTML report of a run: self-contained, every claim linked, figures inline with alt text."""

import re
from html.parser import HTMLParser

import pytest

from estimator.cli import main
from estimator.figures import standard_figures
from estimator.report import FIGURE_CAPTIONS, report_html, report_markdown, write_report
from estimator.summaries import claim_check_table, headline_table


class _Page(HTMLParser):
    """Every start tag with its attributes, in document order, and the text inside each claim row."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.row_links: dict[str, list[str]] = {}
        self.row_text: dict[str, str] = {}
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "data-claim" in a:
            self._row = a["data-claim"]
            self.row_links[self._row], self.row_text[self._row] = [], ""
        if tag == "a" and self._row:
            self.row_links[self._row].append(a.get("href"))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._row:
            self.row_text[self._row] += data


@pytest.fixture(scope="module")
def page(small_run):
    html = report_html(small_run, standard_figures(small_run))
    parser = _Page()
    parser.feed(html)
    return html, parser


def test_html_report_is_one_file_with_nothing_to_fetch(page):
    html, p = page
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    for tag, a in p.tags:
        assert tag not in ("img", "link", "script", "iframe", "object"), f"<{tag}> would load a resource"
        assert "src" not in a, f"<{tag} src=...> would load a resource"
        if tag != "a":
            assert not str(a.get("href", "")).startswith(("http", "//")), f"<{tag}> fetches {a['href']}"
    # Inside SVGs only fragment references (#id), never a file or an address.
    assert not re.search(r'(?:xlink:)?href="(?!#)[^"]*"', "".join(re.findall(r"<svg.*?</svg>", html, re.S)))


def test_every_figure_is_inline_svg_with_alt_text_and_ids_unique(page, small_run):
    html, p = page
    svgs = [a for tag, a in p.tags if tag == "svg"]
    assert len(svgs) == len(FIGURE_CAPTIONS)
    for a in svgs:
        assert a.get("role") == "img"
        title = a["aria-labelledby"]
        caption = re.search(rf'<title id="{re.escape(title)}">([^<]+)</title>', html).group(1)
        assert caption.replace("&#x27;", "'") in FIGURE_CAPTIONS.values()
        assert "width" not in a and "viewbox" in a, "the figure must scale with its viewBox"
    ids = [a["id"] for _, a in p.tags if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids across the inline figures"


def test_every_claim_row_carries_its_links_and_its_surprise_p(page, small_run):
    _, p = page
    checks = claim_check_table(small_run)
    assert set(p.row_links) == set(small_run.claims.index)
    for cid, row in small_run.claims.iterrows():
        urls = [u.strip() for u in row["url"].split(";") if u.strip()]
        assert p.row_links[cid] == [u for u in urls if u.startswith("http")]
        for u in urls:  # a source with no address (a print article) is named in words
            assert u in p.row_text[cid]
        assert f"p = {checks.loc[cid, 'p_figure']:.2f}" in p.row_text[cid]
        assert ("surprising" in p.row_text[cid]) == bool(checks.loc[cid, "surprising"])


def test_headline_cells_hold_the_unrounded_summary(page, small_run):
    _, p = page
    values = {}
    row = None
    for tag, a in p.tags:
        if tag == "tr" and "data-quantity" in a:
            row = a["data-quantity"]
        if tag == "td" and "data-column" in a:
            values[(row, a["data-column"])] = float(a["data-value"])
    head = headline_table(small_run)
    assert values == {(q, c): float(head.loc[q, c]) for q in head.index for c in ("median", "q05", "q95")}


def test_html_report_names_the_run_its_dates_and_versions(page, small_run):
    html, _ = page
    m = small_run.manifest
    assert m["input_hash"] in html and str(m["seed"]) in html
    assert f'<time datetime="{m["as_of"]}">' in html
    for pkg, version in m["versions"].items():
        assert f"version: {pkg}" in html and str(version) in html
    # The tiny run misses thresholds: the page says so in words, not by colour alone.
    assert "missed a threshold" in html and 'role="alert"' in html


def test_html_tables_head_their_rows_and_columns(page):
    html, _ = page
    tables = re.findall(r"<table.*?</table>", html, re.S)
    assert len(tables) >= 6
    for t in tables:
        assert "<caption>" in t and '<th scope="col"' in t and '<th scope="row"' in t


def test_print_rules_keep_figures_whole_and_print_addresses(page):
    html, p = page
    print_css = html[html.index("@media print") :]
    assert "break-inside: avoid" in print_css and "table-header-group" in print_css
    # Each link's text is its address, so a printout carries every source.
    links = re.findall(r'<a href="([^"#][^"]*)">([^<]*)</a>', html)
    assert links and all(href == text for href, text in links)


def test_write_report_writes_either_format(small_run, tmp_path):
    html = write_report(small_run, tmp_path / "h", format="html")
    assert html.name == "report.html" and "<svg" not in html.read_text(encoding="utf-8")
    md = write_report(small_run, tmp_path / "m", format="md", figures={"value": "value.png"})
    assert md.read_text(encoding="utf-8") == report_markdown(small_run, {"value": "value.png"})
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        write_report(small_run, tmp_path, format="pdf")


def test_cli_report_format_html_writes_one_file_and_md_keeps_the_markdown(small_run_path, tmp_path):
    assert main(["report", str(small_run_path), "--out", str(tmp_path / "h"), "--format", "html"]) == 0
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["report.html"]
    assert main(["report", str(small_run_path), "--out", str(tmp_path / "m"), "--format", "md,svg", "--dpi", "40"]) == 0
    written = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert "report.md" in written and "value.svg" in written and "value.png" not in written
    assert main(["report", str(small_run_path), "--out", str(tmp_path / "x"), "--format", "docx"]) == 2
