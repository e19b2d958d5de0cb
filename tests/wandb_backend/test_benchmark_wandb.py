"""``benchmarks/bench_wandb.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``wandb`` backend
(and through W&B itself) is read back from the runs' ``.wandb`` logs, none missing or changed,
and that the script keeps W&B's files in its own temporary folders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from support.benchmarks import assert_backend_tables, run_quick
from support.wandb_env import wandb_test_env


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    # The script sets W&B's env vars itself; these only catch files it would leave behind.
    env = dict(os.environ, **wandb_test_env(tmp_path), WANDB_MODE="offline")
    proc = run_quick("bench_wandb.py", cwd=tmp_path, env=env)
    out = proc.stdout

    assert re.search(r"^wandb \d+\.\d+\S*, mode offline; runs under \S+;", out, re.MULTILINE)
    rows = (
        "tracelet: run.log_metric(name, value, step) -> wandb",
        "wandb_run.log({name: value})*",
        "tracelet: run.log_metric -> wandb, then run.stop()",
        "hand-written: wandb_run.log(dict) per step, then finish()",
    )
    assert_backend_tables(
        out,
        (
            "1. Caller cost of one logged point: Tracelet vs wandb_run.log",
            "2. End to end: 8,000 points into offline W&B runs",
        ),
        rows,
        8000,
    )

    assert "hand-written: 2,000 history rows of 2,000 steps, every point as logged" in out

    # Every W&B file went to the script's own temporary folders, none to the caller's.
    assert list(tmp_path.iterdir()) == []
