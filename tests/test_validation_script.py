"""validation/run_validation.py: bad input is one line on stderr and exit 2, and touches nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "validation" / "run_validation.py"


@pytest.mark.parametrize("args, message", [
    (["-j", "0"], "--jobs must be at least 1"),
    (["-j", "2"], "--jobs above 1 needs --from-data"),
    (["--from-data", "--programs", "no_such_program"], "no program of validation/programs is named"),
    (["--from-data"], "keeps no measurements"),
    (["--report-only"], "holds no per-program results"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("usage:")
             and not line.startswith("  ")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not out.exists()  # nothing made
