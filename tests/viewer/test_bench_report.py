"""``benchmarks/bench_report.py --quick`` runs, prints its tables and passes its checks.

Timings are never asserted; what is asserted is what the script verifies: each report holds a
chart per metric with a line per run and every spike, and the pages draw in a real browser
with no error and no request.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from support.processes import run

from .browser import MISSING, chromium_path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_report.py"


def test_quick_run_prints_its_tables_and_passes_its_checks(tmp_path: Path) -> None:
    assert chromium_path() is not None, MISSING
    result = run([sys.executable, BENCH, "--quick"], tmp_path, timeout=300)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "1. Read and write: synthetic runs to one HTML file" in out
    assert "2. Drawing: the page in headless chromium" in out
    for row in ("3 runs x 20,000 points", "3 runs x 20,000 points, jobs=1", "1 run x 100,000"):
        assert row in out
    for header in ("read s", "build s", "CPU s**", "HTML MB", "drawn", "load + draw s"):
        assert header in out
    assert re.search(r"target: 3 runs of 20,000 points <= 60 s: .* -> (PASS|FAIL)", out)
    assert "one chart per metric, one line per run, every spike among the drawn values" in out
    assert "skipped" not in out
    assert "all correctness checks passed" in out
