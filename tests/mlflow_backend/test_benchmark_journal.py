"""``benchmarks/bench_journal.py`` runs, prints its four tables and passes its checks: every
point read back from the journal and from MLflow, every point delivered in order after the
outage. Timings are never asserted (they depend on the machine)."""

from __future__ import annotations

import os
import re

from support.benchmarks import run_quick


def test_quick_run_prints_every_table_and_passes_its_checks() -> None:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    out = run_quick("bench_journal.py", env=env).stdout
    for line in (
        "1. Journal throughput: 50,000 metric points",
        "run.log_metric -> journal, until stop() returns",
        "run.log_metrics (10 names) -> journal, until stop()",
        "JournalWriter.append alone (batches of 1000)",
        "2. Caller cost of run.log_metric with 4 no-op backends",
        "journal on (default)",
        "3. Sync of 20,000 points into MLflow (sqlite) vs a hand-written log_batch loop",
        "tracelet sync --to mlflow",
        "4. A backend down for 3 s while 50,000 points are logged",
        "points delivered after the outage",
    ):
        assert line in out, f"{line!r} missing from:\n{out}"
    assert re.search(r"^target: sync >= 90% of the hand-written rate: (PASS|FAIL)$", out, re.M)
    assert re.search(r"^points delivered after the outage +50,000$", out, re.M)
    assert "ERROR" not in out
