"""How far one backend got with a run, in two files of the run folder's ``delivery/``:

* ``<backend>.json``: the backend's identity of the run, the cursor, counts, the first refusal
  reasons and whether its run was closed; replaced atomically (a reader sees the old or the new
  file) when the backend starts, flushes, refuses records and closes.
* ``<backend>.cursor``: one short line ``[seq, offset, delivered, failed, skip]`` appended after
  every write the backend acknowledged (and, for backends that report it, after each call
  inside a batch): a few microseconds, where replacing a file costs hundreds. A
  line cut short by a crash is ignored; the last complete line wins over the JSON file when it
  is further on.

Read by ``tracelet sync`` to resume the backend's run and deliver from the cursor on, and by
``tracelet runs``/``show`` to say what a run is behind on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracelet.journal import DELIVERY_DIR, Position, write_json_atomic

#: How many refusal reasons a delivery file keeps (the count is always exact).
MAX_FAILURE_REASONS = 100


@dataclass
class DeliveryState:
    """How far one backend got with a run: ``delivery/<backend>.json`` in the run folder.

    Attributes:
        backend: The backend's name.
        identity: The backend's own id of the run (what ``start`` needs to resume it), or
            ``None`` if the backend never started it.
        cursor: Every record before ``cursor.seq`` was handled (delivered, refused or not of a
            kind the backend stores).
        delivered: Records written, over every session (live and ``tracelet sync``).
        failed: Records the backend refused; ``failures`` keeps the first reasons, each with
            ``seq`` (the first record of the batch it was refused in), ``count`` and
            ``reason``.
        closed: Whether the backend's run was closed with the run's final status.
        skip: Records of the batch at ``cursor`` already stored when the process stopped in
            the middle of writing it (for backends that report progress inside a batch): a
            resumed delivery starts after them.
    """

    path: Path
    backend: str
    identity: dict[str, Any] | None = None
    cursor: Position = field(default_factory=Position)
    delivered: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    skip: int = 0
    _progress_fd: int | None = field(default=None, repr=False, compare=False)

    @property
    def progress_path(self) -> Path:
        return self.path.with_suffix(".cursor")

    @classmethod
    def load(cls, run_dir: Path, backend: str) -> DeliveryState:
        """The stored state (a fresh one when nothing was stored)."""
        path = run_dir / DELIVERY_DIR / f"{backend}.json"
        state = cls(path, backend)
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            state.identity = data.get("identity")
            state.cursor = Position(int(data["seq"]), int(data["offset"]))
            state.delivered = int(data.get("delivered", 0))
            state.failed = int(data.get("failed", 0))
            state.failures = list(data.get("failures", []))
            state.closed = bool(data.get("closed", False))
            state.skip = int(data.get("skip", 0))
        last = _last_progress(state.progress_path)
        if last is not None and (last[0], last[4]) > (state.cursor.seq, state.skip):
            seq, offset, state.delivered, state.failed, state.skip = last
            state.cursor = Position(seq, offset)
            state.closed = False
        return state

    def record_progress(self) -> None:
        """Append the cursor and counts to ``<backend>.cursor`` (after an acknowledged write)."""
        if self._progress_fd is None:
            self.path.parent.mkdir(exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._progress_fd = os.open(self.progress_path, flags, 0o644)
        line = (
            f"[{self.cursor.seq},{self.cursor.offset},{self.delivered + self.skip},"
            f"{self.failed},{self.skip}]\n"
        )
        os.write(self._progress_fd, line.encode())

    def save(self, *, fsync: bool = False) -> None:
        """Replace ``<backend>.json`` with the whole state (fsync'ed with ``fsync``)."""
        if self._progress_fd is not None and fsync:
            os.fsync(self._progress_fd)
        self.path.parent.mkdir(exist_ok=True)
        write_json_atomic(
            self.path,
            {
                "backend": self.backend,
                "identity": self.identity,
                "seq": self.cursor.seq,
                "offset": self.cursor.offset,
                "delivered": self.delivered,
                "failed": self.failed,
                "failures": self.failures,
                "closed": self.closed,
                "skip": self.skip,
                "updated": time.time(),
            },
            fsync=fsync,
        )

    def add_failure(self, seq: int, count: int, reason: str) -> None:
        self.failed += count
        if len(self.failures) < MAX_FAILURE_REASONS:
            self.failures.append({"seq": seq, "count": count, "reason": reason})

    def release(self) -> None:
        """Close the progress file (the state stays usable; the next progress reopens it)."""
        if self._progress_fd is not None:
            os.close(self._progress_fd)
            self._progress_fd = None


def _last_progress(path: Path) -> tuple[int, int, int, int, int] | None:
    """The last complete ``[seq, offset, delivered, failed, skip]`` line of a progress file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = fh.read()
    except FileNotFoundError:
        return None
    for line in reversed(tail.split(b"\n")[:-1]):  # the piece after the last newline is cut
        try:
            seq, offset, delivered, failed, skip = json.loads(line)
        except ValueError:
            continue
        return int(seq), int(offset), int(delivered) - int(skip), int(failed), int(skip)
    return None
