"""The Markdown report of a run: every claim, the figures, priors, diagnostics and manifest."""

from estimator.cli import main
from estimator.figures import FIGURES
from estimator.report import report_markdown


def test_report_names_every_claim_with_its_wording_and_link(small_run):
    text = report_markdown(small_run)
    for cid, row in small_run.claims.iterrows():
        assert f"`{cid}`" in text
        assert row["wording"].replace("|", "\\|") in text
    assert "https://en.yna.co.kr/view/AEN20231014000400315" in text


def test_report_links_each_restatement_to_its_original(small_run):
    text = report_markdown(small_run)
    restated = small_run.claims.loc[small_run.claims["restates"] != "", "restates"]
    assert len(restated) > 0
    for cid, original in restated.items():
        assert f"| `{cid}` (restates `{original}`) |" in text
    assert f"| `{restated.iloc[0]}` |" in text


def test_report_has_every_section_and_the_run_identity(small_run):
    text = report_markdown(small_run)
    for heading in ("## Headline", "## Claims", "## Priors", "## Diagnostics", "## Run manifest"):
        assert heading in text
    m = small_run.manifest
    assert m["input_hash"] in text and f"`{m['seed']}`" in text
    for name in small_run.priors.all_specs():
        assert f"`{name}`" in text
    # A tiny run misses the thresholds, and the report says so.
    assert "missed a threshold" in text


def test_report_links_each_figure_given(small_run):
    links = {name: f"{name}.png" for name in FIGURES}
    text = report_markdown(small_run, links)
    for path in links.values():
        assert f"({path})" in text


def test_cli_report_writes_markdown_next_to_its_figures(small_run_path, tmp_path):
    assert main(["report", str(small_run_path), "--out", str(tmp_path), "--dpi", "40"]) == 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").is_file()
        assert f"({name}.png)" in text
