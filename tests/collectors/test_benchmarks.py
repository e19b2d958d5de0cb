"""``benchmarks/bench_collectors.py`` and ``benchmarks/check_gpu.py`` run and pass their checks.

Timings are never asserted. ``check_gpu.py`` needs an NVIDIA GPU to do its real job: here it is
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
    assert (
        len(re.findall(r"^target: .* costs nothing measurable: .* -> (PASS|FAIL)$", out, re.M)) == 2
    )
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
