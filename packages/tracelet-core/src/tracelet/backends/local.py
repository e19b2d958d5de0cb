"""The ``local`` backend: the run folder on disk (the journal), and the reader for it.

The default backend, and the journal of every run that has a backend (``journal: true``, the
default): the router writes each batch here before any other backend sees it. The format is
described in :mod:`tracelet.journal`.

A typed artifact (:mod:`tracelet.artifacts`) is a folder ``artifacts/<type>/<name>/v<N>/`` with
its ``manifest.json``, written there when it is logged; :meth:`LocalBackend.list_artifacts` and
:meth:`LocalRun.typed_artifacts` read them back.

An artifact whose source file was deleted before the write is refused (counted as failed in
``run.stats()``; its line in the journal says why) instead of holding up the records after it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.errors import RejectedError
from tracelet.journal import (
    FORMAT_VERSION,
    RECORDS_FILE,
    RUN_FILE,
    JournalWriter,
    Position,
    close_run_meta,
    line_record,
    new_run_meta,
    write_json_atomic,
)
from tracelet.records import ALL_CAPABILITIES, Batch, Capability, Metric, RunStatus
from tracelet.settings.model import SectionModel

if TYPE_CHECKING:
    from tracelet.artifacts.manifest import ArtifactInfo

__all__ = [
    "DEFAULT_PATH",
    "FORMAT_VERSION",
    "RECORDS_FILE",
    "RUN_FILE",
    "LocalBackend",
    "LocalRun",
    "LocalSettings",
    "list_runs",
    "read_run",
    "run_folder",
    "safe_name",
]

DEFAULT_PATH = "./tracelet-runs"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """``name`` made safe as one path component (``my project/v2`` → ``my_project_v2``)."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "_"
    return cleaned[:120]


class LocalSettings(SectionModel):
    """Section ``local:`` of ``tracelet.yaml`` (env ``TRACELET_LOCAL__<KEY>``)."""

    path: str = Field(
        DEFAULT_PATH, description="Folder holding the run folders (<path>/<project>/<run id>)."
    )
    fsync: bool = Field(
        False,
        description="fsync after every batch (survives a power loss at each batch, "
        "at a cost); flush and close always fsync.",
    )


def run_folder(settings: LocalSettings, run: RunInfo) -> Path:
    """Where the run's folder goes: ``<path>/<project>/<run id>``, absolute."""
    root = Path(settings.path).expanduser()
    return (root / safe_name(run.project) / safe_name(run.id)).resolve()


