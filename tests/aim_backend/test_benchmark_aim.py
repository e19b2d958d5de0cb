"""``benchmarks/bench_aim.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``aim`` backend
(and through ``aim.Run.track`` itself) is read back from the AIM repo, none missing or changed,
and that the script exits cleanly, leaving nothing in the caller's folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_aim.py"


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr

    assert re.search(r"^aim \d+\.\d+\S*; repo \S+; fixed costs, outside every timing:", out, re.M)
    assert "1. Caller cost of one logged point: Tracelet vs aim_run.track" in out
    assert "2. End to end: 8,000 points into a local AIM repo" in out
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
        "tracelet: run.log_metric(name, value, step) -> aim",
        'aim_run.track(value, name, step, context={"subset": "train"})*',
        "tracelet: run.log_metric -> aim, then run.stop()",
        "hand-written: aim_run.track per point, then close()",
    ):
        assert row in out
    assert re.search(r"Tracelet run settings \(defaults\): batch_size=\d+, flush_interval=", out)
    assert re.search(
        r"^target: >= 90% of the hand-written rate: Tracelet at \d+% -> (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )

    assert "delivery check: every point of every row is stored (none missing)" in out
    assert "tracelet 8,000 of 8,000 points, none missing" in out
    assert "hand-written: 8,000 of 8,000 points, every point as logged, run closed" in out
    assert "all correctness checks passed" in out
    assert "ERROR" not in out

    # AIM closes its RocksDB stores at exit; a store whose files were already deleted prints a
    # traceback there (and AIM's exit hook then never returns).
    assert "Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
    repo = re.search(r"; repo (\S+);", out)
    assert repo is not None
    assert not Path(repo.group(1)).exists(), "the script's repo folder outlived it"
