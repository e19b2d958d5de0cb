"""The GPU collector.

This machine has no NVIDIA GPU: the mapping from NVML readings to metric names is tested with a
stand-in NVML module (:mod:`support.nvml_standin`); the real nvidia-ml-py is tested for what it
does here, report that there is no driver. On a GPU machine, ``benchmarks/check_gpu.py`` is the
real path. The sampling thread is driven by a :class:`~collectors.sampling.ManualClock`: exactly
one sample per tick, no sleep.
"""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from support.collector_runs import start_only
from support.nvml_standin import StandInNvml, has_nvidia_gpu

import tracelet
from collectors.sampling import ManualClock, collecting, wait_for_sample
from tracelet.backends import memory
from tracelet_collectors import gpu
from tracelet_collectors.periodic import PeriodicCollector

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def start(**config: Any) -> tracelet.Run:
    """A run with only the GPU collector's records."""
    return start_only("collect_gpu_metrics", **config)


def gpu_collector(clock: ManualClock) -> PeriodicCollector:
    """The GPU collector from its factory (NVML imported as ``pynvml``), on ``clock``."""
    settings = SimpleNamespace(collect_gpu_metrics=True, system_metrics_interval=0.5)
    collector = gpu.create(settings, clock=clock)
    assert collector is not None
    return collector


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> StandInNvml:
    """The stand-in, imported by the collector as ``pynvml``."""
    standin = StandInNvml()
    monkeypatch.setitem(sys.modules, "pynvml", standin)  # type: ignore[arg-type]
    return standin


def test_readings_become_system_gpu_metrics(nvml: StandInNvml) -> None:
    clock = ManualClock(0.0)
    with collecting(gpu_collector(clock)) as run:
        assert (nvml.inits, nvml.shutdowns) == (1, 0)
        clock.tick(3)
    assert clock.samples_at == [0.5, 1.0, 1.5]
    stored = memory.stored(run)
    series = {name: [(p.step, p.value) for p in points] for name, points in stored.metrics.items()}
    expected = {
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
    assert series == {name: [(0, v), (1, v), (2, v)] for name, v in expected.items()}
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


def test_ranks_keep_their_gpu_series_apart(
    nvml: StandInNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    clock = ManualClock(0.0)
    with collecting(gpu_collector(clock), log_all_ranks=True) as run:
        clock.tick()
    names = set(memory.stored(run).metrics)
    assert len(names) == 11
    assert "system/rank.1/gpu.0.utilization_percent" in names
    assert all(n.startswith("system/rank.1/gpu.") for n in names)


def test_no_gpu_on_the_stand_in_is_one_info_line(
    nvml: StandInNvml, caplog: pytest.LogCaptureFixture
) -> None:
    nvml.devices.clear()
    with caplog.at_level(logging.INFO, logger="tracelet.collectors.gpu"):
        run = start(system_metrics_interval=0.05)
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
        wait_for_sample(run, "system/cpu_percent")  # the other collectors are unaffected
        assert run.stop()
    stored = memory.stored(run)
    assert not [n for n in stored.metrics if ".gpu" in n or "/gpu" in n]
    assert stored.values("loss") == [1.0]
    lines = [r.getMessage() for r in caplog.records if r.name == "tracelet.collectors.gpu"]
    assert len(lines) == 1
    assert lines[0].startswith("tracelet: no GPU metrics: no NVIDIA driver found (NVML: ")
