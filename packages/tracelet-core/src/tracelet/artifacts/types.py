"""What kind of thing an artifact is: :class:`ArtifactType`."""

from __future__ import annotations

from enum import Enum


class ArtifactType(str, Enum):
    """The kind of a typed artifact. Backends that have artifact types (W&B) use the value as
    the type; the others keep it in the manifest and in the artifact's folder,
    ``<type>/<name>/v<N>/``. The values are the lowercase names (``ArtifactType.MODEL.value ==
    "model"``); ``ArtifactType("model")`` reads one back."""

    MODEL = "model"
    CHECKPOINT = "checkpoint"
    WEIGHTS = "weights"
    DATASET = "dataset"
    SAMPLE = "sample"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    VISUALIZATION = "visualization"
    REPORT = "report"
    CONFIG = "config"
    CODE = "code"
    EVALUATION = "evaluation"
    CUSTOM = "custom"

    def __str__(self) -> str:
        return self.value


def artifact_type(value: ArtifactType | str) -> ArtifactType:
    """``value`` as an :class:`ArtifactType` (its value or its name, any case).

    Raises:
        ValueError: No such type (the message lists the types).
    """
    if isinstance(value, ArtifactType):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        for member in ArtifactType:
            if text == member.value:
                return member
    known = ", ".join(m.value for m in ArtifactType)
    raise ValueError(f"unknown artifact type {value!r}; one of: {known}")
