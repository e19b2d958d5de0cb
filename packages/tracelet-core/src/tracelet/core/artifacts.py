"""``from tracelet.core.artifacts import ArtifactType``, as in earlier Tracelet releases: the same
names as :mod:`tracelet.artifacts`."""

from tracelet.artifacts import Artifact, ArtifactInfo, ArtifactType, TypedArtifact

__all__ = ["Artifact", "ArtifactInfo", "ArtifactType", "TypedArtifact"]
