"""``benchmarks/bench_clearml.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``clearml`` backend
(and through ClearML itself, in both reporting modes) is read back from the offline sessions,
none missing or changed, and that the script keeps ClearML's files in its own temporary folders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_clearml.py"


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    # The script sets HOME and CLEARML_CACHE_DIR itself; these only catch files it would leave
    # behind in the caller's folders.
    env = dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        CLEARML_CACHE_DIR=str(tmp_path / "clearml-cache"),
    )
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr

    assert re.search(r"^clearml \d+\.\d+\S*, offline; sessions under \S+;", out, re.MULTILINE)
    assert "1. Caller cost of one logged point: Tracelet vs logger.report_scalar" in out
    assert "2. End to end: 20,000 points into offline ClearML tasks" in out
    for header in (
        "median us/call",
        "min us/call",
        "incl. delivery us/call",
        "delivered points/s",
        "points/s per round",
        "rate vs hand-written",
    ):
        assert header in out
    for row in (
        "tracelet: run.log_metric(name, value, step) -> clearml",
        "clearml in-process: logger.report_scalar(title, series, v, iteration=i)",
        "clearml subprocess (default): logger.report_scalar(...)*",
        "tracelet: run.log_metric -> clearml, then run.stop()",
        "hand-written: report_scalar per point (in-process), then task.close()",
    ):
        assert row in out
    assert re.search(r"Tracelet run settings \(defaults\): batch_size=\d+, flush_interval=", out)
    assert re.search(
        r"^target: >= 90% of the hand-written rate: Tracelet at \d+% -> (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )

    assert "delivery check: every point of every row is stored (none missing)" in out
    assert "tracelet 20,000 of 20,000 points, none missing" in out
    assert "hand-written: 20,000 of 20,000 points, none missing" in out
    assert "all correctness checks passed" in out
    assert "ERROR" not in out

    # Every ClearML file went to the script's own temporary folders, none to the caller's.
    assert list(tmp_path.iterdir()) == []
