"""``benchmarks/bench_wandb.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``wandb`` backend
(and through W&B itself) is read back from the runs' ``.wandb`` logs, none missing or changed,
and that the script keeps W&B's files in its own temporary folders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.wandb_env import wandb_test_env

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_wandb.py"


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    # The script sets W&B's env vars itself; these only catch files it would leave behind.
    env = dict(os.environ, **wandb_test_env(tmp_path), WANDB_MODE="offline")
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

    assert re.search(r"^wandb \d+\.\d+\S*, mode offline; runs under \S+;", out, re.MULTILINE)
    assert "1. Caller cost of one logged point: Tracelet vs wandb_run.log" in out
    assert "2. End to end: 8,000 points into offline W&B runs" in out
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
        "tracelet: run.log_metric(name, value, step) -> wandb",
        "wandb_run.log({name: value})*",
        "tracelet: run.log_metric -> wandb, then run.stop()",
        "hand-written: wandb_run.log(dict) per step, then finish()",
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
    assert "hand-written: 2,000 history rows of 2,000 steps, every point as logged" in out
    assert "all correctness checks passed" in out
    assert "ERROR" not in out

    # Every W&B file went to the script's own temporary folders, none to the caller's.
    assert list(tmp_path.iterdir()) == []
