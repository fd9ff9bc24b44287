"""`estimator claims check`: each warning provoked by a small ledger, a clean ledger gives none, exit codes and JSON.

The small ledgers are built row by row here; ``ledger_before_restatements.csv`` is
the default ledger as it stood before restatements were marked (53 rows, no
``restates`` column), kept to check the restatements the ledger review found.
"""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from estimator.claims import COLUMNS, load_claims
from estimator.cli import main as estimator_main
from estimator.ledger_check import (
    CAPACITY_RANGE,
    RESTATEMENT,
    SURPRISING,
    UNKNOWN_ID,
    URL,
    WARNING_KINDS,
    check_ledger,
    main,
    per_container_prior_interval,
)

DATA = Path(__file__).parent / "data"


def _row(cid, date, quantity, qualifier, figure, **extra):
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        id=cid,
        date_said=date,
        who="a speaker",
        source_family="us_government",
        quantity=quantity,
        kind="count",
        qualifier=qualifier,
        figure=str(figure),
        scope="what was counted",
        reliability="official",
        wording=f"{qualifier} {figure}",
        url=f"https://example.org/{cid}",
    )
    row.update({k: str(v) for k, v in extra.items()})
    return row


# Figures of one quantity at least 20% apart, a conversion at 400 a container (inside the prior's
# 90% interval, about 193-502), links and notes naming rows that exist.
CLEAN = [
    _row("us-a-2024-01-10", "2024-01-10", "containers", "about", 1000),
    _row("kr-b-2024-02-01", "2024-02-01", "containers", "more_than", 2000, note="Updates us-a-2024-01-10."),
    _row(
        "kr-b-2024-02-01-cap152",
        "2024-02-01",
        "shells_152mm",
        "could_hold",
        800000,
        kind="capacity",
        basis_containers=2000,
        note="Conversion of kr-b-2024-02-01.",
    ),
    _row("us-c-2024-03-01-missiles", "2024-03-01", "missiles_delivered", "between", 24, figure_high=72),
    _row(
        "us-c-2024-03-01-rounds",
        "2024-03-01",
        "artillery_rounds",
        "more_than",
        1000000,
        note="Same statement as the -missiles row.",
    ),
    _row(
        "kr-d-2024-04-01",
        "2024-04-01",
        "containers",
        "about",
        2900,
        restates="",
        note="Same figure restated in https://example.org/kr-x-2024-01-01-y",
    ),
]


def _write(tmp_path, rows, name="ledger.csv"):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _warnings(tmp_path, rows, **kw):
    return check_ledger(load_claims(_write(tmp_path, rows)), **kw)


def _replace(rows, cid, **changes):
    return [{**r, **{k: str(v) for k, v in changes.items()}} if r["id"] == cid else r for r in rows]


def test_clean_ledger_gives_no_warning(tmp_path, capsys):
    assert _warnings(tmp_path, CLEAN) == []
    assert main([str(_write(tmp_path, CLEAN))]) == 0
    assert capsys.readouterr().out.startswith("0 warnings in 6 claims")


def test_figure_within_five_percent_is_a_probable_restatement_unless_linked(tmp_path):
    rows = [*CLEAN, _row("ua-e-2024-05-01", "2024-05-01", "containers", "at_least", 2050)]
    found = _warnings(tmp_path, rows)
    # 2,050 is 2.4% above 2,000 (kr-b), far from 1,000 and 2,900: kr-b is the probable original.
    assert [(w.kind, w.claim, w.related) for w in found] == [(RESTATEMENT, "ua-e-2024-05-01", "kr-b-2024-02-01")]
    assert "set restates = kr-b-2024-02-01" in found[0].message and found[0].line == 8
    assert _warnings(tmp_path, _replace(rows, "ua-e-2024-05-01", restates="kr-b-2024-02-01")) == []
    # Two restatements of one original are linked to each other through it.
    rows2 = _replace(rows, "ua-e-2024-05-01", restates="kr-b-2024-02-01") + [
        _row("uk-f-2024-06-01", "2024-06-01", "containers", "about", 2000, restates="kr-b-2024-02-01")
    ]
    assert _warnings(tmp_path, rows2) == []


def test_restatement_tolerance_and_what_is_compared(tmp_path):
    # 6,700 then 'about 7,000' (4.3% of the larger): flagged; 6% apart: not; another quantity: not.
    base = [_row("a-2024-01-01", "2024-01-01", "containers", "about", 6700)]
    assert [
        w.claim for w in _warnings(tmp_path, [*base, _row("b-2024-02-01", "2024-02-01", "containers", "about", 7000)])
    ] == ["b-2024-02-01"]
    assert _warnings(tmp_path, [*base, _row("b-2024-02-01", "2024-02-01", "containers", "about", 7130)]) == []
    assert _warnings(tmp_path, [*base, _row("b-2024-02-01", "2024-02-01", "missiles_delivered", "about", 6700)]) == []
    # A conversion's total quoted later as a count of the same quantity: the double count.
    conv = _row(
        "c-2024-01-01-cap152",
        "2024-01-01",
        "shells_152mm",
        "more_than",
        2000000,
        kind="capacity",
        basis_containers=5000,
    )
    found = _warnings(tmp_path, [conv, _row("d-2024-02-23", "2024-02-23", "shells_152mm", "more_than", 2000000)])
    assert [(w.claim, w.related) for w in found] == [("d-2024-02-23", "c-2024-01-01-cap152")]
    # Two ranges match only when both ends do.
    r1 = _row("e-2024-01-01", "2024-01-01", "missiles_delivered", "between", 24, figure_high=72)
    assert (
        _warnings(
            tmp_path, [r1, _row("f-2024-02-01", "2024-02-01", "missiles_delivered", "between", 24, figure_high=100)]
        )
        == []
    )
    assert [
        w.claim
        for w in _warnings(
            tmp_path, [r1, _row("f-2024-02-01", "2024-02-01", "missiles_delivered", "between", 24, figure_high=72)]
        )
    ] == ["f-2024-02-01"]


