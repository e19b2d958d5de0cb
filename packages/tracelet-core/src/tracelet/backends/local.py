"""The ``local`` backend: a durable run folder on disk, and the reader for it.

The default backend when none is configured. Layout (format version 1)::

    <path>/<project>/<run id>/
        run.json         metadata and status, replaced atomically at start and at close
        records.jsonl    one JSON object per record, appended batch by batch
        artifacts/       copies of logged files and directories
        media/           images and figures, one file each

Every line of ``records.jsonl`` has a ``seq`` (0, 1, 2, ... in logging order) and a ``type``:
``metric`` (name, value, step, ts), ``param`` (name, value), ``tag`` (name, value), ``artifact``
(name, path, is_dir), ``text`` (name, text, step, ts), ``image`` (name, path, width, height,
caption, step, ts), ``histogram`` (name, edges, counts, step, ts) or ``figure`` (name, path,
step, ts). Paths are relative to the run folder. NaN and infinite values are written as
``NaN``/``Infinity`` (Python's JSON).

Crash tolerance: a batch is appended with one ``write`` call after its artifact and media files
exist, so a process killed at any moment (SIGKILL included) leaves every earlier batch intact;
at worst the last line is cut short, and the reader skips it. ``run.json`` then still says
``running``. An append that fails part way (disk full) is cut back off the file before the
dispatcher retries the batch, so no record is written twice or glued to a broken line. An
artifact whose source file was deleted before the write is refused (counted as failed in
``run.stats()``) instead of holding up the records after it. Files are fsync'ed on
``run.flush()`` and at close (and after every batch with ``fsync: true``), which also covers a
power loss. The ``seq`` numbers make the folder a spool that a sync tool can replay into
another backend and resume from.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from tracelet._version import __version__
from tracelet.backend import BaseBackend, RunInfo
from tracelet.errors import RejectedError
from tracelet.records import (
    ALL_CAPABILITIES,
    Batch,
    Capability,
    Figure,
    Histogram,
    Image,
    Metric,
    RunStatus,
    Text,
)
from tracelet.settings.model import SectionModel

FORMAT_VERSION = 1
RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"
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


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LocalBackend(BaseBackend):
    """Writes a run folder (see the module docstring for the format)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()
        self.run_dir: Path | None = None
        self._fd: int | None = None
        self._seq = 0
        self._size = 0  # bytes of records.jsonl written by complete batches
        self._meta: dict[str, Any] = {}

    @property
    def location(self) -> str | None:
        return None if self.run_dir is None else str(self.run_dir)

    def start(self, run: RunInfo) -> None:
        root = Path(self.settings.path).expanduser()
        run_dir = (root / safe_name(run.project) / safe_name(run.id)).resolve()
        run_dir.mkdir(parents=True, exist_ok=False)
        self.run_dir = run_dir
        self._meta = {
            "format": FORMAT_VERSION,
            "id": run.id,
            "name": run.name,
            "project": run.project,
            "status": "running",
            "start_time": run.start_time,
            "end_time": None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "tracelet_version": __version__,
        }
        _write_json_atomic(run_dir / RUN_FILE, self._meta)
        self._fd = os.open(run_dir / RECORDS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = 0

    def write(self, batch: Batch) -> None:
        """Append the batch to ``records.jsonl`` after copying its artifact and media files.

        The append is all or nothing: if it fails part way, the file is cut back so that the
        retried batch starts on a clean line.

        Raises:
            RejectedError: An artifact's source no longer exists; the rest of the batch is
                written.
            OSError: Nothing of the batch was recorded (the dispatcher retries it).
        """
        assert self.run_dir is not None, "write before start"
        assert self._fd is not None, "write before start"
        seq = self._seq
        lines: list[str] = []
        dumps = json.dumps

        def line(record: dict[str, Any]) -> None:
            nonlocal seq
            record["seq"] = seq
            seq += 1
            lines.append(dumps(record))

        for p in batch.params:
            line({"type": "param", "name": p.name, "value": p.value})
        for t in batch.tags:
            line({"type": "tag", "name": t.name, "value": t.value})
        quoted: dict[str, str] = {}  # a batch holds few distinct names: quote each once
        append = lines.append
        for name, value, step, ts in batch.metrics:
            q = quoted.get(name)
            if q is None:
                q = quoted[name] = dumps(name)
            # repr() of a finite float is what json.dumps writes; NaN/inf need its spelling.
            v = repr(value) if value - value == 0.0 else dumps(value)
            append(
                f'{{"type":"metric","name":{q},"value":{v},"step":{step},"ts":{ts!r},"seq":{seq}}}'
            )
            seq += 1
        missing: list[str] = []
        for a in batch.artifacts:
            # Retrying cannot bring back a file deleted after log_artifact: refuse that one
            # record instead of blocking the backend on it.
            if not a.path.exists():
                missing.append(os.fspath(a.path))
                continue
            line(
                {
                    "type": "artifact",
                    "name": a.name,
                    "is_dir": a.is_dir,
                    "path": self._copy_artifact(a.path, a.name, a.is_dir),
                }
            )
        for m in batch.media:
            line(self._media_record(m, seq))
        if lines:
            self._append(("\n".join(lines) + "\n").encode("utf-8"))
        self._seq = seq
        if missing:
            raise RejectedError(
                f"artifact source(s) deleted before they could be copied: {', '.join(missing)}",
                count=len(missing),
            )

    def _append(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None, "write before start"
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.settings.fsync:
                os.fsync(fd)
        except BaseException:
            # A partial append would glue the retried batch's first line onto a cut one.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise
        self._size += len(data)

    def _copy_artifact(self, source: Path, name: str, is_dir: bool) -> str:
        assert self.run_dir is not None
        dest = self.run_dir / "artifacts" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if is_dir:
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)
        return dest.relative_to(self.run_dir).as_posix()

    def _media_file(self, kind: str, seq: int, name: str, suffix: str, data: bytes) -> str:
        assert self.run_dir is not None
        folder = self.run_dir / "media" / kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{seq:08d}-{safe_name(name)}{suffix}"
        path.write_bytes(data)
        return path.relative_to(self.run_dir).as_posix()

    def _media_record(self, m: Any, seq: int) -> dict[str, Any]:
        base = {"name": m.name, "step": m.step, "ts": m.timestamp}
        if isinstance(m, Text):
            return {"type": "text", "text": m.text, **base}
        if isinstance(m, Image):
            path = self._media_file("images", seq, m.name, ".png", m.png)
            return {
                "type": "image",
                "path": path,
                "width": m.width,
                "height": m.height,
                "caption": m.caption,
                **base,
            }
        if isinstance(m, Histogram):
            return {"type": "histogram", "edges": list(m.edges), "counts": list(m.counts), **base}
        if isinstance(m, Figure):
            if m.png is not None:
                path = self._media_file("figures", seq, m.name, ".png", m.png)
            else:
                path = self._media_file(
                    "figures", seq, m.name, ".plotly.json", (m.plotly_json or "").encode()
                )
            return {"type": "figure", "path": path, **base}
        raise TypeError(f"unknown media record {type(m).__name__}")

    def flush(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self, status: RunStatus) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        if self.run_dir is not None:
            self._meta.update(status=status, end_time=time.time())
            _write_json_atomic(self.run_dir / RUN_FILE, self._meta)


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
                    yield json.loads(raw)
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
    root: str | os.PathLike[str] = DEFAULT_PATH, project: str | None = None
) -> list[LocalRun]:
    """Every run under ``root`` (optionally one project's), oldest first (by start time)."""
    base = Path(root)
    pattern = f"{safe_name(project)}/*/{RUN_FILE}" if project else f"*/*/{RUN_FILE}"
    runs = [LocalRun(p.parent) for p in base.glob(pattern)]
    # Run ids sort by the second only (runs started in the same second are in random order).
    return sorted(runs, key=lambda r: (float(r.meta.get("start_time") or 0.0), r.path.name))
