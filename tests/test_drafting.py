"""`estimator claims draft`: every phrase form the ledger uses, read from the wording alone, and the measurement on the ledger."""

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from estimator.claims import COLUMNS, claims_from_frame, load_claims
from estimator.cli import main as estimator_main
from estimator.drafting import MEASURED_FIELDS, draft_accuracy, draft_rows, main

DATA = Path(__file__).parent / "data"
FIELDS = ("quantity", "kind", "qualifier", "figure", "figure_high")


def _one(sentence, date="2024-06-01", **kw):
    drafts = draft_rows(sentence, date=date, **kw)
    assert len(drafts) == 1, [d.row for d in drafts]
    return drafts[0]


def _fields(sentence, date="2024-06-01"):
    return tuple(_one(sentence, date).row[f] for f in FIELDS)


@pytest.mark.parametrize(
    "sentence, expected",
    [
        # Qualifiers
        ("more than 1,000 containers of military equipment", ("containers", "count", "more_than", "1000", "")),
        ("over 1 million shells", ("artillery_rounds", "count", "more_than", "1000000", "")),
        ("well over 100 ballistic missiles", ("missiles_delivered", "count", "more_than", "100", "")),
        ("upward of 65 North Korean missiles", ("missiles_delivered", "count", "more_than", "65", "")),
        ("at least 11 thousand containers", ("containers", "count", "at_least", "11000", "")),
        ("about 5,000 containers", ("containers", "count", "about", "5000", "")),
        ("around 6,700 containers", ("containers", "count", "about", "6700", "")),
        ("approximately 7 000 containers of ammunition", ("containers", "count", "about", "7000", "")),
        ("nearly 16,000 containers of shells", ("containers", "count", "about", "16000", "")),
        ("some 6.7 thousand containers", ("containers", "count", "about", "6700", "")),
        ("an estimated 28,000 containers packed with weapons", ("containers", "count", "about", "28000", "")),
        ("roughly 2 million rounds", ("artillery_rounds", "count", "about", "2000000", "")),
        (
            "Pyongyang has supplied Moscow with 100 short-range ballistic missiles KN-23 and KN-24",
            ("missiles_delivered", "count", "about", "100", ""),
        ),
        ("up to 248 ballistic missiles of the KN-23/24 type", ("missiles_delivered", "count", "up_to", "248", "")),
        ("as many as 300 missiles", ("missiles_delivered", "count", "up_to", "300", "")),
        ("to be between $1.7 billion and $5.5 billion", ("value_usd", "count", "between", "1700000000", "5500000000")),
        ("valued at between 5.6 and 9.8 billion USD", ("value_usd", "count", "between", "5600000000", "9800000000")),
        ("5.7 to 6.7 million artillery shells", ("artillery_rounds", "count", "between", "5700000", "6700000")),
        (
            "649,640 to 878,300 rockets for multiple rocket launchers (MRL)",
            ("rounds_122mm", "count", "between", "649640", "878300"),
        ),
        # Figures in words and the vague plurals, as the ledger's notes code them
        (
            "more than two million rounds of 152mm artillery shells",
            ("shells_152mm", "count", "more_than", "2000000", ""),
        ),
        (
            "more than eight million artillery and rocket rounds",
            ("artillery_rounds", "count", "more_than", "8000000", ""),
        ),
        (
            "Around nine million artillery and rocket shells were transferred",
            ("artillery_rounds", "count", "about", "9000000", ""),
        ),
        (
            "ballistic missile launchers and several dozen ballistic missiles",
            ("missiles_delivered", "count", "between", "24", "72"),
        ),
        ("dozens of ballistic missiles", ("missiles_delivered", "count", "between", "24", "72")),
        ("hundreds of thousands of artillery shells", ("artillery_rounds", "count", "between", "100000", "1000000")),
        ("hundreds of short-range ballistic missiles", ("missiles_delivered", "count", "between", "100", "1000")),
        ("raking in billions of dollars in profit", ("value_usd", "count", "between", "1000000000", "10000000000")),
        (
            "export of weapons to Russia last year earned the regime $540 million",
            ("value_usd", "count", "about", "540000000", ""),
        ),
        ("tens of thousands of containers", ("containers", "count", "between", "10000", "100000")),
        ("several hundred missiles", ("missiles_delivered", "count", "between", "200", "600")),
        # Calibres
        ("more than 400,000 122mm rounds", ("rounds_122mm", "count", "more_than", "400000", "")),
        ("2 million 152 mm shells", ("shells_152mm", "count", "about", "2000000", "")),
        ("6 million 152-millimeter artillery shells", ("shells_152mm", "count", "about", "6000000", "")),
        ("5.2 million 15-centimetre artillery shells", ("shells_152mm", "count", "about", "5200000", "")),
        # Missiles launched: the ledger reads every launch count one-sided
        (
            "In 2024, Ukraine recorded around 60 launches of such missiles",
            ("missiles_launched", "count", "at_least", "60", ""),
        ),
        (
            "Russia had used nearly 50 North Korean missiles to attack Ukraine",
            ("missiles_launched", "count", "about", "50", ""),
        ),
        ("Russia has fired more than 24 missiles", ("missiles_launched", "count", "more_than", "24", "")),
        # Capacity conversions
        (
            "could accommodate up to approximately 3 million rounds of 152 mm artillery shells",
            ("shells_152mm", "capacity", "could_hold", "3000000", ""),
        ),
        ("could contain as many as 4.8 million artillery shells", ("shells_152mm", "capacity", "up_to", "4800000", "")),
        (
            "could hold more than 6 million 152-millimeter artillery shells",
            ("shells_152mm", "capacity", "more_than", "6000000", ""),
        ),
        ("would hold about 500,000 rounds of 122 mm", ("rounds_122mm", "capacity", "could_hold", "500000", "")),
        (
            "If calculated with 152 mm single shells, (the number of supplied shells) are presumed to have reached more than 12 million",
            ("shells_152mm", "capacity", "more_than", "12000000", ""),
        ),
    ],
)
def test_phrase_forms(sentence, expected):
    assert _fields(sentence) == expected


