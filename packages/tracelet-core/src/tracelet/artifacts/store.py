"""Logging typed artifacts and reading them back from the run's own folder.

Logging a :class:`~tracelet.artifacts.builder.TypedArtifact` happens in two steps:

1. **On the caller's thread, the artifact's folder is written** under the run's artifacts root:
   ``<root>/<type>/<name>/v<N>/`` with every file copied (hashed while copied) and
   ``manifest.json`` written last. With a journal, the root is the run folder's
   ``artifacts/``: the content is durable (in the journal's folder) before ``log_artifact``
   returns, so a change to or deletion of the source afterwards changes nothing, and
   ``tracelet sync`` can deliver it from the journal later. Without a journal it is a
   temporary folder of this run. The cost is one copy on the caller's thread, which is why
   large external data is better added with ``add_reference``.
2. **The folder is logged as an ordinary artifact record** named ``<type>/<name>/v<N>``: it
   goes through the journal and the delivery workers like every record. A backend that knows
   typed artifacts finds the manifest in the folder (:func:`typed_manifest`) and stores a
   native artifact; any other backend stores the folder as a folder (manifest included).

The version ``N`` counts the artifact's name in this run: 0, 1, 2, ... It is reserved by
creating its folder, so two threads logging the same name get two versions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.artifacts.builder import BytesSource, TypedArtifact
from tracelet.artifacts.manifest import (
    MANIFEST_FILE,
    ArtifactFile,
    ArtifactInfo,
    manifest_text,
    parse_version,
    read_manifest,
    select_version,
)
from tracelet.artifacts.types import ArtifactType, artifact_type

if TYPE_CHECKING:
    from tracelet.backend import Backend
    from tracelet.records import Artifact
    from tracelet.run import Run

__all__ = [
    "artifacts_root",
    "find_artifact",
    "find_artifacts",
    "get_artifact",
    "list_artifacts",
    "list_folder",
    "log_typed",
    "stage",
    "typed_manifest",
]

_COPY_CHUNK = 1 << 20

#: A run without a journal: its temporary artifacts root (removed with the interpreter's temp
#: files, never while a backend may still read it).
_temp_roots: weakref.WeakKeyDictionary[Run, Path] = weakref.WeakKeyDictionary()


def artifacts_root(run: Run) -> Path:
    """Where the run's typed artifacts are written: ``<run folder>/artifacts``, or a temporary
    folder of this run when it has no journal."""
    if run.journal_path is not None:
        return run.journal_path / "artifacts"
    root = _temp_roots.get(run)
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=f"tracelet-artifacts-{run.id}-"))
        _temp_roots[run] = root
    return root


def _copy_hashed(source: Path, dest: Path) -> ArtifactFile | None:
    """Copy ``source`` to ``dest``; its entry, or ``None`` if ``source`` is gone."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(_COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    shutil.copystat(source, dest)
    return ArtifactFile("", size, digest.hexdigest())


def _reserve(root: Path, artifact: TypedArtifact) -> tuple[int, Path]:
    """The next version of the artifact's name under ``root`` and its new, empty folder."""
    taken = [parse_version(p.name) for p in root.glob(f"*/{artifact.name}/v*") if p.is_dir()]
    version = max((v for v in taken if v is not None), default=-1) + 1
    while True:
        folder = root / artifact.type.value / artifact.name / f"v{version}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:  # another thread took it
            version += 1
            continue
        return version, folder


def stage(artifact: TypedArtifact, root: Path, run_id: str | None = None) -> ArtifactInfo:
    """Write the next version of ``artifact`` under ``root`` (see the module docstring).

    Returns:
        The version written, its ``path`` the new folder.

    Raises:
        FileNotFoundError: A file added was deleted before it could be copied (the folder is
            removed again).
        OSError: The folder could not be written (disk full); it is removed again.
    """
    version, folder = _reserve(root, artifact)
    files: list[ArtifactFile] = []
    try:
        for item in artifact.sources():
            dest = folder / item.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(item, BytesSource):
                dest.write_bytes(item.data)
                entry = ArtifactFile(
                    item.dest, len(item.data), hashlib.sha256(item.data).hexdigest()
                )
            else:
                copied = _copy_hashed(item.source, dest)
                if copied is None:
                    raise FileNotFoundError(
                        f"log_artifact({artifact.name!r}): {item.source} was deleted after "
                        "it was added"
                    )
                entry = ArtifactFile(item.dest, copied.size, copied.sha256)
            files.append(entry)
        info = ArtifactInfo(
            name=artifact.name,
            type=artifact.type,
            version=version,
            description=artifact.description,
            metadata=dict(artifact.metadata),
            files=tuple(files),
            references=tuple(artifact.references),
            run_id=run_id,
            created=time.time(),
            backend="local",
            uri=str(folder),
            path=folder,
        )
        # Written last, atomically: a folder with a manifest is complete.
        tmp = folder / (MANIFEST_FILE + ".tmp")
        tmp.write_text(manifest_text(info), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return info


def log_typed(run: Run, artifact: TypedArtifact) -> ArtifactInfo:
    """Log the next version of ``artifact`` to ``run`` (see the module docstring).

    Returns:
        The version logged, as stored in the run's own folder (``backend="local"``).

    Raises:
        FileNotFoundError, OSError: See :func:`stage`.
    """
    info = stage(artifact, artifacts_root(run), run.id)
    assert info.path is not None
    run.log_artifact(info.path, name=info.folder)
    return info


# -- reading back ---------------------------------------------------------------------------


def list_folder(root: Path, **where: Any) -> list[ArtifactInfo]:
    """Every typed artifact version under an artifacts root (``<type>/<name>/v<N>/`` folders
    with a manifest), by name then version."""
    found = []
    for manifest in root.glob(f"*/*/v*/{MANIFEST_FILE}"):
        info = read_manifest(manifest.parent, **{"uri": str(manifest.parent), **where})
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda a: (a.name, a.version))


