"""``benchmarks/bench_mlflow.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``mlflow`` backend
(and through MLflow itself) is read back from the store, none missing or changed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_mlflow.py"


def test_quick_run_prints_every_table_and_passes_its_checks() -> None:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr

    assert re.search(r"MLflow \d+\.\d+\S*; store sqlite:///\S+/mlflow\.db;", out)
    assert "1. Caller cost of log_metric: Tracelet vs MLflow's fluent API" in out
    assert "2. End to end: 20,000 points into MLflow (sqlite)" in out
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
        "tracelet: run.log_metric(name, value, step) -> mlflow",
        "mlflow.log_metric(name, value, step=step)*",
        "mlflow.log_metric(..., synchronous=False)",
        "tracelet: run.log_metric -> mlflow, then run.stop()",
        "hand-written: MlflowClient.log_batch per 1000, same thread",
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
    assert "all correctness checks passed" in out
    assert "ERROR" not in out
