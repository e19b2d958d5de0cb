"""Artifacts in ClearML: uploading a file or folder record, and typed artifact versions stored and
read back.

An artifact record is uploaded with ``Task.upload_artifact`` under its name (a folder is zipped,
ClearML's way). A typed artifact version (``<type>/<name>/v<N>``) carries the artifact metadata
:func:`typed_artifact_metadata` (type, name, version, description and the whole manifest), from
which :func:`typed_artifacts` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracelet.artifacts.manifest import ArtifactInfo, parse_manifest
from tracelet.artifacts.store import typed_manifest
from tracelet.backend_kit import PlannedCall, artifact_source
from tracelet.records import Artifact

if TYPE_CHECKING:
    from clearml import Task

#: The artifact metadata key holding a typed artifact's whole manifest (JSON).
MANIFEST_METADATA_KEY = "tracelet_manifest"


def typed_artifact_metadata(typed: ArtifactInfo) -> dict[str, str]:
    """The ClearML artifact metadata of a typed artifact version: ``type``, ``name``,
    ``version`` and ``description`` to read in the UI, the manifest as JSON for Tracelet."""
    return {
        "type": typed.type.value,
        "name": typed.name,
        "version": str(typed.version),
        "description": typed.description or "",
        MANIFEST_METADATA_KEY: json.dumps(typed.manifest(), sort_keys=True),
    }


def typed_artifact_of(metadata: Mapping[str, Any], uri: str | None = None) -> ArtifactInfo | None:
    """The typed artifact whose ClearML metadata is ``metadata``, or ``None`` for another one."""
    text = metadata.get(MANIFEST_METADATA_KEY)
    if not isinstance(text, str):
        return None
    try:
        return parse_manifest(json.loads(text), backend="clearml", uri=uri)
    except (ValueError, KeyError, TypeError):
        return None


def artifact_call(task: Task, artifact: Artifact) -> PlannedCall:
    """The call that uploads ``artifact`` to the task under its name, waiting for the upload,
    with :func:`typed_artifact_metadata` when it is a typed artifact version. The call raises
    what ClearML raises, or ``RejectedError`` when the artifact was deleted before upload
    (:func:`~tracelet.backend_kit.artifact_source`)."""

    def upload() -> None:
        source = artifact_source(artifact)
        typed = typed_manifest(artifact)
        metadata = None if typed is None else typed_artifact_metadata(typed)
        task.upload_artifact(
            artifact.name, artifact_object=source, metadata=metadata, wait_on_upload=True
        )

    return upload


def typed_artifacts(task: Task) -> list[ArtifactInfo]:
    """Every typed artifact version uploaded to the task, read from its artifacts' metadata and
    sorted by name and version (an artifact without Tracelet's manifest is skipped)."""
    found = []
    for key, artifact in dict(task.artifacts).items():
        info = typed_artifact_of(artifact.metadata or {}, uri=artifact.url or key)
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda a: (a.name, a.version))
