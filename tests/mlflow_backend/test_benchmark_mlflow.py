"""``benchmarks/bench_mlflow.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``mlflow`` backend
(and through MLflow itself) is read back from the store, none missing or changed.
"""

from __future__ import annotations

import os
import re

from support.benchmarks import assert_backend_tables, run_quick


def test_quick_run_prints_every_table_and_passes_its_checks() -> None:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    proc = run_quick("bench_mlflow.py", cwd=None, env=env)
    out = proc.stdout

    assert re.search(r"MLflow \d+\.\d+\S*; store sqlite:///\S+/mlflow\.db;", out)
    rows = (
        "tracelet: run.log_metric(name, value, step) -> mlflow",
        "mlflow.log_metric(name, value, step=step)*",
        "mlflow.log_metric(..., synchronous=False)",
        "tracelet: run.log_metric -> mlflow, then run.stop()",
        "hand-written: MlflowClient.log_batch per 1000, same thread",
    )
    assert_backend_tables(
        out,
        (
            "1. Caller cost of log_metric: Tracelet vs MLflow's fluent API",
            "2. End to end: 20,000 points into MLflow (sqlite)",
        ),
        rows,
        20000,
    )
