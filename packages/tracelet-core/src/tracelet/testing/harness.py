"""What a backend's tests tell the contract kit: how to select the backend, what it declares
it stores, and how to read a run back through the backend's own reader."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tracelet.artifacts.manifest import MANIFEST_FILE, ArtifactFile, ArtifactInfo, parse_manifest
from tracelet.testing.checks import expect

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost
    from tracelet.run import Run


@dataclass
class StoredRun:
    """A run as the backend stored it, in Tracelet's terms.

    Attributes:
        metrics: Metric name → ``(step, value)`` pairs in the backend's stored order.
        metric_times: Metric name → the stored timestamp (seconds since the epoch) of each point
            of :attr:`metrics`, in the same order. Leave it empty only when the harness declares
            ``timestamp_precision = None``.
        params: Param name → value as the backend stores it (compared as text).
        tags: Tag name → value.
        artifacts: Artifact path (``"models/best.pt"``; files of a logged directory as
            ``"<name>/<relative path>"``) → content.
        status: ``"finished"``, ``"failed"`` or ``"killed"`` once closed. ``None`` is accepted
            only when the harness declares ``stores_status = False``.
        name: The run's name as stored, if the backend stores one.
        images: Image name → ``(step, encoded image file)`` pairs (PNG, or any format Pillow
            reads), for a backend that declares ``images``.
        histograms: Histogram name → ``(step, counts per bin)`` pairs, for ``histograms``.
        texts: Text name → ``(step, text)`` pairs, for ``text``.
    """

    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    metric_times: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    status: str | None = None
    name: str | None = None
    images: dict[str, list[tuple[int, bytes]]] | None = None
    histograms: dict[str, list[tuple[int, list[float]]]] | None = None
    texts: dict[str, list[tuple[int, str]]] | None = None


class BackendHarness:
    """How the contract drives one backend. Subclass it; set :attr:`backend`; implement ``read``.

    Attributes:
        backend: The backend's name (what users pass as ``backend=``).
        host: The plugin host to use; ``None`` uses the default one (installed plugins).
        killed_status: What the backend reports after ``run.stop("killed")`` (a backend with no
            "killed" state may report ``"failed"``).
        stores_status: ``False`` when the tool has no run status (the kit then expects
            :attr:`StoredRun.status` to be ``None``).
        timestamp_precision: How close, in seconds, a stored point's timestamp must be to the
            time of the ``log_metric`` call. ``None`` when the tool records its own time (of
            delivery) or none: the kit then checks no timestamps.
        image_tolerance: How far a stored pixel may be from the logged one, per channel (0 for
            lossless formats; a tool that stores JPEG needs more).
    """

    backend: ClassVar[str] = ""
    host: PluginHost | None = None
    killed_status: ClassVar[str] = "killed"
    stores_status: ClassVar[bool] = True
    timestamp_precision: ClassVar[float | None] = 0.001
    image_tolerance: ClassVar[int] = 0

    def config(self) -> dict[str, Any]:
        """The ``config`` argument for ``start_logging`` (e.g. a temp dir for the backend)."""
        return {}

    def read(self, run: Run) -> StoredRun:
        """Read the (stopped) run back through the backend's own reader."""
        raise NotImplementedError

    def read_typed_artifacts(self, run: Run) -> list[ArtifactInfo]:
        """The typed artifact versions (:mod:`tracelet.artifacts`) the (stopped) run stored, read
        back through the backend's own reader, for a backend that declares ``artifacts``.

        The default finds them among the files :meth:`read` returns: each
        ``<type>/<name>/v<N>/manifest.json`` in :attr:`StoredRun.artifacts` with the files
        stored next to it (:func:`tracelet.testing.typed_artifacts_in`), which is how a backend
        that stores a typed version as the folder record it is keeps it. Override it for a
        backend that maps typed artifacts natively (a W&B Artifact, a ClearML upload with its
        metadata): return one :class:`~tracelet.artifacts.ArtifactInfo` per stored version
        with the name, type, version, description and metadata as the tool shows them, and
        ``files`` made from the stored bytes (:func:`tracelet.testing.file_entries`), never
        copied from a manifest.

        Raises:
            ContractError: A stored ``manifest.json`` lists other files than the folder holds,
                or describes another version than the folder it is in.
        """
        return typed_artifacts_in(self.read(run).artifacts, backend=self.backend)


def file_entries(contents: Mapping[str, bytes]) -> tuple[ArtifactFile, ...]:
    """The :class:`~tracelet.artifacts.ArtifactFile` entries (path, size, SHA-256) of files as
    stored: path inside the artifact → content, in path order."""
    return tuple(
        ArtifactFile(path, len(data), hashlib.sha256(data).hexdigest())
        for path, data in sorted(contents.items())
    )


def typed_artifacts_in(artifacts: Mapping[str, bytes], **where: Any) -> list[ArtifactInfo]:
    """The typed artifact versions among stored artifact files (``StoredRun.artifacts``): each
    folder ``<type>/<name>/v<N>`` holding a Tracelet ``manifest.json``, read from that manifest,
    with ``files`` made from the other files stored in the folder (:func:`file_entries`).
    ``where`` sets ``backend``, ``uri`` or ``path`` of each (see
    :func:`~tracelet.artifacts.parse_manifest`). A ``manifest.json`` that is not Tracelet's is
    a plain file and skipped. Sorted by name, then version.

    Raises:
        ContractError: A manifest lists other files than its folder holds, or describes another
            version than the folder it is in.
    """
    found = []
    suffix = "/" + MANIFEST_FILE
    for key, data in artifacts.items():
        if not key.endswith(suffix):
            continue
        folder = key.removesuffix(suffix)
        try:
            manifest = parse_manifest(json.loads(data), **where)
        except (ValueError, KeyError, TypeError):
            continue
        expect(
            manifest.folder == folder,
            f"the manifest.json stored in {folder!r} describes another typed artifact version",
            manifest.folder,
            folder,
            "store a typed artifact version's folder record under its own name, "
            "'<type>/<name>/v<N>', manifest included and unchanged",
        )
        prefix = folder + "/"
        stored = file_entries(
            {k.removeprefix(prefix): v for k, v in artifacts.items() if k.startswith(prefix)}
        )
        stored = tuple(f for f in stored if f.path != MANIFEST_FILE)
        expect(
            {f.path for f in stored} == {f.path for f in manifest.files},
            f"the folder {folder!r} holds other files than its manifest.json lists",
            sorted(f.path for f in manifest.files),
            sorted(f.path for f in stored),
            "store every file of a typed artifact version's folder record, under its path "
            "inside the folder",
        )
        found.append(dataclasses.replace(manifest, files=stored))
    return sorted(found, key=lambda a: (a.name, a.version))