def _all(passage, date="2024-06-01"):
    return [tuple(d.row[f] for f in (*FIELDS, "basis_containers")) for d in draft_rows(passage, date=date)]


@pytest.mark.parametrize(
    "passage, expected",
    [
        # Launches or deliveries: the verb nearest the figure in its own sentence, else in the passage
        (
            "North Korea supplied 100 missiles. Russia launched 60 of them.",
            [
                ("missiles_delivered", "count", "about", "100", "", ""),
                ("missiles_launched", "count", "at_least", "60", "", ""),
            ],
        ),
        (
            "Of the 100 missiles North Korea supplied, Russia has launched 60",
            [
                ("missiles_delivered", "count", "about", "100", "", ""),
                ("missiles_launched", "count", "at_least", "60", "", ""),
            ],
        ),
        (
            "Russia has launched missiles at Kyiv since January. North Korea has sent another 40 ballistic missiles.",
            [("missiles_delivered", "count", "about", "40", "", "")],
        ),
        (
            "Russia fired them at Kharkiv and Kyiv. In all, at least 24 North Korean missiles.",
            [("missiles_launched", "count", "at_least", "24", "", "")],
        ),
        (
            "Russia has launched upward of 65 North Korean missiles",
            [("missiles_launched", "count", "more_than", "65", "", "")],
        ),
        # A bare number counts what the passage names, before it or else after it
        (
            "Kyiv counted at least 24. All were North Korean ballistic missiles.",
            [("missiles_delivered", "count", "at_least", "24", "", "")],
        ),
        (
            "Russia has used at least 24 of them, all North Korean missiles",
            [("missiles_launched", "count", "at_least", "24", "", "")],
        ),
        ("about 300,000 (artillery) shells", [("artillery_rounds", "count", "about", "300000", "", "")]),
        # Calibres: an explicit 122mm is 122mm even of "artillery shells"; one named before the figure counts
        ("500,000 rounds of 122 mm artillery shells", [("rounds_122mm", "count", "about", "500000", "", "")]),
        (
            "In 122mm ammunition alone, North Korea sent 500,000 rounds",
            [("rounds_122mm", "count", "about", "500000", "", "")],
        ),
        # Conversions: the cue anywhere in the passage, "convert", and two calibres offered as alternatives
        (
            "The 6,000 containers could hold many kinds of munitions. That is about 2 million 152mm rounds.",
            [
                ("containers", "count", "about", "6000", "", ""),
                ("shells_152mm", "capacity", "could_hold", "2000000", "", "6000"),
            ],
        ),
        (
            "Converted to 122mm ammunition, the 1,000 containers are some 80,000 rounds",
            [
                ("containers", "count", "about", "1000", "", ""),
                ("rounds_122mm", "capacity", "could_hold", "80000", "", "1000"),
            ],
        ),
        (
            "the shipments come to more than 2 million 152mm rounds or 400,000 122mm rounds",
            [
                ("shells_152mm", "capacity", "more_than", "2000000", "", ""),
                ("rounds_122mm", "capacity", "could_hold", "400000", "", ""),
            ],
        ),
        (
            "the shipments held more than 2 million 152mm rounds and 400,000 122mm rounds",
            [
                ("shells_152mm", "count", "more_than", "2000000", "", ""),
                ("rounds_122mm", "count", "about", "400000", "", ""),
            ],
        ),
    ],
)
def test_passages_read_whole(passage, expected):
    """Rules that read past the figure's own words: verbs, a unit named elsewhere, calibres, conversion cues."""
    assert _all(passage) == expected


