"""The HTML report and the documentation's front page in a real browser (headless Chromium).

Playwright drives the system's Chromium (never a browser of its own), offline: any request
that leaves the machine is refused and counted as a failure. The accessibility check is
axe-core (shipped by axe-playwright-python) plus explicit checks on Chromium's own
accessibility tree. Every check is one function returning the problems it found, so the
same checks are shown to fail on a report with a figure removed, its alt text removed or a
claim's link removed.

``ESTIMATOR_REPORT_RUN`` names a saved run folder (``estimator fit --out``) to check instead
of the tiny fit made here; ``ESTIMATOR_SCREENSHOTS`` names the folder the screenshots go to
(``make screenshots`` sets both: the default run, into ``docs/_static``).
"""

import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

import estimator
from estimator.cli import main
from estimator.report import FIGURE_CAPTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium; .ci/run does)"
)

ROOT = Path(__file__).resolve().parents[1]
DOCS_INDEX = ROOT / "docs" / "_build" / "html" / "index.html"
# What a machine with no network needs: no background traffic, no first-run dialogs, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")
_SHOWN = re.compile(r"^\$?(?P<number>[\d,.]+)(?: (?P<word>million|billion))?$")
_WORDS = {None: 1.0, "million": 1e6, "billion": 1e9}


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, with a fresh profile; every page refuses requests off the machine."""
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT
        )
        yield context
        context.close()


class Visit:
    """A page opened in the browser, with its console errors and the requests that tried to leave."""

    def __init__(self, context, url: str):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(url, wait_until="load")

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def page_problems(visit: Visit) -> list[str]:
    """What any page must pass: no console error, nothing fetched, every image drawn, axe-core's serious rules, lang and heading order."""
    page = visit.page
    problems = [f"console error: {e}" for e in visit.errors] + [f"request off the machine: {u}" for u in visit.outside]
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('img, svg')]
             .filter(el => !(el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')))
             .filter(el => getComputedStyle(el).display !== 'none' && !el.closest('[hidden]'))
             .map(el => { const r = el.getBoundingClientRect();
                          return {tag: el.tagName.toLowerCase(), id: el.id || el.getAttribute('src') || el.outerHTML.slice(0, 60),
                                  w: r.width, h: r.height, loaded: el.tagName.toLowerCase() !== 'img' || (el.complete && el.naturalWidth > 0)}; })"""
    )
    for s in sizes:
        if not (s["w"] > 0 and s["h"] > 0 and s["loaded"]):
            problems.append(f"{s['tag']} not rendered ({s['w']:.0f} x {s['h']:.0f}, loaded {s['loaded']}): {s['id']}")
    if not page.evaluate("() => document.documentElement.lang"):
        problems.append("no lang attribute on <html>")
    levels = page.evaluate(
        "() => [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6, body > header h1')].map(h => +h.tagName[1])"
    )
    for before, after in zip(levels, levels[1:]):
        if after > before + 1:
            problems.append(f"heading level jumps from h{before} to h{after}")
    for v in Axe().run(visit.page).response["violations"]:
        if v["impact"] in SERIOUS:
            problems.append(
                f"axe-core {v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
            )
    return problems


def report_problems(visit: Visit, summary: dict, claims) -> list[str]:
    """What the report must show: every figure drawn and named, every claim linked, the summary's numbers."""
    page = visit.page
    problems = page_problems(visit)
    n_figures = page.locator("figure svg").count()
    if n_figures != len(FIGURE_CAPTIONS):
        problems.append(f"{n_figures} figures on the page, {len(FIGURE_CAPTIONS)} expected")
    # Chromium's own accessibility tree: each figure is an image with a name.
    tree = visit.page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    images = [n for n in tree if n.get("role", {}).get("value") in ("image", "img") and not n.get("ignored")]
    named = [n for n in images if n.get("name", {}).get("value", "").strip()]
    if len(named) != len(FIGURE_CAPTIONS) or len(named) != len(images):
        problems.append(
            f"accessibility tree: {len(images)} images, {len(named)} with a name, {len(FIGURE_CAPTIONS)} figures expected"
        )

    rows = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('tr[data-claim]')].map(tr =>
             [tr.dataset.claim, {links: [...tr.querySelectorAll('a[href]')].map(a => a.href), text: tr.innerText}]))"""
    )
    for cid, row in claims.iterrows():
        urls = [u.strip() for u in str(row["url"]).split(";") if u.strip()]
        if cid not in rows:
            problems.append(f"claim {cid}: no row")
            continue
        want = [u for u in urls if u.startswith("http")]
        # The browser normalises an address (a trailing slash on a bare host); compare without it.
        got = [h.rstrip("/") for h in rows[cid]["links"]]
        if got != [u.rstrip("/") for u in want] or not all(
            u in rows[cid]["text"] for u in urls if not u.startswith("http")
        ):
            problems.append(f"claim {cid}: links {rows[cid]['links']} on the page, {urls} in the ledger")

    cells = page.evaluate(
        """() => [...document.querySelectorAll('tr[data-quantity] td[data-column]')].map(td =>
             ({quantity: td.parentElement.dataset.quantity, column: td.dataset.column, value: td.dataset.value, shown: td.innerText.trim()}))"""
    )
    seen = set()
    for c in cells:
        ref = summary["headline"].get(c["quantity"], {})
        want = ref.get(c["column"])
        seen.add((c["quantity"], c["column"]))
        if want is None or float(c["value"]) != want:
            problems.append(f"{c['quantity']} {c['column']}: {c['value']} on the page, {want} in summary.json")
            continue
        m = _SHOWN.match(c["shown"])
        shown = float(m["number"].replace(",", "")) * _WORDS[m["word"]] if m else math.nan
        # Shown to 3 significant digits (error at most 0.5% of the value) after rounding to the
        # digits its Monte Carlo error supports (error at most that MCSE): the two bound the gap.
        tolerance = 0.005 * abs(want) + ref[f"mcse_{c['column']}"]
        if not abs(shown - want) <= tolerance:
            problems.append(
                f"{c['quantity']} {c['column']}: shown '{c['shown']}', summary.json {want:.6g} (tolerance {tolerance:.3g})"
            )
    missing = {(q, col) for q in summary["headline"] for col in ("median", "q05", "q95")} - seen
    problems += [f"{q} {col}: not on the page" for q, col in sorted(missing)]
    p_shown = page.locator("strong[data-value]").first.get_attribute("data-value")
    if float(p_shown) != summary["p_shells_152mm_above_2_million"]:
        problems.append(
            f"P(shells > 2 million): {p_shown} on the page, {summary['p_shells_152mm_above_2_million']} in summary.json"
        )
    return problems


def _screenshot(page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ESTIMATOR_SCREENSHOTS") or tmp_path)
    path = folder / name
    page.screenshot(path=path)  # the first screen: the viewport, not the whole page
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A saved run folder (result.nc and summary.json, as ``estimator fit --out`` writes them)."""
    if os.environ.get("ESTIMATOR_REPORT_RUN"):
        return Path(os.environ["ESTIMATOR_REPORT_RUN"])
    out = tmp_path_factory.mktemp("browser_run")
    assert (
        main(["fit", "--draws", "60", "--tune", "60", "--chains", "2", "--seed", "7", "--out", str(out), "--quiet"])
        == 0
    )
    return out