class LocalBackend(BaseBackend):
    """Writes a run folder (see :mod:`tracelet.journal` for the format)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()
        self.run_dir: Path | None = None
        self._writer: JournalWriter | None = None
        self._meta: dict[str, Any] = {}

    @property
    def location(self) -> str | None:
        return None if self.run_dir is None else str(self.run_dir)

    @property
    def link(self) -> RunLink | None:
        """The run id, the run folder and the ``tracelet show`` command for it."""
        if self.run_dir is None:
            return None
        folder = str(self.run_dir)
        return RunLink(
            id=self._meta.get("id"), path=folder, command=f"tracelet show {quote(folder)}"
        )

    @property
    def position(self) -> Position:
        """The end of what is written: the next ``seq`` and its byte offset."""
        return Position() if self._writer is None else self._writer.position

    def start(self, run: RunInfo) -> None:
        run_dir = run_folder(self.settings, run)
        run_dir.mkdir(parents=True, exist_ok=False)
        self.run_dir = run_dir
        self._meta = new_run_meta(run)
        write_json_atomic(run_dir / RUN_FILE, self._meta)
        self._writer = JournalWriter(run_dir, fsync=self.settings.fsync)

    def write(self, batch: Batch) -> None:
        """Append the batch after copying its artifact and media files into the folder.

        The append is all or nothing: if it fails part way, the file is cut back so that the
        retried batch starts on a clean line.

        Raises:
            RejectedError: An artifact's source no longer exists; the rest of the batch is
                written (the artifact's line says it is missing).
            OSError: Nothing of the batch was recorded (the dispatcher retries it).
        """
        assert self._writer is not None, "write before start"
        missing = [os.fspath(a.path) for a in batch.artifacts if not a.path.exists()]
        self._writer.append(batch)
        if missing:
            raise RejectedError(
                f"artifact source(s) deleted before they could be copied: {', '.join(missing)}",
                count=len(missing),
            )

    def list_artifacts(self) -> list[ArtifactInfo]:
        """Every typed artifact version in the run folder (``artifacts/<type>/<name>/v<N>/``
        with a ``manifest.json``), by name then version."""
        from tracelet.artifacts.store import list_folder

        if self.run_dir is None:
            return []
        return list_folder(self.run_dir / "artifacts", backend="local")

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        """One typed artifact version of the run folder (``"latest"``, ``3`` or ``"v3"``), or
        ``None``."""
        from tracelet.artifacts.manifest import select_version

        return select_version(self.list_artifacts(), name, version)

    def record_dropped(self, total: int) -> None:
        """Note in ``run.json`` how many records were dropped before reaching the folder
        (``overflow_policy`` drop_*, ``nan_policy: drop``), so the count survives a crash."""
        if self.run_dir is not None:
            self._meta["dropped"] = total
            write_json_atomic(self.run_dir / RUN_FILE, self._meta, fsync=False)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self, status: RunStatus) -> None:
        if self._writer is not None:
            self._writer.close()
        if self.run_dir is not None:
            close_run_meta(self.run_dir, self._meta, status)


# -- reading -------------------------------------------------------------------------------------


@dataclass
class LocalRun:
    """A run folder written by the ``local`` backend, read back.

    Reading is safe while the run is still being written: a line cut short at the end of
    ``records.jsonl`` is skipped (and counted in :attr:`skipped_lines`).
    """

    path: Path
    meta: dict[str, Any] = field(init=False)
    skipped_lines: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        run_file = self.path / RUN_FILE
        if not run_file.is_file():
            raise FileNotFoundError(f"{self.path} is not a Tracelet run folder (no {RUN_FILE})")
        self.meta = json.loads(run_file.read_text(encoding="utf-8"))

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def project(self) -> str:
        return str(self.meta["project"])

    @property
    def group(self) -> str | None:
        """The run's group (``start_logging(group=...)``), or ``None``."""
        group = self.meta.get("group")
        return None if group is None else str(group)

    @property
    def dropped(self) -> int:
        """Records dropped before they reached the folder (``overflow_policy`` drop_*,
        ``nan_policy: drop``), as last recorded (a crash may hide the last few)."""
        return int(self.meta.get("dropped") or 0)

    @property
    def status(self) -> str:
        """``running`` (or the process died), ``finished``, ``failed`` or ``killed``."""
        return str(self.meta["status"])

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in ``seq`` order."""
        self.skipped_lines = 0
        file = self.path / RECORDS_FILE
        if not file.exists():
            return
        with open(file, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):  # cut short by a crash mid-write
                    self.skipped_lines += 1
                    break
                try:
                    yield line_record(json.loads(raw))
                except json.JSONDecodeError:
                    self.skipped_lines += 1

    @cached_property
    def _index(self) -> dict[str, Any]:
        metrics: dict[str, list[Metric]] = {}
        params: dict[str, Any] = {}
        tags: dict[str, str] = {}
        artifacts: dict[str, Path] = {}
        media: list[dict[str, Any]] = []
        for r in self.records():
            kind = r["type"]
            if kind == "metric":
                metrics.setdefault(r["name"], []).append(
                    Metric(r["name"], float(r["value"]), int(r["step"]), float(r["ts"]))
                )
            elif kind == "param":
                params[r["name"]] = r["value"]
            elif kind == "tag":
                tags[r["name"]] = r["value"]
            elif kind == "artifact":
                if r.get("path") is not None:  # else its source was gone before the copy
                    artifacts[r["name"]] = self.path / r["path"]
            else:
                media.append(r)
        return {
            "metrics": metrics,
            "params": params,
            "tags": tags,
            "artifacts": artifacts,
            "media": media,
        }

    @property
    def metrics(self) -> dict[str, list[Metric]]:
        """Metric name → its points in logging order."""
        return self._index["metrics"]  # type: ignore[no-any-return]

    @property
    def params(self) -> dict[str, Any]:
        return self._index["params"]  # type: ignore[no-any-return]

    @property
    def tags(self) -> dict[str, str]:
        return self._index["tags"]  # type: ignore[no-any-return]

    @property
    def artifacts(self) -> dict[str, Path]:
        """Artifact name → its copy inside the run folder."""
        return self._index["artifacts"]  # type: ignore[no-any-return]

    @property
    def media(self) -> list[dict[str, Any]]:
        """Text, image, histogram and figure records as stored (``path`` is relative to the
        run folder: open ``run.path / record["path"]``)."""
        return self._index["media"]  # type: ignore[no-any-return]

    def artifact_files(self) -> dict[str, Path]:
        """Every stored artifact file: ``"<name>"`` for a file, ``"<name>/<relative path>"`` for
        each file of a logged directory."""
        files: dict[str, Path] = {}
        for name, path in self.artifacts.items():
            if path.is_dir():
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    files[f"{name}/{file.relative_to(path).as_posix()}"] = file
            else:
                files[name] = path
        return files

    def typed_artifacts(self) -> list[ArtifactInfo]:
        """Every typed artifact version in the folder (``artifacts/<type>/<name>/v<N>/``), by
        name then version; each ``path`` is its folder."""
        from tracelet.artifacts.store import list_folder

        return list_folder(self.path / "artifacts", backend="local")

    def metric_history(self, name: str) -> list[Metric]:
        """The points of one metric (empty if it was never logged)."""
        return list(self.metrics.get(name, []))


def read_run(path: str | os.PathLike[str]) -> LocalRun:
    """Open a run folder.

    Raises:
        FileNotFoundError: ``path`` is not a run folder.
    """
    return LocalRun(Path(path))


def list_runs(
    root: str | os.PathLike[str] = DEFAULT_PATH,
    project: str | None = None,
    group: str | None = None,
) -> list[LocalRun]:
    """Every run under ``root`` (optionally only one project's, one group's), oldest first (by
    start time)."""
    base = Path(root)
    pattern = f"{safe_name(project)}/*/{RUN_FILE}" if project else f"*/*/{RUN_FILE}"
    runs = [LocalRun(p.parent) for p in base.glob(pattern)]
    if group is not None:
        runs = [r for r in runs if r.group == group]
    # Run ids sort by the second only (runs started in the same second are in random order).
    return sorted(runs, key=lambda r: (float(r.meta.get("start_time") or 0.0), r.path.name))
