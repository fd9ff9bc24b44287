"""`estimator fit` end to end with tiny draws; bad input exits 2 with a clean message."""

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "estimator.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_fit_writes_result_and_summaries(tmp_path):
    out = tmp_path / "run"
    # --strict on a tiny run: diagnostics must fail (exit 3) and the files must still be written.
    proc = _run("fit", "--draws", "40", "--tune", "40", "--chains", "2", "--seed", "1", "--quiet", "--strict", "--out", str(out), cwd=tmp_path)
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
    import subprocess
    import sys
    from importlib import metadata

    import estimator

    assert estimator.__version__ == metadata.version("estimator")
    out = subprocess.run([sys.executable, "-m", "estimator", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"estimator {estimator.__version__}"


def test_submodules_load_on_first_use():
    import subprocess
    import sys

    code = "import sys, estimator; assert 'estimator.sensitivity' not in sys.modules; estimator.sensitivity.leave_out; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
