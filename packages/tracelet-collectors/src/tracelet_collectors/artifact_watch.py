"""The ``artifacts`` collector: model and checkpoint files written during the run, logged as
typed artifacts (``automagic_artifacts``, off by default).

When the run starts, it notes the files already there (:mod:`.artifact_scan` says which files
are looked at; this first scan is the only one on the thread that starts the run); they are
never captured as they are. Then its thread scans again every ``artifact_watch_interval``
seconds. A file that is new or changed since it
was noted is captured once two scans in a row see it the same (same size and modification
time), so a checkpoint still being written is left for the next scan; when the run stops, a
last scan captures every file new or changed since, settled or not (collectors stop before the
run stops taking records, so this is delivered like the rest).

Capturing is :meth:`tracelet.Run.log_artifact` with a typed artifact of one file, named and
typed by :func:`~.artifact_scan.artifact_name` and :func:`~.artifact_scan.artifact_kind`, with
the file's source path, size and modification time (ISO 8601) as metadata: the file is copied
into the run folder on this collector's thread (never the training loop's), journaled, and each
backend delivers it as any typed artifact. A file changed again later becomes the artifact's
next version. A file larger than ``artifact_max_mb`` is not copied: one warning names it and the
key.

What it costs the training loop: nothing per step (no hook, no tracing); a scan every interval
on its own thread, reading folder listings and file metadata only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.backend_kit import WarnOnce
from tracelet.threads import TraceletThread
from tracelet_collectors.artifact_scan import (
    MAX_ENTRIES,
    Found,
    Signature,
    artifact_kind,
    artifact_name,
    scan,
)

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.artifacts")

_MB = 1024 * 1024


class ArtifactWatcher:
    """Scans ``dirs`` every ``interval`` seconds and logs new or changed matching files.

    Args:
        dirs: The folders to watch (relative to the working directory when created).
        patterns: File name patterns (fnmatch) of the files to capture.
        interval: Seconds between two scans (> 0).
        max_bytes: Larger files are not captured (a warning names each once).
    """

    def __init__(
        self, dirs: Sequence[Path], patterns: Sequence[str], interval: float, max_bytes: int
    ) -> None:
        if not interval > 0:
            raise ValueError(f"artifact_watch_interval must be > 0 seconds; got {interval!r}")
        self.dirs = [Path(d).expanduser().resolve() for d in dirs]
        self.patterns = list(patterns)
        self.interval = interval
        self.max_bytes = max_bytes
        self._run: Run | None = None
        self._skip: list[Path] = []
        self._known: dict[Path, Signature] = {}  # noted at start, or captured
        self._pending: dict[Path, Signature] = {}  # new or changed, seen by the last scan
        self._warn = WarnOnce(logger, prefix="tracelet: ")  # by file, or "truncated"
        self._lock = threading.Lock()  # the thread's scans and stop's last scan
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, run: Run) -> None:
        if run.journal_path is not None:  # <local path>/<project>/<run id>: all run folders
            self._skip.append(run.journal_path.parent.parent)
        self.note_existing()  # here, not on the thread: a file written right after is new
        self._run = run
        self._thread = TraceletThread(target=self._loop, name="tracelet-artifacts")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self._run is not None:
            self.poll(final=True)
        self._run = None

    def note_existing(self) -> None:
        """Note the files there now: they are captured only once they change."""
        with self._lock:
            self._known = {p: f.signature for p, f in self._scan().items()}

    def poll(self, final: bool = False) -> list[Found]:
        """Scan once; capture the files new or changed that the previous scan saw the same
        (every new or changed file when ``final``). Returns the files captured."""
        with self._lock:
            found = self._scan()
            due = []
            pending: dict[Path, Signature] = {}
            for path, file in found.items():
                if self._known.get(path) == file.signature:
                    continue
                if final or self._pending.get(path) == file.signature:
                    due.append(file)
                else:
                    pending[path] = file.signature
            self._pending = pending
            return [f for f in due if self._capture(f)]

    def _scan(self) -> dict[Path, Found]:
        result = scan(self.dirs, self.patterns, skip=self._skip)
        if result.truncated:
            self._warn(
                "truncated",
                "automatic artifact capture looks at the first %s entries of %s only: files "
                "beyond them are not captured; set artifact_watch_dirs to the folders your "
                "checkpoints are written to (artifact_watch_dirs: [checkpoints])",
                f"{MAX_ENTRIES:,}",
                ", ".join(str(d) for d in self.dirs),
            )
        return result.files

    def _capture(self, file: Found) -> bool:
        """Log ``file`` as the next version of its artifact; ``False`` when it is not."""
        run = self._run
        if run is None:
            return False
        if file.signature.size > self.max_bytes:
            self._warn(
                file.path,
                "%s (%.0f MB) not captured: larger than artifact_max_mb (%.0f); raise "
                "artifact_max_mb or log it with log_artifact",
                file.path,
                file.signature.size / _MB,
                self.max_bytes / _MB,
            )
            return False
        artifact = run.create_artifact(
            artifact_name(file.relative),
            artifact_kind(file.relative),
            description=f"captured automatically from {file.relative}",
            metadata={
                "source": str(file.path),
                "size": file.signature.size,
                "modified": modified(file.signature.mtime_ns),
            },
        )
        try:
            artifact.add_file(file.path)
            run.log_artifact(artifact)
        except FileNotFoundError:  # deleted since the scan (a checkpoint rotated out)
            logger.debug("tracelet: %s went away before it was captured", file.path)
            return False
        except Exception:
            logger.warning("tracelet: could not capture %s", file.path, exc_info=True)
            return False
        self._known[file.path] = file.signature
        return True

    def _loop(self) -> None:
        try:
            while not self._stopping.wait(self.interval):
                self.poll()
        except Exception:
            logger.warning("tracelet: automatic artifact capture stopped", exc_info=True)


def create(settings: Any) -> ArtifactWatcher | None:
    """The factory: a watcher when ``automagic_artifacts`` is on."""
    if not settings.automagic_artifacts:
        return None
    return ArtifactWatcher(
        [Path(d) for d in settings.artifact_watch_dirs or ["."]],
        list(settings.artifact_watch_patterns),
        settings.artifact_watch_interval,
        int(settings.artifact_max_mb * _MB),
    )


def modified(mtime_ns: int) -> str:
    """A modification time as ISO 8601 in UTC, to the millisecond
    (``2026-11-30T14:10:45.507Z``)."""
    when = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
