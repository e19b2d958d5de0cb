"""The plugin: registers Tracelet's collectors (entry point ``collectors`` in group ``tracelet``).

Importing it imports no collector library (psutil, NVML, GitPython) and nothing of torch,
TensorBoard or Lightning; each factory imports its own module when a run starts.
"""

from __future__ import annotations

from typing import Any

from tracelet.collector import Collector
from tracelet.hookspecs import RegisterCollector, hookimpl


def _system(settings: Any) -> Collector | None:
    from tracelet_collectors import system

    return system.create(settings)


def _gpu(settings: Any) -> Collector | None:
    from tracelet_collectors import gpu

    return gpu.create(settings)


def _git(settings: Any) -> Collector | None:
    from tracelet_collectors import git

    return git.create(settings)


def _environment(settings: Any) -> Collector | None:
    from tracelet_collectors import environment

    return environment.create(settings)


def _tensorboard(settings: Any) -> Collector | None:
    from tracelet_collectors import tensorboard

    return tensorboard.create(settings)


def _lightning(settings: Any) -> Collector | None:
    from tracelet_collectors import lightning_capture

    return lightning_capture.create(settings)


@hookimpl
def tracelet_register_collectors(register: RegisterCollector) -> None:
    register(
        "system",
        _system,
        description="CPU, memory, swap, disk and network, and this process's CPU and memory, "
        "every system_metrics_interval seconds (collect_system_metrics).",
    )
    register(
        "gpu",
        _gpu,
        description="NVIDIA GPU utilisation, memory, temperature and power through NVML "
        "(collect_gpu_metrics).",
    )
    register(
        "git", _git, description="Commit, branch, remote and dirty state at run start (git_*)."
    )
    register(
        "environment",
        _environment,
        description="Python, platform, hostname, command line, plugins and installed "
        "distributions at run start (track_environment).",
    )
    register(
        "tensorboard",
        _tensorboard,
        description="SummaryWriter calls of torch.utils.tensorboard and tensorboardX, also "
        "sent to the run (capture_tensorboard).",
    )
    register(
        "lightning",
        _lightning,
        description="A TraceletLogger added to Lightning Trainers built without one "
        "(capture_lightning).",
    )
