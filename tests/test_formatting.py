"""One number rule, several renderings: terminal table, report, figure, prior parameters."""

import subprocess
import sys

import pytest

from estimator.formatting import fmt_number


@pytest.mark.parametrize(
    ("x", "style", "kwargs", "text"),
    [
        (2_468_000, "compact", {}, "2.47 M"),
        (2_468_000, "words", {}, "2.47 million"),
        (2_468_000, "table", {}, "2.47 M"),
        (175_600_000, "table", {}, "176 M"),
        # A value rounded to its Monte Carlo error prints no digits it does not have, and keeps its zeros.
        (11_000_000, "table", {}, "11.0 M"),
        (760_000_000, "table", {}, "760 M"),
        (3.76e9, "words", {"money": True}, "$3.76 billion"),
        (3.76e9, "compact", {"money": True, "mathtext": True}, r"\$3.76 bn"),
        (132_942.4, "table", {}, "132,942"),
        (999.7, "compact", {}, "1,000"),
        (46.62, "words", {}, "46.6"),
        (0.7483, "plain", {"digits": 4}, "0.7483"),
        ([6.412, 2.618, 4.781], "plain", {}, "[6.41, 2.62, 4.78]"),
        (float("nan"), "words", {}, "–"),
        (None, "table", {}, "–"),
        (float("inf"), "compact", {}, "∞"),
    ],
)
def test_each_style_renders_the_same_rule(x, style, kwargs, text):
    assert fmt_number(x, style, **kwargs) == text


def test_an_unknown_style_is_named():
    with pytest.raises(ValueError, match="unknown style 'wide'"):
        fmt_number(1.0, "wide")


def test_the_command_line_prints_numbers_without_loading_matplotlib():
    code = "import sys, estimator.cli; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