@pytest.fixture(scope="module")
def report(run, tmp_path_factory):
    """The run's HTML report as ``estimator report --format html`` writes it, its summary.json and its claims."""
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(run / "result.nc"), "--out", str(out), "--format", "html"]) == 0
    assert not list(out.glob("*.png")), "the HTML report wrote figure files beside itself"
    return (
        out / "report.html",
        json.loads((run / "summary.json").read_text()),
        estimator.load_result(run / "result.nc").claims,
    )


def test_report_in_a_real_browser(browser, report, tmp_path):
    path, summary, claims = report
    visit = Visit(browser, path.as_uri())
    assert report_problems(visit, summary, claims) == []
    shot = _screenshot(visit.page, "report_first_screen.png", tmp_path)
    assert shot.stat().st_size > 10_000


def _drop_first_figure(html: str) -> str:
    return re.sub(r"<figure\b.*?</figure>", "", html, count=1, flags=re.S)


def _drop_alt_text(html: str) -> str:
    return re.sub(r"<title id=\"[^\"]+-title\">[^<]*</title>", "", html, count=1)


def _drop_a_link(html: str) -> str:
    return re.sub(r'(<tr data-claim="[^"]+"[^>]*>.*?)<a href="[^"]+">[^<]*</a>', r"\1", html, count=1, flags=re.S)


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_drop_first_figure, "figures on the page"),
        (_drop_alt_text, "svg-img-alt"),
        (_drop_a_link, "links"),
    ],
    ids=["figure removed", "alt text removed", "claim link removed"],
)
def test_the_checks_fail_on_a_damaged_report(browser, report, tmp_path, damage, expected):
    path, summary, claims = report
    html = path.read_text(encoding="utf-8")
    damaged = damage(html)
    assert damaged != html
    broken = tmp_path / "report.html"
    broken.write_text(damaged, encoding="utf-8")
    problems = report_problems(Visit(browser, broken.as_uri()), summary, claims)
    assert any(expected in p for p in problems), problems


@pytest.mark.slow  # needs the built documentation (make docs executes the gallery's notebooks)
def test_docs_front_page_in_a_real_browser(browser, tmp_path):
    assert DOCS_INDEX.is_file(), f"{DOCS_INDEX.relative_to(ROOT)} not found: build the documentation first (make docs)"
    visit = Visit(browser, DOCS_INDEX.as_uri())
    assert page_problems(visit) == []
    assert visit.page.locator("main img").count() >= 1, "the front page shows no figure"
    shot = _screenshot(visit.page, "docs_front_page.png", tmp_path)
    assert shot.stat().st_size > 10_000
