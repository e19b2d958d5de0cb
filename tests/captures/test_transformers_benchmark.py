"""``benchmarks/bench_transformers.py`` runs, prints its table and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every run read back from MLflow holds each metric the
Trainer reported, at its step, once.
"""

from __future__ import annotations

import os
import re

from support.benchmarks import run_quick


def test_quick_run_prints_the_table_and_passes_its_checks() -> None:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
    out = run_quick("bench_transformers.py", env=env).stdout

    for line in (
        "trainer.train(), 60 steps, logging_steps=1",
        "train() s",
        "until stored s",
        "cost vs MLflowCallback",
        "report_to='none' (no tracking: the floor)",
        "report_to='mlflow' (transformers' MLflowCallback)",
        "TraceletCallback(backend='mlflow'), run inside train()",
        "capture: run started before, stopped after train()",
        "read back with get_metric_history: 3 runs, each of loss, grad_norm, learning_rate, "
        "epoch at every step as the Trainer reported it, once",
        "all correctness checks passed",
    ):
        assert line in out, f"{line!r} missing from:\n{out}"
    assert len(re.findall(r"^target: .* -> (PASS|FAIL)$", out, re.MULTILINE)) == 4
    assert "FAILED" not in out
    assert "{'loss'" not in out  # the Trainer's printing is off in every case
