"""Running a backend benchmark script's ``--quick`` mode and checking what every one prints.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is the tables and the script's own correctness checks (every point read back).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

#: Column headers every backend script prints (sections 1 and 2).
HEADERS = (
    "median us/call",
    "min us/call",
    "incl. delivery us/call",
    "delivered points/s",
    "points/s per round",
    "rate vs hand-written",
)


def run_quick(
    script: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script> --quick`` (``env``: the whole environment, when given) and
    assert it exited 0."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=None if env is None else dict(env),
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def assert_backend_tables(
    out: str, titles: Sequence[str], rows: Sequence[str], points: int
) -> None:
    """The titles, headers and rows are printed, with the settings and target lines, and the
    script's checks passed: every Tracelet point read back, nothing reported as an error."""
    for line in (*titles, *HEADERS, *rows):
        assert line in out, f"{line!r} missing from:\n{out}"
    assert re.search(r"Tracelet run settings \(defaults\): batch_size=\d+, flush_interval=", out)
    assert re.search(
        r"^target: >= 90% of the hand-written rate: Tracelet at \d+% -> (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )
    assert "delivery check: every point of every row is stored (none missing)" in out
    assert f"tracelet {points:,} of {points:,} points, none missing" in out
    assert "all correctness checks passed" in out
    assert "ERROR" not in out
