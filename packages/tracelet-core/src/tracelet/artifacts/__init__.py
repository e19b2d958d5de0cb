"""Typed, versioned artifacts: a model, a dataset, a report... logged as one named unit.

::

    artifact = run.create_artifact("classifier", ArtifactType.MODEL, description="best")
    artifact.add_file("model.pt").add_metadata({"accuracy": 0.93})
    info = run.log_artifact(artifact)          # version 0, then 1, 2, ...
    run.get_artifact("classifier").files       # read back from the run folder

* :mod:`tracelet.artifacts.types`: :class:`ArtifactType`.
* :mod:`tracelet.artifacts.builder`: :class:`TypedArtifact`, what you fill.
* :mod:`tracelet.artifacts.manifest`: ``manifest.json`` and :class:`ArtifactInfo`, what you
  read back.
* :mod:`tracelet.artifacts.store`: how a typed artifact becomes a folder in the run folder and
  an ordinary artifact record in the journal, and :func:`typed_manifest` for backends.

See ``docs/artifacts.md``.
"""

from tracelet.artifacts.builder import TypedArtifact
from tracelet.artifacts.manifest import (
    MANIFEST_FILE,
    ArtifactFile,
    ArtifactInfo,
    ArtifactReference,
    artifact_folder,
    parse_manifest,
    read_manifest,
)
from tracelet.artifacts.store import list_folder, stage, typed_manifest
from tracelet.artifacts.types import ArtifactType

#: The name earlier Tracelet releases used for the builder.
Artifact = TypedArtifact

__all__ = [
    "MANIFEST_FILE",
    "Artifact",
    "ArtifactFile",
    "ArtifactInfo",
    "ArtifactReference",
    "ArtifactType",
    "TypedArtifact",
    "artifact_folder",
    "list_folder",
    "parse_manifest",
    "read_manifest",
    "stage",
    "typed_manifest",
]