def test_a_range_in_a_part_of_a_number_and_a_vague_figure_restated_precisely():
    """'the upper 200,000 range' is 270,000-300,000; inside 'hundreds of thousands', the narrower is kept; 'if all were' converts."""
    d = _one('"hundreds of thousands of rounds"; "in the upper 200,000 range" if all were shells', "2023-10-16")
    assert tuple(d.row[f] for f in FIELDS) == ("shells_152mm", "capacity", "between", "270000", "300000")
    assert _fields("in the lower 10,000 range of containers") == ("containers", "count", "between", "10000", "13000")


def test_capacity_takes_the_sentences_container_count_as_basis():
    drafts = draft_rows("the 5,000 containers could hold more than 2 million 152mm rounds", date="2023-12-29")
    assert [(d.row["quantity"], d.row["kind"], d.row["basis_containers"]) for d in drafts] == [
        ("containers", "count", ""),
        ("shells_152mm", "capacity", "5000"),
    ]
    alone = _one("containers that can hold some 5.2 million artillery shells")
    assert (alone.row["kind"], alone.row["qualifier"], alone.row["basis_containers"]) == ("capacity", "could_hold", "")
    assert "basis_containers" in alone.undecided


def test_several_figures_give_rows_in_order_and_other_counts_are_left_out():
    drafts = draft_rows(
        "Russia has procured several dozen ballistic missiles and millions of artillery shells from North Korea",
        date="2024-04-11",
    )
    assert [(d.row["quantity"], d.row["figure"], d.row["figure_high"]) for d in drafts] == [
        ("missiles_delivered", "24", "72"),
        ("artillery_rounds", "1000000", "10000000"),
    ]
    d = _one(
        "Around nine million artillery and rocket shells were transferred to Russia over 49 cargo shipments last year.",
        "2025-05-29",
    )
    assert d.row["figure"] == "9000000" and any("'49'" in u and "not a ledger quantity" in u for u in d.undecided)


@pytest.mark.parametrize(
    "sentence, not_figures",
    [
        ("100 missiles of the KN-23/24 type", {"23", "24"}),
        ("more than 13,000 containers since August 2023", {"2023"}),
        ("at least 11,000 containers as of 15 July 2024", {"15", "2024"}),
        ("over 5 million 152 mm shells", {"152"}),
    ],
)
def test_designations_calibres_and_dates_are_not_figures(sentence, not_figures):
    drafts = draft_rows(sentence, date="2024-08-01")
    assert len(drafts) == 1 and drafts[0].row["figure"] not in not_figures


@pytest.mark.parametrize(
    "sentence, date, start, end",
    [
        ("more than 20,000 containers since August last year", "2024-12-29", "2023-08-01", ""),
        ("more than 13,000 containers since August 2023", "2024-10-18", "2023-08-01", ""),
        ("more than 10,000 containers since September", "2024-02-23", "2023-09-01", ""),
        ("over 20,000 containers since early September 2023", "2025-05-29", "2023-09-01", ""),
        ("more than 13,000 containers since mid-2022", "2024-08-27", "2022-07-01", ""),
        ("at least 100 missiles in 2024", "2025-05-29", "2024-01-01", "2024-12-31"),
        ("around 60 launches in 2024", "2024-11-27", "2024-01-01", ""),
        ("$540 million last year", "2024-10-01", "2023-01-01", "2023-12-31"),
        ("3.5 million artillery shells this year", "2024-12-02", "2024-01-01", ""),
        ("at least 11,000 containers as of 15 July 2024", "2024-07-24", "", "2024-07-15"),
        ("nearly 50 missiles since the beginning of the full-scale invasion", "2024-03-14", "2022-02-24", ""),
        ("about 5,000 containers", "2023-12-29", "", ""),
    ],
)
def test_periods_relative_to_the_date_said(sentence, date, start, end):
    d = draft_rows(sentence, date=date)[0]
    assert (d.row["period_start"], d.row["period_end"]) == (start, end)


