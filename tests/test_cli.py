"""`estimator fit` end to end with tiny draws; bad input exits 2 with a clean message."""

import json
import logging
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

import estimator
from estimator.claims import load_claims, read_claims_text
from estimator.cli import _log_levels, build_parser, main
from estimator.priors import read_priors_text

DATA = Path(__file__).parent / "data"


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "estimator.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_fit_writes_result_and_summaries(tmp_path):
    out = tmp_path / "run"
    # --strict on a tiny run: diagnostics must fail (exit 3) and the files must still be written.
    proc = _run(
        "fit",
        "--draws",
        "40",
        "--tune",
        "40",
        "--chains",
        "2",
        "--seed",
        "1",
        "--quiet",
        "--strict",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "152mm shells delivered" in proc.stdout and "WARNING" in proc.stdout
    for name in ("result.nc", "summary.csv", "summary.json"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics"]["ok"] is False


def test_bad_ledger_exits_2_without_traceback(tmp_path):
    proc = _run("fit", "--claims", str(DATA / "bad_several.csv"), "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad_several.csv: line 2 (id us-nsc-2023-10-13): field 'figure'" in proc.stderr
    assert "3 problems" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_bad_date_and_unwritable_out_are_caught_before_sampling(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = _run("fit", "--as-of", "2024-02-30", "--out", str(blocker))
    assert proc.returncode == 2 and "--as-of" in proc.stderr
    proc = _run("fit", "--out", str(blocker))
    assert proc.returncode == 2 and "not a directory" in proc.stderr


def test_version_is_one_string_from_the_package_metadata():

    assert estimator.__version__ == metadata.version("estimator")
    out = subprocess.run([sys.executable, "-m", "estimator", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"estimator {estimator.__version__}"


def test_submodules_load_on_first_use():

    code = "import sys, estimator; assert 'estimator.influence' not in sys.modules; estimator.influence.leave_out; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


# Each subcommand with the arguments it cannot run without (no work is done: parsing only).
SUBCOMMANDS = {
    "fit": [],
    "figures": ["run/result.nc"],
    "report": ["run/result.nc"],
    "sweep": ["sweep.toml"],
    "sensitivity": ["run/result.nc"],
    "validate sbc": [],
    "validate reference": ["run/result.nc"],
    "score": ["run/result.nc"],
    "backtest": [],
}
FIGURE_COMMANDS = [
    "figures",
    "report",
    "sweep",
    "sensitivity",
    "validate sbc",
    "validate reference",
    "score",
    "backtest",
]


def _help(capsys, *words) -> str:

    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [*SUBCOMMANDS, "validate"])
def test_every_subcommand_help_says_what_it_does_and_shows_an_example(command, capsys):
    text = _help(capsys, *command.split())
    usage, description, *_ = text.split("\n\n")
    assert usage.startswith(f"usage: estimator {command}")
    assert len(description.split()) >= 8, description
    examples = text.split("examples:\n", 1)[1]
    assert all(line.startswith(f"  estimator {command}") for line in examples.strip("\n").splitlines()), examples


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_quiet_and_verbose_are_accepted_by_every_subcommand(command):

    parser = build_parser()
    for flags, expected in (
        ([], (False, 0)),
        (["--quiet"], (True, 0)),
        (["-q"], (True, 0)),
        (["-v"], (False, 1)),
        (["--verbose"], (False, 1)),
        (["-vv"], (False, 2)),
    ):
        args = parser.parse_args([*command.split(), *SUBCOMMANDS[command], *flags])
        assert (args.quiet, args.verbose) == expected, flags


def test_quiet_and_verbose_together_are_refused(capsys):

    with pytest.raises(SystemExit) as info:
        main(["score", "run/result.nc", "--quiet", "-v"])
    assert info.value.code == 2 and "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("command", FIGURE_COMMANDS)
def test_every_command_that_draws_takes_format_and_dpi(command):

    args = build_parser().parse_args([*command.split(), *SUBCOMMANDS[command], "--format", "svg,pdf", "--dpi", "72"])
    assert (args.format, args.dpi) == ("svg,pdf", 72)


def test_validate_sbc_and_reference_each_take_only_their_own_options(capsys):
    sbc = _help(capsys, "validate", "sbc")
    ref = _help(capsys, "validate", "reference")
    for option in ("--simulations", "--scheduler", "--workers", "--claims", "--priors", "--chains"):
        assert option in sbc and option not in ref
    assert "RESULT" in ref and "--reference-draws" in ref
    assert "RESULT" not in sbc and "--reference-draws" not in sbc


def test_validate_reference_needs_a_result(capsys):

    with pytest.raises(SystemExit) as info:
        main(["validate", "reference"])
    assert info.value.code == 2 and "RESULT" in capsys.readouterr().err


def test_a_bad_format_is_refused_before_any_work(tmp_path, capsys):

    out = tmp_path / "scores"
    assert main(["score", str(tmp_path / "missing.nc"), "--format", "png,gif", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--format" in err and "gif" in err and not out.exists()


def test_verbose_logs_the_package_to_stderr_and_leaves_logging_as_it_found_it(tmp_path, capsys):

    package, pymc = logging.getLogger("estimator"), logging.getLogger("pymc")
    before = (package.level, list(package.handlers), pymc.level)
    assert main(["score", str(tmp_path / "missing.nc"), "-v"]) == 2
    assert "INFO estimator.cli: estimator score" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "missing.nc"), "--quiet"]) == 2
    assert "INFO" not in capsys.readouterr().err
    assert (package.level, list(package.handlers), pymc.level) == before


def test_quiet_silences_info_messages_only_while_the_command_runs():

    package, pymc = logging.getLogger("estimator"), logging.getLogger("pymc")
    levels = (package.level, pymc.level)
    with _log_levels(verbose=0, quiet=True):
        assert not package.isEnabledFor(logging.INFO) and not pymc.isEnabledFor(logging.INFO)
    with _log_levels(verbose=2, quiet=False):
        assert package.isEnabledFor(logging.DEBUG)
    assert (package.level, pymc.level) == levels


def _default_ledger_text() -> str:

    return read_claims_text()[1]


def test_a_prior_with_a_negative_sigma_exits_2_naming_entry_and_field_before_any_sampling(tmp_path):
    """Once a sampler failure and a segmentation fault (exit 139)."""

    text = read_priors_text()[1]
    head = "[parameters.price_152mm_usd]\n"
    start = text.index(head)
    end = text.index("\n[", start + len(head))
    entry = text[start:end]
    unit = next(line for line in entry.splitlines() if line.startswith("unit"))
    bad = (
        text[:start]
        + head
        + 'distribution = "LogNormal"\nparams = {mu = 7.0, sigma = -0.5}\n'
        + unit
        + "\n"
        + text[end:]
    )
    path = tmp_path / "priors.toml"
    path.write_text(bad, encoding="utf-8")
    proc = _run("fit", "--priors", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "price_152mm_usd" in proc.stderr and "sigma" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_a_ledger_cut_inside_a_quoted_note_exits_2_and_says_it_may_be_truncated(tmp_path):
    text = _default_ledger_text()
    cut = text.index('"', len(text) // 2)  # the opening quote of a cell in the second half
    path = tmp_path / "half.csv"
    path.write_text(text[: cut + 20], encoding="utf-8")
    proc = _run("fit", "--claims", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "truncated" in proc.stderr and "half.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_a_claim_said_in_2999_is_refused_within_seconds_not_modelled_month_by_month(tmp_path, edit_default_ledger):
    text, _ = edit_default_ledger("us-nsc-2023-10-13", "date_said", "2999-10-13")
    path = tmp_path / "typo.csv"
    path.write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    proc = _run("fit", "--claims", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "2999-10-13" in proc.stderr and "date_said" in proc.stderr and "Traceback" not in proc.stderr
    # The whole process, imports included (a few seconds); the model of ~12,000 months it
    # once started to build took minutes. Generous, since machines are noisy.
    assert time.perf_counter() - t0 < 60


def test_a_spreadsheet_csv_utf8_ledger_reads_as_the_plain_one():
    """A byte-order mark before 'id' (a spreadsheet's 'CSV UTF-8'): the same claims, so the same fit."""

    plain = _default_ledger_text()
    with_bom = load_claims(text="\ufeff" + plain, name="bom.csv")
    assert with_bom.drop(columns=[]).equals(load_claims(text=plain, name="bom.csv"))
