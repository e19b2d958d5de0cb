"""``benchmarks/bench_core.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies about Tracelet itself: no point lost on the way to the
``local`` backend and no heavy module loaded by ``import tracelet``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_core.py"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_quick_run_prints_every_table_and_passes_its_checks() -> None:
    proc = _bench("--quick")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr

    assert "1. Caller cost of a logging call" in out
    assert "2. End to end: 20,000 points into the local backend" in out
    assert "3. Import time of 'tracelet' in a fresh interpreter" in out
    for header in ("median ns/call", "min ns/call", "incl. delivery ns/point", "points/s"):
        assert header in out
    for row in (
        "no-op method call",
        "deque.append((name, value, step, time()))",
        "run.log_metric, 1 backend",
        "run.log_metric, 4 backends",
        "run.log_metrics (10 keys), 4 backends",
        "hand-written: same JSON lines",
        'python -c "import tracelet"',
    ):
        assert row in out
    assert re.search(r"run settings \(defaults\): batch_size=\d+, flush_interval=", out)
    assert re.search(r"target: run\.log_metric with 4 backends .* -> (PASS|FAIL)", out)
    assert re.search(r"target: import tracelet adds .* -> (PASS|FAIL)", out)

    assert "every no-op backend received every point (none missing)" in out
    assert "20,000 of 20,000 points, none missing" in out
    assert "no heavy modules imported" in out
    assert "all correctness checks passed" in out


def test_a_heavy_import_fails_the_run_and_is_named() -> None:
    # tracelet.settings loads pydantic by design: the check must catch it and fail the script.
    proc = _bench("--quick", "--only", "import", "--module", "tracelet.settings")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    failed = [line for line in out.splitlines() if line.startswith("FAILED: heavy modules")]
    assert len(failed) == 1, out
    assert "pydantic" in failed[0]
    assert "pydantic_settings" in failed[0]
    assert "no heavy modules imported" not in out
    # over the limit, the script explains where the import time goes
    assert "import cost by module (python -X importtime" in out
