"""The manifest of a typed artifact: ``manifest.json`` in its folder ``<type>/<name>/v<N>/``.

One JSON object, written once when the artifact is logged and never changed::

    {
      "tracelet_artifact": 1,            # format version; marks the folder as a typed artifact
      "name": "classifier", "type": "model", "version": 0,
      "description": "...", "metadata": {...},
      "files": [{"path": "weights.pt", "size": 1234, "sha256": "..."}],
      "references": [{"uri": "s3://bucket/data.csv", "name": "data.csv"}],
      "run_id": "...", "created": 1796004121.5
    }

``files`` lists every file of the folder but ``manifest.json`` itself, with paths relative to
the folder (``/``-separated). A backend that does not know typed artifacts stores the folder as
it stores any folder, manifest included, so the artifact stays readable there too.

:class:`ArtifactInfo` is the manifest read back, plus where it was read from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracelet.artifacts.types import ArtifactType, artifact_type

#: The manifest's file name inside the artifact's folder.
MANIFEST_FILE = "manifest.json"
#: The manifest format version (the value of its ``tracelet_artifact`` key).
MANIFEST_FORMAT = 1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_artifact_name(name: object) -> str:
    """``name`` if it is a valid typed artifact name: letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit, at most 128 characters (valid as a folder name and as a W&B
    artifact name).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: It has other characters (a ``/`` among them), or is empty or too long.
    """
    if not isinstance(name, str):
        raise TypeError(f"artifact name must be a string, got {type(name).__name__}")
    if not _NAME.match(name):
        raise ValueError(
            f"invalid artifact name {name!r}: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )
    return name


def artifact_folder(type_: ArtifactType, name: str, version: int) -> str:
    """Where a version of a typed artifact lives among the run's artifacts:
    ``<type>/<name>/v<N>`` (also its record name in the journal)."""
    return f"{type_.value}/{name}/v{version}"


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One file of a typed artifact.

    Attributes:
        path: Its path inside the artifact (``/``-separated).
        size: Its size in bytes.
        sha256: The hex SHA-256 of its content.
    """

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ArtifactReference:
    """An external object the artifact points at without holding a copy.

    Attributes:
        uri: Where the object is (``s3://...``, ``https://...``, ``file:///...``).
        name: Its name inside the artifact (default: the last part of the URI).
    """

    uri: str
    name: str


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """A logged version of a typed artifact, as read back (``Run.get_artifact``,
    ``Run.list_artifacts``, a backend's ``get_artifact``).

    Attributes:
        name: The artifact's name.
        type: Its :class:`ArtifactType`.
        version: Its version in this run: 0 for the first ``log_artifact`` of this name, then
            1, 2, ... (the ``v<N>`` of its folder).
        description: The description given, or ``None``.
        metadata: The metadata given (JSON values).
        files: Its files (``manifest.json`` not among them), in path order.
        references: The external objects it points at.
        run_id: The Tracelet run that logged it.
        created: When it was logged, seconds since the epoch.
        backend: Where this copy was read from (``"local"``, ``"mlflow"``, ...).
        uri: The backend's address of this version (a folder, an MLflow artifact URI, a W&B
            artifact name ``<name>:v<N>``), when it has one.
        path: The folder on this machine that holds the files, when there is one.
        backend_version: The backend's own version label when it numbers artifacts itself
            (W&B's ``v3`` counts across runs), else ``None``.
    """

    name: str
    type: ArtifactType
    version: int
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    files: tuple[ArtifactFile, ...] = ()
    references: tuple[ArtifactReference, ...] = ()
    run_id: str | None = None
    created: float | None = None
    backend: str | None = None
    uri: str | None = None
    path: Path | None = None
    backend_version: str | None = None

    @property
    def folder(self) -> str:
        """``<type>/<name>/v<N>``: where this version lives among the run's artifacts."""
        return artifact_folder(self.type, self.name, self.version)

    def file_path(self, path: str) -> Path:
        """The local copy of one of its files.

        Raises:
            KeyError: No such file in the artifact.
            FileNotFoundError: This copy has no local folder (read it with the backend's tools).
        """
        if not any(f.path == path for f in self.files):
            raise KeyError(f"artifact {self.name!r} v{self.version} has no file {path!r}")
        if self.path is None:
            raise FileNotFoundError(
                f"artifact {self.name!r} v{self.version} from {self.backend} has no local folder"
            )
        return self.path / path

    def manifest(self) -> dict[str, Any]:
        """The content of ``manifest.json``."""
        return {
            "tracelet_artifact": MANIFEST_FORMAT,
            "name": self.name,
            "type": self.type.value,
            "version": self.version,
            "description": self.description,
            "metadata": self.metadata,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
            "references": [{"uri": r.uri, "name": r.name} for r in self.references],
            "run_id": self.run_id,
            "created": self.created,
        }


