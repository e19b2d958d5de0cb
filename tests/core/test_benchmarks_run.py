"""``benchmarks/bench_core.py`` runs, prints its tables and passes its correctness checks.

Timings are never asserted: they depend on the machine and on what else runs on it. What is
asserted is what the script verifies about Tracelet itself (no point lost on the way to the
``local`` backend, no heavy module loaded by ``import tracelet``), and that each timing
target's PASS or FAIL is the one its printed figures imply, whichever it is.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_core.py"

#: The target lines: the limit, the measured figure and the verdict, as printed.
CALL_TARGET = re.compile(
    r"^target: run\.log_metric with 4 backends <= (?P<limit>[\d,]+) ns/call \(median\): "
    r"(?P<measured>[\d,]+) ns -> (?P<verdict>PASS|FAIL)$",
    re.MULTILINE,
)
IMPORT_TARGET = re.compile(
    r"^target: import (?P<module>\S+) adds <= (?P<limit>[\d.]+) ms \(median\): "
    r"(?P<measured>-?[\d.]+) ms -> (?P<verdict>PASS|FAIL)$",
    re.MULTILINE,
)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _one_target(pattern: re.Pattern[str], out: str) -> re.Match[str]:
    """The one line of ``pattern`` in ``out``, whose verdict must be what its figures imply:
    PASS when the measured figure is at most the limit."""
    found = list(pattern.finditer(out))
    assert len(found) == 1, out
    line = found[0]
    implied = "PASS" if _number(line["measured"]) <= _number(line["limit"]) else "FAIL"
    assert line["verdict"] == implied, line[0]
    return line


def _first_figure(out: str, label: str) -> float:
    """The first figure (the median column) of the table row named ``label``."""
    rows = [line for line in out.splitlines() if line.startswith(label + "  ")]
    assert len(rows) == 1, (label, out)
    return _number(rows[0][len(label) :].split()[0])


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_quick_run_prints_every_table_and_passes_its_checks() -> None:
    # Section 1's target far above any cost, so its verdict must be PASS (the heavy import
    # below must FAIL): both verdicts are checked, whatever the machine's speed.
    proc = _bench("--quick", "--call-target-ns", "1e9")
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
    # Each verdict matches its figures, and the figure is the table's (the median column).
    call = _one_target(CALL_TARGET, out)
    assert (call["limit"], call["verdict"]) == ("1,000,000,000", "PASS")
    assert _number(call["measured"]) == _first_figure(out, "run.log_metric, 4 backends")
    imported = _one_target(IMPORT_TARGET, out)
    assert imported["module"] == "tracelet"
    assert _number(imported["measured"]) == _first_figure(out, "difference")
    medians = [_first_figure(out, f"python -c {c}") for c in ('"import tracelet"', "pass")]
    assert abs(_number(imported["measured"]) - (medians[0] - medians[1])) <= 0.15, medians

    assert "every no-op backend received every point (none missing)" in out
    assert "20,000 of 20,000 points, none missing" in out
    assert "no heavy modules imported" in out
    assert "all correctness checks passed" in out


def test_a_heavy_import_fails_the_run_and_is_named() -> None:
    # tracelet.settings loads pydantic by design: the check must catch it and fail the script.
    # A target of 0 ms, which importing pydantic cannot meet: the verdict must be FAIL.
    proc = _bench(
        "--quick", "--only", "import", "--module", "tracelet.settings", "--import-target-ms", "0"
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    failed = [line for line in out.splitlines() if line.startswith("FAILED: heavy modules")]
    assert len(failed) == 1, out
    assert "pydantic" in failed[0]
    assert "pydantic_settings" in failed[0]
    assert "no heavy modules imported" not in out
    imported = _one_target(IMPORT_TARGET, out)
    assert (imported["module"], imported["limit"], imported["verdict"]) == (
        "tracelet.settings",
        "0",
        "FAIL",
    )
    # over the limit, the script explains where the import time goes
    assert "import cost by module (python -X importtime" in out


AUTOMAGIC_TARGET = re.compile(
    r"^target: automagic on costs nothing measurable per step: (?P<measured>[-+][\d.]+) "
    r"ns/step vs off, within the off rounds' spread or 5% \((?P<limit>[\d.]+) ns\) "
    r"-> (?P<verdict>PASS|FAIL)$",
    re.MULTILINE,
)


def test_bench_automagic_quick_checks_what_automagic_logged_and_prints_a_true_verdict() -> None:
    bench = BENCH.with_name("bench_automagic.py")
    result = subprocess.run(
        [sys.executable, str(bench), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all correctness checks passed" in result.stdout
    _one_target(AUTOMAGIC_TARGET, result.stdout)
    for row in ("automagic off", "automagic on", "describe_model, 20 x Linear(256, 256)"):
        assert _first_figure(result.stdout, row) > 0
