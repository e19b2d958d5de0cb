"""``benchmarks/bench_clearml.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``clearml`` backend
(and through ClearML itself, in both reporting modes) is read back from the offline sessions,
none missing or changed, and that the script keeps ClearML's files in its own temporary folders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from support.benchmarks import assert_backend_tables, run_quick


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    # The script sets HOME and CLEARML_CACHE_DIR itself; these only catch files it would leave
    # behind in the caller's folders.
    env = dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        CLEARML_CACHE_DIR=str(tmp_path / "clearml-cache"),
    )
    proc = run_quick("bench_clearml.py", cwd=tmp_path, env=env)
    out = proc.stdout

    assert re.search(r"^clearml \d+\.\d+\S*, offline; sessions under \S+;", out, re.MULTILINE)
    rows = (
        "tracelet: run.log_metric(name, value, step) -> clearml",
        "clearml in-process: logger.report_scalar(title, series, v, iteration=i)",
        "clearml subprocess (default): logger.report_scalar(...)*",
        "tracelet: run.log_metric -> clearml, then run.stop()",
        "hand-written: report_scalar per point (in-process), then task.close()",
    )
    assert_backend_tables(
        out,
        (
            "1. Caller cost of one logged point: Tracelet vs logger.report_scalar",
            "2. End to end: 20,000 points into offline ClearML tasks",
        ),
        rows,
        20000,
    )

    assert "hand-written: 20,000 of 20,000 points, none missing" in out

    # Every ClearML file went to the script's own temporary folders, none to the caller's.
    assert list(tmp_path.iterdir()) == []
