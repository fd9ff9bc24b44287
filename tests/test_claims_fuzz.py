"""The ledger's input door under damage: every mutated default ledger loads or raises one InputError.

Mutations are byte edits of the default ledger's file (cuts, deletions, insertions
of CSV punctuation, byte-order marks, bytes that are not UTF-8) and edits of one
cell through csv (numbers, dates and text a spreadsheet or a typo could leave).
Whatever loads must also lay out as a model grid or be refused the same way.
"""

import csv
import datetime as dt
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from estimator.claims import COLUMNS, FIRST_DATE, LAST_DATE, MAX_VALUE_USD, MIN_FIGURE, load_claims, read_claims_text
from estimator.errors import InputError
from estimator.timeline import MAX_MONTHS, model_layout

DEFAULT_TEXT = read_claims_text()[1]
DEFAULT_BYTES = DEFAULT_TEXT.encode("utf-8")
N_ROWS = len(list(csv.reader(io.StringIO(DEFAULT_TEXT)))) - 1
# 500 examples take about five seconds on one core; derandomized, so every run tries the same ledgers.
EXAMPLES = 500

# Bytes a damaged or foreign file holds: CSV punctuation, line ends, a byte-order mark,
# a NUL, and bytes that are not UTF-8 (a lone continuation byte, a Latin-1 'é').
_BYTES = st.sampled_from(
    [
        b'"',
        b",",
        b"\n",
        b"\r",
        b"\r\n",
        b'""',
        b"\xef\xbb\xbf",
        b"\x00",
        b"\x80",
        b"\xe9",
        b";",
        b"\t",
        b" ",
        b"0",
        b"9",
        b"-",
    ]
)
_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e300",
            "5e-324",
            "1" + "0" * 39,
            "0.5",
            "1,0,0",
            "1.000,5",
            "1,000,000",
            "1_000",
            "inf",
            "nan",
            "2999-01-01",
            "9999-12-31",
            "2020-01-01",
            "2023-07-31",
            "2099-12-31",
            "1999-12-31",
            "2024-02-30",
            "20240223",
            '"',
            "a,b",
            "\ufeffid",
            "x" * 140_000,
        ]
    ),
    st.text(max_size=12),
    # Any day around the loader's window; inside it, the model's grid refuses the late ones.
    st.dates(dt.date(1999, 12, 1), dt.date(2100, 1, 31)).map(dt.date.isoformat),
)


_TYPED_COLUMNS = ("date_said", "period_start", "period_end", "figure", "figure_high", "basis_containers")


@st.composite
def _damaged(draw) -> bytes:
    """The default ledger's bytes after up to four edits (one cell, then bytes cut, dropped or inserted)."""
    data = DEFAULT_BYTES
    if draw(st.booleans()):
        rows = list(csv.reader(io.StringIO(DEFAULT_TEXT)))
        # sampled_from draws positions about uniformly where integers() favours the ends (the header).
        row = draw(st.sampled_from(range(N_ROWS + 1)))  # 0 edits the header
        # Most cell edits go to a date or number, whose values reach the model's grid (date_said sets its length).
        column = draw(st.one_of(st.sampled_from(COLUMNS), st.sampled_from(_TYPED_COLUMNS), st.just("date_said")))
        rows[row][COLUMNS.index(column)] = draw(_CELLS)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        data = buf.getvalue().encode("utf-8")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.sampled_from(range(len(data) + 1)))
        edit = draw(st.sampled_from(["cut", "drop", "insert"]))
        if edit == "cut":
            data = data[:at]
        elif edit == "drop":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        else:
            data = data[:at] + draw(_BYTES) + data[at:]
    return data


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "ledger.csv"


def _assert_named(exc: InputError, file: str, rows: tuple[str, ...]):
    assert exc.problems, "an InputError with no problem"
    for p in exc.problems:
        assert p.file == file and p.row.startswith(rows) and p.field and p.message, p


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=_damaged())
def test_a_damaged_ledger_loads_and_lays_out_or_raises_one_input_error(data, ledger_path, priors):
    ledger_path.write_bytes(data)
    try:
        claims = load_claims(ledger_path, families=set(priors.families))
    except InputError as exc:
        _assert_named(exc, str(ledger_path), ("line ", "header", "file"))
        # Shown by --hypothesis-show-statistics: which doors the examples reached.
        event(f"refused on loading: {exc.problems[0].field}")
        return
    # The ends of a between range are exempt from the magnitude bounds (claim_rows._magnitude_problems).
    figures = claims.loc[claims["qualifier"] != "between", ["figure", "figure_high"]].to_numpy(float)
    assert np.nanmin(figures) >= MIN_FIGURE and np.nanmax(np.where(np.isinf(figures), np.nan, figures)) <= MAX_VALUE_USD
    assert (claims["low"] <= claims["high"]).all() and not claims[["low", "high"]].isna().any().any()
    for column in ("date_said", "period_end"):
        assert all(FIRST_DATE <= d <= LAST_DATE for d in claims[column])
    try:
        layout = model_layout(claims, priors)
    except InputError as exc:
        _assert_named(exc, str(ledger_path), ("line ", "as_of"))
        event(f"refused by the model layout: {exc.problems[0].field}")
        return
    event("loaded and laid out")
    assert len(layout.months) <= MAX_MONTHS
    assert np.isfinite(layout.exposure_claims).all() and (layout.exposure_claims.sum(axis=1) > 0).all()
    assert not math.isnan(layout.exposure_as_of.sum())
