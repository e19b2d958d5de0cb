"""Building a typed artifact before logging it: :class:`TypedArtifact`.

The builder only records what to put in the artifact (and checks it at once: a missing file is
an error at ``add_file``, not later on another thread). Nothing is copied until the artifact is
logged; objects and models are serialized when they are added, so a later change to the object
does not change the artifact.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from tracelet.artifacts.manifest import MANIFEST_FILE, ArtifactReference, check_artifact_name
from tracelet.artifacts.types import ArtifactType, artifact_type

__all__ = ["TypedArtifact"]

Serializer = Literal["json", "pickle"]


@dataclass(frozen=True, slots=True)
class FileSource:
    """A file to copy into the artifact at ``dest``."""

    source: Path
    dest: str


@dataclass(frozen=True, slots=True)
class BytesSource:
    """Content (a serialized object) to write into the artifact at ``dest``."""

    data: bytes
    dest: str


def _dest(path: str, what: str) -> str:
    """``path`` as a clean relative ``/``-separated path inside the artifact.

    Raises:
        ValueError: It is empty, absolute, climbs out with ``..``, or is ``manifest.json``.
    """
    text = path.replace("\\", "/").strip("/")
    parts = PurePosixPath(text).parts
    if not text or ".." in parts or path.startswith("/"):
        raise ValueError(f"{what}: invalid path inside the artifact {path!r}")
    clean = "/".join(p for p in parts if p != ".")
    if clean == MANIFEST_FILE:
        raise ValueError(f"{what}: {MANIFEST_FILE!r} is reserved for the artifact's manifest")
    return clean


class TypedArtifact:
    """A named, typed set of files, references and metadata, logged as one versioned artifact.

    Create it with ``run.create_artifact(name, type)`` (or directly), add content, then
    ``run.log_artifact(artifact)``. Logging the same name again makes the next version. Every
    ``add_*`` method returns the artifact, so calls chain.

    Args:
        name: Letters, digits, ``.``, ``_`` and ``-`` (it becomes a folder name).
        type: An :class:`ArtifactType` or its value (``"model"``).
        description: Free text, kept with the artifact.
        metadata: JSON-able values kept with the artifact (see :meth:`add_metadata`).

    Raises:
        TypeError, ValueError: An invalid name, type or metadata.
    """

    def __init__(
        self,
        name: str,
        type: ArtifactType | str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = check_artifact_name(name)
        self.type = artifact_type(type)
        if description is not None and not isinstance(description, str):
            raise TypeError(f"description must be a string, got {description.__class__.__name__}")
        self.description = description
        self.metadata: dict[str, Any] = {}
        self._files: dict[str, FileSource | BytesSource] = {}
        self._references: dict[str, ArtifactReference] = {}
        if metadata:
            self.add_metadata(metadata)

    # -- content -------------------------------------------------------------------------------

    def add_file(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> TypedArtifact:
        """Add a file, at ``artifact_path`` inside the artifact (default: its file name). It is
        copied when the artifact is logged; a second file at the same path replaces the first.

        Raises:
            FileNotFoundError: ``local_path`` is not a file.
            ValueError: ``artifact_path`` is empty, absolute, has ``..`` or is ``manifest.json``.
        """
        source = Path(local_path).expanduser().resolve()
        if not source.is_file():
            raise FileNotFoundError(f"add_file: {os.fspath(local_path)!r} is not a file")
        dest = _dest(artifact_path or source.name, "add_file")
        self._files[dest] = FileSource(source, dest)
        return self

    def add_dir(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> TypedArtifact:
        """Add every file under a directory, under ``artifact_path`` inside the artifact (default:
        at its top level). The files are listed now and copied when the artifact is logged.

        Raises:
            NotADirectoryError: ``local_dir`` is not a directory.
            ValueError: ``artifact_path`` is invalid (see :meth:`add_file`).
        """
        source = Path(local_dir).expanduser().resolve()
        if not source.is_dir():
            raise NotADirectoryError(f"add_dir: {os.fspath(local_dir)!r} is not a directory")
        prefix = _dest(artifact_path, "add_dir") + "/" if artifact_path else ""
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            dest = _dest(prefix + file.relative_to(source).as_posix(), "add_dir")
            self._files[dest] = FileSource(file, dest)
        return self

    def add_reference(self, uri: str, name: str | None = None) -> TypedArtifact:
        """Point at an external object (``s3://``, ``gs://``, ``https://``, ``file://``)
        without copying it. Backends with references (W&B) store it as one; the others keep it
        in the manifest.

        Raises:
            ValueError: ``uri`` has no scheme (``scheme://...``).
        """
        if not isinstance(uri, str) or "://" not in uri:
            raise ValueError(f"add_reference: {uri!r} is not a URI (scheme://...)")
        ref_name = name or uri.rstrip("/").rsplit("/", 1)[-1] or uri
        self._references[ref_name] = ArtifactReference(uri, ref_name)
        return self

    def add_object(self, obj: Any, name: str, serializer: Serializer = "json") -> TypedArtifact:
        """Serialize an object into the artifact now: ``"json"`` writes ``<name>.json``,
        ``"pickle"`` writes ``<name>.pkl`` (only unpickle what you trust).

        Raises:
            TypeError: ``obj`` cannot be serialized as asked.
            ValueError: An unknown serializer, or an invalid ``name``.
        """
        if serializer == "json":
            try:
                data = json.dumps(obj, indent=2, sort_keys=True).encode()
            except (TypeError, ValueError) as exc:
                raise TypeError(f"add_object({name!r}): not JSON-serializable: {exc}") from exc
            dest = _dest(f"{name}.json", "add_object")
        elif serializer == "pickle":
            try:
                data = pickle.dumps(obj)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise TypeError(f"add_object({name!r}): cannot be pickled: {exc}") from exc
            dest = _dest(f"{name}.pkl", "add_object")
        else:
            raise ValueError(f"add_object: unknown serializer {serializer!r} (json or pickle)")
        self._files[dest] = BytesSource(data, dest)
        return self

    def add_model(self, model: Any, framework: str | None = None) -> TypedArtifact:
        """Serialize a model into the artifact now: a PyTorch module (``framework="pytorch"``,
        or found by its type) as ``model.pt`` (its ``state_dict``, saved with ``torch.save``);
        anything else pickled as ``model.pkl``. ``metadata["framework"]`` says which.

        Raises:
            TypeError: The model cannot be serialized.
            ValueError: An unknown ``framework`` (``pytorch``, ``pickle`` or ``None``).
        """
        chosen = framework or _framework_of(model)
        if chosen in ("pytorch", "torch"):
            import io

            import torch

            buffer = io.BytesIO()
            state = model.state_dict() if hasattr(model, "state_dict") else model
            torch.save(state, buffer)
            self._files["model.pt"] = BytesSource(buffer.getvalue(), "model.pt")
            self.metadata.setdefault("framework", "pytorch")
        elif chosen == "pickle":
            self.add_object(model, "model", serializer="pickle")
            self.metadata.setdefault("framework", "pickle")
        else:
            raise ValueError(f"add_model: unknown framework {framework!r} (pytorch or pickle)")
        return self

    def add_metadata(self, metadata: Mapping[str, Any]) -> TypedArtifact:
        """Merge JSON-able ``metadata`` into :attr:`metadata` (later keys win).

        Raises:
            TypeError: ``metadata`` is not a mapping with string keys and JSON values.
        """
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a mapping, got {type(metadata).__name__}")
        try:
            json.dumps(dict(metadata))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"artifact metadata must be JSON values: {exc}") from exc
        self.metadata.update(metadata)
        return self

    # -- what it holds -------------------------------------------------------------------------

    @property
    def files(self) -> list[str]:
        """The paths inside the artifact that will be written, sorted."""
        return sorted(self._files)

    @property
    def references(self) -> list[ArtifactReference]:
        """The references added, in order."""
        return list(self._references.values())

    def sources(self) -> list[FileSource | BytesSource]:
        """What to write, by path inside the artifact (for logging)."""
        return [self._files[dest] for dest in sorted(self._files)]

    def __repr__(self) -> str:
        return (
            f"<TypedArtifact {self.name!r} type={self.type.value} files={len(self._files)} "
            f"references={len(self._references)}>"
        )


def _framework_of(model: Any) -> str:
    module = type(model).__module__
    if module.startswith("torch") or any(
        c.__module__.startswith("torch.nn") for c in type(model).__mro__
    ):
        return "pytorch"
    return "pickle"