def manifest_text(info: ArtifactInfo) -> str:
    """``manifest.json``'s text (indented, keys sorted)."""
    return json.dumps(info.manifest(), indent=2, sort_keys=True) + "\n"


def parse_manifest(data: Any, **where: Any) -> ArtifactInfo:
    """An :class:`ArtifactInfo` from a decoded ``manifest.json``; ``where`` sets ``backend``,
    ``uri``, ``path`` or ``backend_version``.

    Raises:
        ValueError: ``data`` is not a typed artifact manifest (or a newer format).
    """
    if not isinstance(data, dict) or not isinstance(data.get("tracelet_artifact"), int):
        raise ValueError("not a Tracelet artifact manifest")
    if data["tracelet_artifact"] > MANIFEST_FORMAT:
        raise ValueError(
            f"artifact manifest format {data['tracelet_artifact']} is newer than this Tracelet "
            f"reads ({MANIFEST_FORMAT}); upgrade tracelet"
        )
    return ArtifactInfo(
        name=str(data["name"]),
        type=artifact_type(data["type"]),
        version=int(data["version"]),
        description=data.get("description"),
        metadata=dict(data.get("metadata") or {}),
        files=tuple(
            ArtifactFile(str(f["path"]), int(f["size"]), str(f["sha256"]))
            for f in data.get("files") or ()
        ),
        references=tuple(
            ArtifactReference(str(r["uri"]), str(r["name"])) for r in data.get("references") or ()
        ),
        run_id=data.get("run_id"),
        created=data.get("created"),
        **where,
    )


def read_manifest(folder: Path, **where: Any) -> ArtifactInfo | None:
    """The typed artifact whose folder is ``folder`` (``path`` set to it), or ``None`` when it
    holds no readable Tracelet manifest (a plain folder that has a ``manifest.json`` of its own
    is not mistaken for one)."""
    file = folder / MANIFEST_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return parse_manifest(data, path=folder, **where)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def select_version(
    found: list[ArtifactInfo], name: str, version: int | str = "latest"
) -> ArtifactInfo | None:
    """The version asked for among ``found``: ``"latest"`` (the highest), an ``int``, or
    ``"v<N>"``; ``None`` when there is no such version.

    Raises:
        ValueError: ``version`` is none of those forms.
    """
    wanted = parse_version(version)
    same = [a for a in found if a.name == name]
    if not same:
        return None
    if wanted is None:
        return max(same, key=lambda a: a.version)
    return next((a for a in same if a.version == wanted), None)


def parse_version(version: int | str) -> int | None:
    """``None`` for ``"latest"``; the number of ``3``, ``"3"`` or ``"v3"``.

    Raises:
        ValueError: Any other value.
    """
    if isinstance(version, bool):
        raise ValueError(f"invalid artifact version {version!r}")
    if isinstance(version, int):
        if version < 0:
            raise ValueError(f"invalid artifact version {version!r}")
        return version
    if isinstance(version, str):
        text = version.strip().lower()
        if text == "latest":
            return None
        digits = text.removeprefix("v")
        if digits.isdigit():
            return int(digits)
    raise ValueError(f"invalid artifact version {version!r}: use 'latest', 3 or 'v3'")