def test_notes_naming_rows_that_do_not_exist(tmp_path):
    rows = _replace(
        CLEAN, "kr-b-2024-02-01", note="Updates us-a-2024-01-10 and ua-pgo-2024-05-07; see also the -mortar row."
    )
    rows = _replace(
        rows,
        "us-c-2024-03-01-rounds",
        note="See the -missiles and -mortar rows (an earlier note named a '-shells' row).",
    )
    found = _warnings(tmp_path, rows)
    assert [(w.kind, w.claim, w.field) for w in found] == [
        (UNKNOWN_ID, "kr-b-2024-02-01", "note"),
        (UNKNOWN_ID, "us-c-2024-03-01-rounds", "note"),
    ]
    assert "'ua-pgo-2024-05-07'" in found[0].message
    # A suffix names a sibling of the row's own stem: 'kr-b-2024-02-01' has none, so '-mortar' there names nothing.
    assert "'us-c-2024-03-01-mortar'" in found[1].message
    # A name in quotes is mentioned, not referred to.
    assert (
        _warnings(tmp_path, _replace(CLEAN, "us-a-2024-01-10", note="Not the '-mortar' row nor \"xx-2024-01-01\"."))
        == []
    )


def test_capacity_conversion_outside_the_prior_range(tmp_path, priors):
    lo, hi = per_container_prior_interval(priors, "shells_152mm")
    rows = _replace(CLEAN, "kr-b-2024-02-01-cap152", figure=int(2000 * hi * 1.2))
    found = _warnings(tmp_path, rows)
    assert [(w.kind, w.claim) for w in found] == [(CAPACITY_RANGE, "kr-b-2024-02-01-cap152")]
    assert f"{lo:,.0f} to {hi:,.0f}" in found[0].message
    # A range is checked at both ends.
    rows = _replace(
        CLEAN,
        "kr-b-2024-02-01-cap152",
        qualifier="between",
        figure=int(2000 * lo * 1.1),
        figure_high=int(2000 * lo * 0.9 + 2000 * hi),
    )
    assert _warnings(tmp_path, rows)[0].kind == CAPACITY_RANGE
    assert (
        _warnings(
            tmp_path,
            _replace(
                CLEAN,
                "kr-b-2024-02-01-cap152",
                qualifier="between",
                figure=int(2000 * lo * 1.1),
                figure_high=int(2000 * hi * 0.9),
            ),
        )
        == []
    )


def test_per_container_prior_interval_matches_monte_carlo(priors):
    """The quadrature against 400,000 prior draws (fixed seed).

    Tolerance 1%: the Monte Carlo 5% and 95% quantiles of 400,000 draws have a
    relative standard error of about 0.1% here, so 1% fails only on a real error.
    """
    P = priors.parameters
    rng = np.random.default_rng(20240223)
    n = 400_000
    draws = [
        P[k].preliz().rvs(n, random_state=rng) for k in ("container_payload_kg", "shell_mass_152mm_kg", "fill_152mm")
    ]
    mc = np.quantile(draws[0] / draws[1] * draws[2], [0.05, 0.95])
    assert per_container_prior_interval(priors, "shells_152mm") == pytest.approx(tuple(mc), rel=0.01)
    mc122 = np.quantile(P["rounds_per_container_122mm"].preliz().rvs(n, random_state=rng), [0.05, 0.95])
    assert per_container_prior_interval(priors, "rounds_122mm") == pytest.approx(tuple(mc122), rel=0.01)


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://example.org/a", True),
        ("http://world.kbs.co.kr/x?lang=e&Seq_Code=1 ; https://newsrebeat.com/y.html", True),
        ("seed article (Bloomberg News)", False),
        ("www.example.org/a", False),
        ("ftp://example.org/a", False),
        ("/relative/path", False),
        ("https://example.org/a ; see the print edition", False),
    ],
)
def test_url_must_be_absolute_http_links(tmp_path, url, ok):
    found = _warnings(tmp_path, _replace(CLEAN, "us-a-2024-01-10", url=url))
    assert [(w.kind, w.claim, w.field) for w in found] == ([] if ok else [(URL, "us-a-2024-01-10", "url")])


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"period_start": "2024-03-01", "period_end": "2024-02-01"}, "before it starts"),
        ({"period_end": "2024-05-01"}, "after the claim was made"),
    ],
)
def test_period_problems_are_invalid_input_exit_2(tmp_path, capsys, changes, words):
    """A period ending before its start or after the date said is refused by the loader (a fit cannot use it): exit 2, named by line and field."""
    path = _write(tmp_path, _replace(CLEAN, "kr-b-2024-02-01", **changes))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 3 (id kr-b-2024-02-01): field 'period_end'" in err and words in err


