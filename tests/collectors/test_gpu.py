"""The GPU collector.

This machine has no NVIDIA GPU: the mapping from NVML readings to metric names is tested with a
stand-in NVML module (:mod:`support.nvml_standin`); the real nvidia-ml-py is tested for what it
does here, report that there is no driver. On a GPU machine, ``benchmarks/check_gpu.py`` is the
real path.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import pytest
from support.collector_runs import start_only
from support.nvml_standin import StandInNvml, has_nvidia_gpu

import tracelet
from tracelet.backends import memory

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def start(**config: Any) -> tracelet.Run:
    """A run with only the GPU collector's records."""
    return start_only("collect_gpu_metrics", **config)


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> StandInNvml:
    """The stand-in, imported by the collector as ``pynvml``."""
    standin = StandInNvml()
    monkeypatch.setitem(sys.modules, "pynvml", standin)  # type: ignore[arg-type]
    return standin


def test_readings_become_system_gpu_metrics(nvml: StandInNvml) -> None:
    run = start(system_metrics_interval=0.1)
    time.sleep(0.45)
    assert run.stop()
    stored = memory.stored(run)
    last = {name: points[-1].value for name, points in stored.metrics.items()}
    assert last == {
        "system/gpu.0.utilization_percent": 87.0,
        "system/gpu.0.memory_used_mb": 30_000.0,
        "system/gpu.0.memory_total_mb": 80_000.0,
        "system/gpu.0.memory_percent": 37.5,
        "system/gpu.0.temperature_c": 71.0,
        "system/gpu.0.power_w": 312.5,
        "system/gpu.1.utilization_percent": 5.0,
        "system/gpu.1.memory_used_mb": 1_000.0,
        "system/gpu.1.memory_total_mb": 16_000.0,
        "system/gpu.1.memory_percent": 6.25,
        "system/gpu.1.temperature_c": 40.0,
        # no power for device 1: its board does not report it
    }
    assert 3 <= len(stored.steps("system/gpu.0.power_w")) <= 5
    assert stored.steps("system/gpu.0.power_w") == list(
        range(len(stored.steps("system/gpu.0.power_w")))
    )
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


def test_ranks_keep_their_gpu_series_apart(
    nvml: StandInNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    run = start(system_metrics_interval=0.1, log_all_ranks=True)
    time.sleep(0.25)
    assert run.stop()
    names = set(memory.stored(run).metrics)
    assert "system/rank.1/gpu.0.utilization_percent" in names
    assert all(n.startswith("system/rank.1/gpu.") for n in names)


def test_no_gpu_on_the_stand_in_is_one_info_line(
    nvml: StandInNvml, caplog: pytest.LogCaptureFixture
) -> None:
    nvml.devices.clear()
    with caplog.at_level(logging.INFO, logger="tracelet.collectors.gpu"):
        run = start(system_metrics_interval=0.05)
        time.sleep(0.2)
        assert run.stop()
    assert memory.stored(run).metrics == {}
    assert [r.getMessage() for r in caplog.records if r.name == "tracelet.collectors.gpu"] == [
        "tracelet: no GPU metrics: NVML found no GPU"
    ]
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


@pytest.mark.skipif(has_nvidia_gpu(), reason="this machine has an NVIDIA GPU and driver")
def test_without_a_driver_the_real_nvml_gives_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="tracelet.collectors.gpu"):
        run = start(system_metrics_interval=0.05, collect_system_metrics=True)
        run.log_metric("loss", 1.0, step=0)
        time.sleep(0.2)
        assert run.stop()
    stored = memory.stored(run)
    assert not [n for n in stored.metrics if ".gpu" in n or "/gpu" in n]
    assert "system/cpu_percent" in stored.metrics  # the other collectors are unaffected
    assert stored.values("loss") == [1.0]
    lines = [r.getMessage() for r in caplog.records if r.name == "tracelet.collectors.gpu"]
    assert len(lines) == 1
    assert lines[0].startswith("tracelet: no GPU metrics: no NVIDIA driver found (NVML: ")