def test_what_the_wording_cannot_decide_is_listed():
    d = _one("at least 24", family="ukrainian_government")
    assert d.row["quantity"] == "" and d.row["figure"] == "24"
    assert {"id", "scope", "reliability", "quantity"} <= set(d.undecided)
    nothing = _one("North Korea sent shells to Russia")
    assert nothing.row["figure"] == "" and "figure" in nothing.undecided


def test_a_completed_draft_is_a_valid_ledger_row():
    drafts = draft_rows(
        "could hold more than 6 million 152-millimeter artillery shells in 13,000 containers",
        date="2024-08-27",
        who="South Korea DIA",
        family="south_korean_government",
        url="https://example.org/a",
    )
    rows = [
        {**d.row, "id": f"kr-dia-2024-08-27-{i}", "scope": "drafted", "reliability": "leak"}
        for i, d in enumerate(drafts)
    ]
    loaded = claims_from_frame(pd.DataFrame(rows, columns=list(COLUMNS)))
    assert list(loaded["kind"]) == ["capacity", "count"] and list(loaded["basis_containers"].fillna(0)) == [13000, 0]


def test_cli_prints_csv_under_the_ledgers_header_and_json(capsys):
    args = [
        "more than 10,000 containers since September 2023",
        "--date",
        "2024-02-23",
        "--who",
        "US State Department",
        "--family",
        "us_government",
    ]
    assert main([*args, "--url", "https://example.org/a"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 1
    assert (rows[0]["quantity"], rows[0]["qualifier"], rows[0]["figure"], rows[0]["period_start"]) == (
        "containers",
        "more_than",
        "10000",
        "2023-09-01",
    )
    assert "could not decide: id; scope; reliability" in out.err
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["columns"] == list(COLUMNS) and doc["drafts"][0]["row"]["who"] == "US State Department"
    assert main(["100 missiles", "--date", "23 Feb 2024"]) == 2
    assert "--date" in capsys.readouterr().err


def test_drafting_is_deterministic(claims):
    first = [d.as_dict() for w in claims["wording"] for d in draft_rows(w, date="2024-06-01")]
    assert first == [d.as_dict() for w in claims["wording"] for d in draft_rows(w, date="2024-06-01")]


def test_measurement_on_the_ledgers_own_wordings(claims):
    """The measurement reported in the docs: its shares are the counts of rows whose fields the drafts recover."""
    summary, rows = draft_accuracy(claims)
    assert summary["rows"] == len(rows) == len(claims)
    for f in MEASURED_FIELDS:
        assert summary["share"][f] == sum(f not in r["missed"] for r in rows) / len(rows)
        assert summary["share"]["all five"] <= summary["share"][f]
    assert summary["share"]["all five"] == sum(not r["missed"] for r in rows) / len(rows)


def _ledger(statements):
    """A ledger from (url, wording, coded fields) triples: rows with one url are one statement."""
    rows = []
    for k, (url, wording, coded) in enumerate(statements):
        row = {**draft_rows(wording, date="2024-03-01", family="osint", url=url)[0].row, **coded}
        rows.append({**row, "id": f"row-{k}", "who": "Someone", "scope": "test", "reliability": "official"})
    return claims_from_frame(pd.DataFrame(rows, columns=list(COLUMNS)))


def test_measurement_by_statement_reads_a_statements_wordings_as_one_passage():
    """A fragment whose conversion verb is in another fragment of its statement is recovered only when read with it."""
    cap = {"quantity": "rounds_122mm", "kind": "capacity", "qualifier": "could_hold", "basis_containers": "900"}
    ledger = _ledger(
        [
            ("https://example.org/a", "around 900 containers", {}),
            (
                "https://example.org/a",
                "which could hold some 300,000 rounds of 152 mm shells",
                {"basis_containers": "900"},
            ),
            ("https://example.org/a", "or 60,000 rounds of 122 mm", cap),
            ("https://example.org/b", "or 60,000 rounds of 122 mm", cap),
        ]
    )
    alone = {r["id"]: r["missed"] for r in draft_accuracy(ledger)[1]}
    together = {r["id"]: r["missed"] for r in draft_accuracy(ledger, by_statement=True)[1]}
    assert alone == {"row-0": [], "row-1": [], "row-2": ["kind", "qualifier"], "row-3": ["kind", "qualifier"]}
    # Statement b holds nothing but the fragment: reading by statement cannot help it.
    assert together == {"row-0": [], "row-1": [], "row-2": [], "row-3": ["kind", "qualifier"]}


def test_measurement_by_statement_on_the_ledger(claims):
    """On the default ledger, whose wordings quote whole sentences, reading each statement whole loses no row.

    The row it once recovered (kr-mnd-2024-02-26-cap122, whose cell quoted only "or 500,000 rounds
    of 122 mm") now quotes its whole "could accommodate" sentence and is recovered alone; what
    reading by statement adds is tested on passages of its own above.
    """
    alone = {r["id"]: r["missed"] for r in draft_accuracy(claims)[1]}
    together = {r["id"]: r["missed"] for r in draft_accuracy(claims, by_statement=True)[1]}
    assert alone["kr-mnd-2024-02-26-cap122"] == []
    assert {i for i, m in together.items() if m} == {i for i, m in alone.items() if m}
    # A delivery count read beside a launch count ("around 60 launches") keeps its own sentence's verb.
    assert together["ua-hur-2024-11-27-delivered"] == []


def test_rows_the_wording_alone_cannot_recover():
    """On the ledger as it stood before restatements were marked, the misses are the rows whose wording lacks what was coded.

    Conversions stated without a conversion verb (the verb was in another sentence), a bare
    "at least 24", and launches named only as "missiles": each needs context no phrase rule sees.
    """
    _, rows = draft_accuracy(load_claims(DATA / "ledger_before_restatements.csv"))
    missed = {r["id"]: r["missed"] for r in rows if r["missed"]}
    assert missed == {
        "kr-mnd-2023-12-29-cap152": ["kind"],
        "kr-mnd-2023-12-29-cap122": ["kind"],
        "ua-pgo-2024-02-16": ["quantity", "kind"],
        "kr-mnd-2024-02-26-cap122": ["kind", "qualifier"],
        "ua-pgo-2024-03-14": ["qualifier"],
        "us-state-2024-09-04-launched": ["quantity"],
        "osint-osc-2025-04-15-cap152": ["quantity", "kind"],
    }


def test_wired_into_the_command_line(capsys):
    assert (
        estimator_main(
            ["claims", "draft", "at least 6 million heavy artillery rounds", "--date", "2024-12-18", "--format", "json"]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out)["drafts"][0]["row"]
    assert (row["quantity"], row["qualifier"], row["figure"]) == ("artillery_rounds", "at_least", "6000000")


def test_measurement_pairs_a_sentences_drafts_with_its_rows_by_content_not_position():
    """Rows listed in another order than the sentence gives their figures are each paired with their own draft.

    The sentence drafts containers, then rounds, then missiles; the ledger lists
    containers, missiles, rounds (as us-usun-2024-12-18 does). Pairing by
    position would compare the missiles row with the rounds draft; one to one by
    content, every row is recovered, and no draft serves two rows.
    """
    wording = "more than 20,000 containers, at least 6 million artillery rounds and well over 100 ballistic missiles"
    drafts = [d.row for d in draft_rows(wording, date="2024-12-18", family="osint", url="https://example.org/c")]
    assert [d["quantity"] for d in drafts] == ["containers", "artillery_rounds", "missiles_delivered"]
    rows = [drafts[0], drafts[2], drafts[1]]
    frame = pd.DataFrame(
        [
            {**r, "id": f"row-{k}", "who": "Someone", "scope": "test", "reliability": "official"}
            for k, r in enumerate(rows)
        ],
        columns=list(COLUMNS),
    )
    summary, per_row = draft_accuracy(claims_from_frame(frame))
    assert [r["missed"] for r in per_row] == [[], [], []]
    assert [r["drafted"]["quantity"] for r in per_row] == ["containers", "missiles_delivered", "artillery_rounds"]
    # A row with no draft of its own is missed, not paired with a draft another row has.
    extra = pd.concat([frame, frame.iloc[[1]].assign(id="row-3")], ignore_index=True)
    missed = [r["missed"] for r in draft_accuracy(claims_from_frame(extra))[1]]
    assert sorted(missed, key=len) == [[], [], [], ["quantity", "kind", "qualifier", "figure"]]
