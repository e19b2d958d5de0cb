"""``from tracelet.core.orchestrator import MetricType``, as in earlier Tracelet releases.

Only the metric kinds are kept, for
:meth:`tracelet.frameworks.pytorch.PyTorchFramework.log_enhanced_metric`; the earlier
orchestrator's work (queues, routing to backends) is today's dispatcher (:mod:`tracelet.dispatch`).
"""

from __future__ import annotations

from enum import Enum


class MetricType(str, Enum):
    """The earlier kinds of a logged value; a member equals its lowercase value
    (``MetricType.HISTOGRAM == "histogram"``), so either may be passed."""

    SCALAR = "scalar"
    TENSOR = "tensor"
    ARTIFACT = "artifact"
    PARAMETER = "parameter"
    SYSTEM = "system"
    CUSTOM = "custom"
    HISTOGRAM = "histogram"
    IMAGE = "image"
    TEXT = "text"
    FIGURE = "figure"
    EMBEDDING = "embedding"
    VIDEO = "video"
    AUDIO = "audio"
    MESH = "mesh"
    HPARAMS = "hparams"


__all__ = ["MetricType"]