def find_artifacts(
    found: list[ArtifactInfo], type_filter: ArtifactType | str | None = None
) -> list[ArtifactInfo]:
    """``found`` restricted to one type (``None``: all)."""
    if type_filter is None:
        return found
    wanted = artifact_type(type_filter)
    return [a for a in found if a.type is wanted]


def find_artifact(
    found: list[ArtifactInfo], name: str, version: int | str = "latest"
) -> ArtifactInfo | None:
    """The version asked for (see :func:`~tracelet.artifacts.manifest.select_version`)."""
    return select_version(found, name, version)


#: Seconds a read from a backend waits for it to have written what was logged before.
READ_FLUSH_TIMEOUT = 30.0


def _backend_reader(run: Run, backends: Mapping[str, Backend], backend: str, method: str) -> Any:
    """The backend's reader ``method``, once the run's backends have written what was logged
    so far (:meth:`~tracelet.Run.flush`, up to :data:`READ_FLUSH_TIMEOUT` seconds: a backend
    that is down is read as it is)."""
    if backend not in backends:
        raise ValueError(
            f"backend {backend!r} is not one of this run's ({', '.join(backends) or 'none'})"
        )
    reader = getattr(backends[backend], method, None)
    if reader is None:
        raise NotImplementedError(f"backend {backend!r} cannot read typed artifacts back")
    run.flush(timeout=READ_FLUSH_TIMEOUT)
    return reader


def list_artifacts(
    run: Run,
    backends: Mapping[str, Backend],
    type_filter: ArtifactType | str | None = None,
    backend: str | None = None,
) -> list[ArtifactInfo]:
    """The typed artifact versions of ``run``: from its own folder (``backend=None`` or
    ``"local"``), or as a backend stores them (its optional ``list_artifacts()``), once it has
    written what was logged before (see :func:`_backend_reader`).

    Raises:
        ValueError: ``backend`` is not one of the run's, or an unknown type.
        NotImplementedError: That backend cannot read typed artifacts back.
    """
    if backend is None or (backend == "local" and backend not in backends):
        found = list_folder(artifacts_root(run), backend="local")
    else:
        found = list(_backend_reader(run, backends, backend, "list_artifacts")())
    return find_artifacts(found, type_filter)


def get_artifact(
    run: Run,
    backends: Mapping[str, Backend],
    name: str,
    version: int | str = "latest",
    backend: str | None = None,
) -> ArtifactInfo | None:
    """One version of a typed artifact of ``run`` (see :func:`list_artifacts` for
    ``backend``), or ``None`` if there is none.

    Raises:
        ValueError: An invalid version, or a backend that is not the run's.
        NotImplementedError: That backend cannot read typed artifacts back.
    """
    wanted = parse_version(version)
    if backend is None or (backend == "local" and backend not in backends):
        return find_artifact(list_folder(artifacts_root(run), backend="local"), name, version)
    reader = _backend_reader(run, backends, backend, "get_artifact")
    found: ArtifactInfo | None = reader(name, "latest" if wanted is None else wanted)
    return found


# -- for backends ---------------------------------------------------------------------------


def typed_manifest(artifact: Artifact) -> ArtifactInfo | None:
    """The typed artifact an artifact record carries, or ``None`` for a plain file or folder.

    A typed artifact arrives as a folder record named ``<type>/<name>/v<N>`` holding a Tracelet
    ``manifest.json``; ``path`` in the result is that folder (the live source, or its copy in
    the journal when ``tracelet sync`` delivers it).
    """
    if not artifact.is_dir:
        return None
    return read_manifest(artifact.path)