def test_invalid_ledger_exits_2_naming_file_row_and_field(tmp_path, capsys):
    path = _write(tmp_path, _replace(CLEAN, "us-a-2024-01-10", quantity="shells"))
    assert main([str(path)]) == 2
    assert f"{path}: line 2 (id us-a-2024-01-10): field 'quantity'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv")]) == 2
    assert main([str(path), "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False and doc["problems"][0]["field"] == "quantity"


def test_warnings_exit_0_and_json_output(tmp_path, capsys):
    rows = _replace(
        [*CLEAN, _row("ua-e-2024-05-01", "2024-05-01", "containers", "at_least", 2050)],
        "us-a-2024-01-10",
        url="seed article",
    )
    path = _write(tmp_path, rows)
    assert main([str(path)]) == 0
    text = capsys.readouterr().out
    assert (
        "warning: line 8 (id ua-e-2024-05-01): restatement: field 'restates'" in text
        and "2 warnings in 7 claims" in text
    )
    assert main([str(path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True and doc["claims"] == 7
    assert doc["counts"] == {**dict.fromkeys(WARNING_KINDS, 0), RESTATEMENT: 1, URL: 1}
    assert {(w["kind"], w["claim"], w["line"], w["field"]) for w in doc["warnings"]} == {
        (RESTATEMENT, "ua-e-2024-05-01", 8, "restates"),
        (URL, "us-a-2024-01-10", 2, "url"),
    }


def test_the_ledger_before_restatements_were_marked(capsys):
    """The restatements the ledger review found are flagged (their later row against the original).

    Not checkable here: ua-president-2024-11-15 restating Zelensky's 3.5 million of
    2024-10-28, because that ledger holds no row of 2024-10-28 with 3.5 million.
    """
    found = check_ledger(load_claims(DATA / "ledger_before_restatements.csv"))
    pairs = {(w.claim, w.related) for w in found if w.kind == RESTATEMENT}
    assert {
        ("kr-nis-2024-10-18", "kr-dia-2024-08-27"),
        ("kr-mnd-2024-03-18", "kr-mnd-2024-02-26"),
        ("uk-fcdo-2024-04-11-missiles", "us-wh-2024-01-04"),
        ("bloomberg-2024-02-23", "kr-mnd-2023-12-29-cap152"),
    } <= pairs
    unknown = {(w.claim, w.message.split("'")[1]) for w in found if w.kind == UNKNOWN_ID}
    assert unknown == {
        ("ua-hur-2024-11-27-launched", "ua-pgo-2024-05-07"),
        ("tt-fnf-2025-09-rounds", "tt-fnf-2025-09-mortar"),
    }
    assert {w.claim for w in found if w.kind == URL} == {"bloomberg-2024-02-23", "bloomberg-2024-02-23-value"}


def test_surprising_claims_only_with_a_saved_run(tmp_path, tiny_result_path, capsys):
    """A claim 1,000 times the fitted container count is surprising under the run; without --run nothing is scored."""
    rows = [
        _row(
            "us-nsc-2023-10-13",
            "2023-10-13",
            "containers",
            "more_than",
            1000,
            period_start="2023-09-07",
            period_end="2023-10-01",
        ),
        _row("x-2024-02-01", "2024-02-01", "containers", "about", 10_000_000),
    ]
    path = _write(tmp_path, rows)
    assert main([str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][SURPRISING] == 0
    for run in (tiny_result_path, tiny_result_path.parent):
        assert main([str(path), "--run", str(run), "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        surprising = [w for w in doc["warnings"] if w["kind"] == SURPRISING]
        assert [w["claim"] for w in surprising] == ["x-2024-02-01"]
        assert "p = " in surprising[0]["message"] and "< 0.05" in surprising[0]["message"]
    assert main([str(path), "--run", str(tmp_path / "no-run")]) == 2


def test_wired_into_the_command_line(tmp_path, capsys):
    path = _write(tmp_path, _replace(CLEAN, "us-a-2024-01-10", url="seed article"))
    assert estimator_main(["claims", "check", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"][URL] == 1
    assert estimator_main(["claims", "check", str(tmp_path / "missing.csv")]) == 2


@pytest.mark.parametrize("command", ["claims", "claims check", "claims draft"])
def test_claims_help_says_what_it_does_and_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as info:
        estimator_main([*command.split(), "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    usage, description, *_ = text.split("\n\n")
    assert usage.startswith(f"usage: estimator {command}") and len(description.split()) >= 8
    examples = text.split("examples:\n", 1)[1].strip("\n").splitlines()
    assert examples and all(line.startswith(f"  estimator {command}") for line in examples)
