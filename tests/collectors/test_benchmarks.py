"""``benchmarks/bench_collectors.py`` and ``benchmarks/check_gpu.py`` run and pass their checks.

Timings are never asserted; each target's PASS or FAIL must be the one its printed figures
imply, whichever it is. ``check_gpu.py`` needs an NVIDIA GPU to do its real job: here it is
run for what it says without one, and its reading and printing are run against the stand-in
NVML module (see :mod:`support.nvml_standin`).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest
from support.benchmarks import BENCHMARKS, run_quick
from support.nvml_standin import StandInNvml, has_nvidia_gpu
from support.processes import run

#: A target line of section 1: the collectors' extra cost, the allowance and the verdict.
COST_TARGET = re.compile(
    r"^target: (?P<label>.+) costs nothing measurable: (?P<diff>[+-][\d,.]+) us/call vs off, "
    r"within the off rounds' spread \((?P<allowed>[\d,.]+) us\) -> (?P<verdict>PASS|FAIL)$",
    re.MULTILINE,
)
#: Rounding slack when a figure is recomputed from the table's rounded ones (3 decimals).
SLACK = 0.002


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _figures(out: str, label: str) -> list[float]:
    """Median, min and max us/call of the section 1 row named ``label``."""
    rows = [line for line in out.splitlines() if line.startswith(label + "  ")]
    assert len(rows) == 1, (label, out)
    return [_number(cell) for cell in rows[0][len(label) :].split()]


def _check_cost_targets(out: str) -> None:
    """Each target's verdict is what its figures imply (PASS when the extra cost is at most
    the allowance), and the figures are the table's: the difference of the medians, and the
    off rounds' spread or 5% of their median, whichever is larger."""
    off_median, off_min, off_max = _figures(out, "collectors off")
    allowed = max(off_max - off_min, 0.05 * off_median)
    lines = list(COST_TARGET.finditer(out))
    assert [m["label"] for m in lines] == [
        "all collectors on (defaults)",
        "all collectors on, system every 0.1 s",
    ], out
    for line in lines:
        diff = _number(line["diff"])
        implied = "PASS" if diff <= _number(line["allowed"]) else "FAIL"
        assert line["verdict"] == implied, line[0]
        assert abs(diff - (_figures(out, line["label"])[0] - off_median)) <= SLACK, line[0]
        assert abs(_number(line["allowed"]) - allowed) <= SLACK, line[0]


def test_bench_collectors_quick() -> None:
    out = run_quick("bench_collectors.py").stdout
    for line in (
        "1. Caller cost of run.log_metric with collectors on and off",
        "2. One-off costs",
        "median us/call",
        "collectors off",
        "all collectors on (defaults)",
        "all collectors on, system every 0.1 s",
        "native: one psutil system sample (collector thread)",
        "start_logging, all collectors on (defaults)",
        "environment: installed distributions (thread)",
        "git: state of this checkout (at start)",
        "3. SummaryWriter.add_scalar with the TensorBoard capture",
        "captured, delivery idle (memory run)",
        "captured into a local run, delivery running",
    ):
        assert line in out, f"{line!r} missing from:\n{out}"
    _check_cost_targets(out)
    assert "FAILED" not in out


@pytest.mark.skipif(has_nvidia_gpu(), reason="this machine has an NVIDIA GPU and driver")
def test_check_gpu_says_there_is_no_gpu_here() -> None:
    result = run([sys.executable, BENCHMARKS / "check_gpu.py", "--seconds", "0.1"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("no GPU metrics on this machine: no NVIDIA driver found")


def _check_gpu_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("check_gpu", BENCHMARKS / "check_gpu.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_gpu_reads_back_every_device(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", StandInNvml())
    assert _check_gpu_module(monkeypatch).main(["--seconds", "1.2"]) == 0
    out = capsys.readouterr().out
    assert "2 GPU(s) listed by NVML" in out
    assert re.search(r"^system/gpu\.0\.power_w\s+\d+\s+312\.5\s+312\.5\s+312\.5$", out, re.M)
    assert re.search(r"^system/gpu\.1\.memory_used_mb\s+\d+\s+1,000\.0", out, re.M)
