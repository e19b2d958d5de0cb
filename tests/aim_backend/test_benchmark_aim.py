"""``benchmarks/bench_aim.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies: every point logged through Tracelet's ``aim`` backend
(and through ``aim.Run.track`` itself) is read back from the AIM repo, none missing or changed,
and that the script exits cleanly, leaving nothing in the caller's folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.benchmarks import assert_backend_tables, run_quick


def test_quick_run_prints_every_table_and_passes_its_checks(tmp_path: Path) -> None:
    proc = run_quick("bench_aim.py", cwd=tmp_path, env=None)
    out = proc.stdout

    assert re.search(r"^aim \d+\.\d+\S*; repo \S+; fixed costs, outside every timing:", out, re.M)
    rows = (
        "tracelet: run.log_metric(name, value, step) -> aim",
        'aim_run.track(value, name, step, context={"subset": "train"})*',
        "tracelet: run.log_metric -> aim, then run.stop()",
        "hand-written: aim_run.track per point, then close()",
    )
    assert_backend_tables(
        out,
        (
            "1. Caller cost of one logged point: Tracelet vs aim_run.track",
            "2. End to end: 8,000 points into a local AIM repo",
        ),
        rows,
        8000,
    )

    assert "hand-written: 8,000 of 8,000 points, every point as logged, run closed" in out

    # AIM closes its RocksDB stores at exit; a store whose files were already deleted prints a
    # traceback there (and AIM's exit hook then never returns).
    assert "Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
    repo = re.search(r"; repo (\S+);", out)
    assert repo is not None
    assert not Path(repo.group(1)).exists(), "the script's repo folder outlived it"
