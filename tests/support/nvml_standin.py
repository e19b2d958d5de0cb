"""A stand-in for the ``pynvml`` module of nvidia-ml-py, for the GPU collector's tests.

This machine has no NVIDIA GPU and no driver, so the real NVML cannot report a device here
(the real module is still tested for that case). The stand-in answers the calls the collector
makes with fixed readings of two devices; the second one does not support power readings, as
some boards do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace


class NVMLError(Exception):
    """Like ``pynvml.NVMLError``."""


class NVMLError_NotSupported(NVMLError):
    """Like ``pynvml.NVMLError_NotSupported``."""


NVML_TEMPERATURE_GPU = 0


def has_nvidia_gpu() -> bool:
    """Whether the real NVML (nvidia-ml-py) finds a driver here: tests of the no-GPU case skip
    on a machine that has one."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@dataclass
class Device:
    utilization: int  # %
    memory_used: int  # bytes
    memory_total: int  # bytes
    temperature: int  # °C
    power: int | None  # milliwatts; None: not supported


@dataclass
class StandInNvml:
    """The module's functions, over ``devices``; counts ``nvmlInit``/``nvmlShutdown`` calls."""

    devices: list[Device] = field(
        default_factory=lambda: [
            Device(87, 30_000_000_000, 80_000_000_000, 71, 312_500),
            Device(5, 1_000_000_000, 16_000_000_000, 40, None),
        ]
    )
    inits: int = 0
    shutdowns: int = 0
    NVMLError: type[Exception] = NVMLError
    NVML_TEMPERATURE_GPU: int = NVML_TEMPERATURE_GPU

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Device:
        return self.devices[index]

    def nvmlDeviceGetUtilizationRates(self, handle: Device) -> SimpleNamespace:
        return SimpleNamespace(gpu=handle.utilization, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: Device) -> SimpleNamespace:
        free = handle.memory_total - handle.memory_used
        return SimpleNamespace(used=handle.memory_used, total=handle.memory_total, free=free)

    def nvmlDeviceGetTemperature(self, handle: Device, sensor: int) -> int:
        assert sensor == NVML_TEMPERATURE_GPU
        return handle.temperature

    def nvmlDeviceGetPowerUsage(self, handle: Device) -> int:
        if handle.power is None:
            raise NVMLError_NotSupported("Not Supported")
        return handle.power
