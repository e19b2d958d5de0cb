"""The plugin: registers Tracelet's collectors (entry point ``collectors`` in group ``tracelet``).

Importing it imports no collector library (psutil, NVML, GitPython) and nothing of torch,
TensorBoard, Lightning or transformers; each factory imports its own module when a run starts.
Each collector's keys (:mod:`tracelet_collectors.settings`) are top-level settings.
"""

from __future__ import annotations

import importlib
from typing import Any

from tracelet.collector import Collector, CollectorFactory
from tracelet.hookspecs import RegisterCollector, hookimpl
from tracelet_collectors import settings


def _factory(module: str) -> CollectorFactory:
    """A factory that imports ``tracelet_collectors.<module>`` when a run starts and calls its
    ``create(settings)``."""

    def create(settings: Any) -> Collector | None:
        collector: Collector | None = importlib.import_module(
            f"tracelet_collectors.{module}"
        ).create(settings)
        return collector

    return create


@hookimpl
def tracelet_register_collectors(register: RegisterCollector) -> None:
    register(
        "system",
        _factory("system"),
        settings=settings.SystemSettings,
        top_level=True,
        description="CPU, memory, swap, disk and network, and this process's CPU and memory, "
        "every system_metrics_interval seconds (collect_system_metrics).",
    )
    register(
        "gpu",
        _factory("gpu"),
        settings=settings.GpuSettings,
        top_level=True,
        description="NVIDIA GPU utilisation, memory, temperature and power through NVML "
        "(collect_gpu_metrics).",
    )
    register(
        "git",
        _factory("git"),
        settings=settings.GitSettings,
        top_level=True,
        description="Commit, branch, remote and dirty state at run start (git_*).",
    )
    register(
        "environment",
        _factory("environment"),
        settings=settings.EnvironmentSettings,
        top_level=True,
        description="Python, platform, hostname, command line, plugins and installed "
        "distributions at run start (track_environment).",
    )
    register(
        "tensorboard",
        _factory("tensorboard"),
        settings=settings.TensorboardSettings,
        top_level=True,
        description="SummaryWriter calls of torch.utils.tensorboard and tensorboardX, also "
        "sent to the run (capture_tensorboard).",
    )
    register(
        "lightning",
        _factory("lightning_capture"),
        settings=settings.LightningSettings,
        top_level=True,
        description="A TraceletLogger added to Lightning Trainers built without one "
        "(capture_lightning).",
    )
    register(
        "transformers",
        _factory("transformers_capture"),
        settings=settings.TransformersSettings,
        top_level=True,
        description="A TraceletCallback added to Hugging Face Trainers, whose own callbacks "
        "for the run's backends are removed (capture_transformers).",
    )
    register(
        "automagic",
        _factory("automagic"),
        settings=settings.AutomagicSettings,
        top_level=True,
        description="The script's hyperparameter variables, models and datasets, logged as "
        "params when the run stops (automagic, off by default).",
    )
    register(
        "artifacts",
        _factory("artifact_watch"),
        settings=settings.ArtifactCaptureSettings,
        top_level=True,
        description="Model and checkpoint files written during the run, logged as typed "
        "artifacts (automagic_artifacts, off by default).",
    )
