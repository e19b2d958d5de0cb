"""The ``gpu`` collector: NVIDIA GPU utilisation, memory, temperature and power through NVML.

With ``collect_gpu_metrics`` on, every ``system_metrics_interval`` seconds, on its own thread,
it logs for each device ``<i>`` (NVML's index, which ignores ``CUDA_VISIBLE_DEVICES``), under the
system prefix (``system/``, see :mod:`tracelet_collectors.naming`):

====================================  =======================================================
``gpu.<i>.utilization_percent``       time a kernel was running over the last sample period
``gpu.<i>.memory_used_mb``            device memory in use (MB = 10⁶ bytes)
``gpu.<i>.memory_total_mb``           device memory in total
``gpu.<i>.memory_percent``            device memory in use, % of the total
``gpu.<i>.temperature_c``             core temperature, °C
``gpu.<i>.power_w``                   power draw, watts
====================================  =======================================================

A reading a device does not support is left out for that device. No NVIDIA driver, no NVML
library or no device: one info line, and the collector stays off.
"""

from __future__ import annotations

import logging
from typing import Any

from tracelet_collectors.naming import system_prefix
from tracelet_collectors.periodic import Clock, PeriodicCollector

logger = logging.getLogger("tracelet.collectors.gpu")

MB = 1e6


class GpuReader:
    """Reads every device through ``nvml`` (the ``pynvml`` module of nvidia-ml-py, initialised)."""

    def __init__(self, nvml: Any, count: int) -> None:
        self.nvml = nvml
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            for name, value in self._device(handle).items():
                out[f"gpu.{i}.{name}"] = value
        return out

    def _device(self, handle: Any) -> dict[str, float]:
        nvml = self.nvml

        def get(read: Any, *args: Any) -> Any:
            try:
                return read(handle, *args)
            except nvml.NVMLError:  # NotSupported on this device, or a transient error
                return None

        out: dict[str, float] = {}
        utilization = get(nvml.nvmlDeviceGetUtilizationRates)
        if utilization is not None:
            out["utilization_percent"] = float(utilization.gpu)
        memory = get(nvml.nvmlDeviceGetMemoryInfo)
        if memory is not None:
            out["memory_used_mb"] = memory.used / MB
            out["memory_total_mb"] = memory.total / MB
            if memory.total:
                out["memory_percent"] = 100.0 * memory.used / memory.total
        temperature = get(nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU)
        if temperature is not None:
            out["temperature_c"] = float(temperature)
        milliwatts = get(nvml.nvmlDeviceGetPowerUsage)
        if milliwatts is not None:
            out["power_w"] = milliwatts / 1000.0
        return out


def _load_nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        logger.info("tracelet: no GPU metrics: nvidia-ml-py is not installed (%s)", exc)
        return None
    return pynvml


def create(settings: Any, nvml: Any = None, clock: Clock | None = None) -> PeriodicCollector | None:
    """The factory: a collector when ``collect_gpu_metrics`` is on and NVML finds a device.

    Args:
        settings: The resolved settings.
        nvml: The NVML module to use; default: ``pynvml`` from nvidia-ml-py.
        clock: The sampling thread's clock; default: the real one.
    """
    if not settings.collect_gpu_metrics:
        return None
    nvml = nvml if nvml is not None else _load_nvml()
    if nvml is None:
        return None
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        logger.info("tracelet: no GPU metrics: no NVIDIA driver found (NVML: %s)", exc)
        return None
    try:
        count = nvml.nvmlDeviceGetCount()
        reader = GpuReader(nvml, count)
    except nvml.NVMLError as exc:
        logger.info("tracelet: no GPU metrics: NVML could not list the GPUs (%s)", exc)
        count = 0
    else:
        if not count:
            logger.info("tracelet: no GPU metrics: NVML found no GPU")
    if not count:
        nvml.nvmlShutdown()
        return None
    return PeriodicCollector(
        "gpu",
        settings.system_metrics_interval,
        reader.read,
        system_prefix(),
        close=nvml.nvmlShutdown,
        clock=clock,
    )
