"""The ``memory`` backend: keeps every record of a run in this process.

It is the backend tests use: start a run with ``backend="memory"`` and read what arrived with
:func:`stored`. Nothing is written anywhere; the data lives until :func:`clear` or the end of the
process.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.errors import RejectedError
from tracelet.records import (
    ALL_CAPABILITIES,
    Batch,
    Capability,
    Media,
    Metric,
    ParamValue,
    RunStatus,
)

if TYPE_CHECKING:
    from tracelet.run import Run


@dataclass
class MemoryStore:
    """Everything one run sent to the ``memory`` backend.

    Attributes:
        metrics: Name → points in arrival order.
        params: Name → value (a later value replaces an earlier one).
        tags: Name → value.
        artifacts: Artifact name → content (a directory gives one entry per file,
            ``<name>/<relative path>``), read when the batch was written.
        media: Media records in arrival order.
        status: ``None`` while running, then the status the run closed with.
        writes: Number of batches written.
        flushes: Number of flushes.
    """

    info: RunInfo
    metrics: dict[str, list[Metric]] = field(default_factory=dict)
    params: dict[str, ParamValue] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    media: list[Media] = field(default_factory=list)
    status: RunStatus | None = None
    writes: int = 0
    flushes: int = 0

    def values(self, name: str) -> list[float]:
        """The values of a metric in arrival order."""
        return [m.value for m in self.metrics.get(name, [])]

    def steps(self, name: str) -> list[int]:
        """The steps of a metric in arrival order."""
        return [m.step for m in self.metrics.get(name, [])]


_stores: dict[str, MemoryStore] = {}
_lock = threading.Lock()


def _reset_lock_after_fork() -> None:
    # Another thread of the parent may have held the lock at the fork: the child's copy would
    # stay locked forever.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def stored(run: Run | str) -> MemoryStore:
    """What the ``memory`` backend holds for a run (the :class:`~tracelet.Run` or its id).

    Raises:
        KeyError: The run did not log to the ``memory`` backend in this process.
    """
    run_id = run if isinstance(run, str) else run.id
    with _lock:
        return _stores[run_id]


def clear() -> None:
    """Forget every stored run."""
    with _lock:
        _stores.clear()


class MemoryBackend(BaseBackend):
    """Stores records in a :class:`MemoryStore` (see :func:`stored`)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self) -> None:
        self.store: MemoryStore | None = None

    def start(self, run: RunInfo) -> None:
        self.store = MemoryStore(run)
        with _lock:
            _stores[run.id] = self.store

    def write(self, batch: Batch) -> None:
        """Store the batch. Artifacts are read first, so a failed read stores nothing.

        Raises:
            RejectedError: An artifact's source no longer exists; the rest is stored.
            OSError: An artifact could not be read; nothing was stored (retried).
        """
        store = self.store
        assert store is not None, "write before start"
        contents: dict[str, bytes] = {}
        missing: list[str] = []
        for artifact in batch.artifacts:
            if not artifact.path.exists():
                missing.append(os.fspath(artifact.path))
            elif artifact.is_dir:
                for file in sorted(p for p in artifact.path.rglob("*") if p.is_file()):
                    rel = file.relative_to(artifact.path).as_posix()
                    contents[f"{artifact.name}/{rel}"] = file.read_bytes()
            else:
                contents[artifact.name] = artifact.path.read_bytes()
        for param in batch.params:
            store.params[param.name] = param.value
        for tag in batch.tags:
            store.tags[tag.name] = tag.value
        for point in batch.metrics:
            store.metrics.setdefault(point[0], []).append(Metric._make(point))
        store.artifacts.update(contents)
        store.media.extend(batch.media)
        store.writes += 1
        if missing:
            raise RejectedError(
                f"artifact source(s) deleted before they could be read: {', '.join(missing)}",
                count=len(missing),
            )

    def flush(self) -> None:
        if self.store is not None:
            self.store.flushes += 1

    def close(self, status: RunStatus) -> None:
        if self.store is not None:
            self.store.status = status

    @property
    def location(self) -> str | None:
        return (
            None
            if self.store is None
            else f"tracelet.backends.memory.stored({self.store.info.id!r})"
        )

    @property
    def link(self) -> RunLink | None:
        """The run id that :func:`stored` takes."""
        return None if self.store is None else RunLink(id=self.store.info.id)
