"""The run folder as a journal: every record is written here first, in order, then delivered.

Layout (format version 2; version 1 folders read the same)::

    <path>/<project>/<run id>/
        run.json             metadata, status, pid and host, the backends it was started with
        records.jsonl        one JSON object per record, appended batch by batch
        artifacts/           copies of logged files and directories (a typed artifact's
                             version is written there when logged: <type>/<name>/v<N>/)
        media/               images and figures, one file each
        delivery/            how far each other backend got (see :mod:`tracelet.delivery_state`)

Every line of ``records.jsonl`` is one record with its ``seq`` (0, 1, 2, ... in the order
written). A metric point, by far the most frequent record, is an array ``[name, value, step,
ts, seq]`` (``["train/loss",0.25,3,1796004121.52,7]``); every other record is an object with
a ``type``: ``param`` (name, value), ``tag`` (name, value),
``artifact`` (name, path, is_dir; ``path`` is ``null`` and ``error`` says why when the source
was gone before it could be copied), ``text`` (name, text, step, ts), ``image`` (name, path,
width, height, caption, step, ts), ``histogram`` (name, edges, counts, step, ts) or ``figure``
(name, path, step, ts). Paths are relative to the run folder. A NaN or infinite metric value is
written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (``float()`` reads each).

Crash tolerance: a batch is appended with one ``write`` call after its artifact and media files
exist, so a process killed at any moment (SIGKILL included) leaves every earlier batch intact; at
worst the last line is cut short, and readers stop before it. An append that fails part way
(disk full) is cut back off the file before it is retried. Files are fsync'ed on ``run.flush()``
and at close (after every batch with ``local.fsync: true``).

Batches are the unit of delivery: :class:`JournalReader` hands them back, each with the seq
range and byte offsets it covers, so that a backend's cursor can be stored as ``(seq, offset)``
and resumed from without reading the file from the start.

The shared names (file names, :class:`Position`, ``run.json``) are in
:mod:`tracelet.journal_format`, the reader in :mod:`tracelet.journal_reader`; both are
re-exported here.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from itertools import count
from pathlib import Path
from typing import Any

import msgspec

from tracelet.journal_format import (
    DELIVERY_DIR,
    FORMAT_VERSION,
    RECORDS_FILE,
    RUN_FILE,
    Position,
    close_run_meta,
    new_run_meta,
    write_json_atomic,
)
from tracelet.journal_reader import JournalBatch, JournalReader, line_record
from tracelet.records import (
    Artifact,
    Batch,
    Figure,
    Histogram,
    Image,
    Media,
    Text,
)

__all__ = [
    "DELIVERY_DIR",
    "FORMAT_VERSION",
    "RECORDS_FILE",
    "RUN_FILE",
    "JournalBatch",
    "JournalReader",
    "JournalWriter",
    "Position",
    "close_run_meta",
    "line_record",
    "new_run_meta",
    "write_json_atomic",
]


def _float_text(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"``: what ``float()`` reads back."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


class JournalWriter:
    """Appends batches to a run folder's ``records.jsonl`` (see the module docstring).

    Used from one thread at a time (the router's); :attr:`position` may be read from any thread.
    """

    def __init__(self, run_dir: Path, *, fsync: bool = False) -> None:
        self.run_dir = run_dir
        self.fsync_each_batch = fsync
        self._fd: int | None = os.open(
            run_dir / RECORDS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self._encode_lines = msgspec.json.Encoder().encode_lines
        self._encode = msgspec.json.Encoder().encode
        #: Everything before this is complete on disk (a new object per batch: read it whole).
        self.position = Position(0, os.fstat(self._fd).st_size)

    def append(self, batch: Batch) -> Position:
        """Write the batch (files first, then its lines in one append); return the new end.

        Lines are written kinds first in this order: params, tags, metrics, artifacts, media,
        which is the order :class:`JournalReader` rebuilds the same batch in.

        Raises:
            OSError: Nothing of the batch was recorded (retry it).
        """
        fd = self._fd
        assert fd is not None, "append after close"
        seq = self.position.seq
        encode = self._encode
        chunks: list[bytes] = []
        if batch.params or batch.tags:
            lines: list[dict[str, Any]] = []
            for p in batch.params:
                lines.append({"type": "param", "name": p.name, "value": p.value, "seq": seq})
                seq += 1
            for t in batch.tags:
                lines.append({"type": "tag", "name": t.name, "value": t.value, "seq": seq})
                seq += 1
            chunks.append(self._encode_lines(lines))
        if batch.metrics:
            points = batch.metrics
            # One array per point: a tuple encodes at C speed, a dict per point would cost
            # three times as much on the router's thread.
            chunks.append(
                self._encode_lines(
                    [
                        (name, value if value - value == 0.0 else _float_text(value), step, ts, q)
                        for (name, value, step, ts), q in zip(points, count(seq), strict=False)
                    ]
                )
            )
            seq += len(points)
        for a in batch.artifacts:
            chunks.append(encode(self._artifact_line(a, seq)) + b"\n")
            seq += 1
        for m in batch.media:
            chunks.append(encode(self._media_line(m, seq)) + b"\n")
            seq += 1
        data = b"".join(chunks)
        if data:
            self._append(data)
        self.position = Position(seq, self.position.offset + len(data))
        return self.position

    def _append(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None
        start = self.position.offset
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync_each_batch:
                os.fsync(fd)
        except BaseException:
            # A partial append would glue the retried batch's first line onto a cut one.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise

    def _artifact_line(self, a: Artifact, seq: int) -> dict[str, Any]:
        line: dict[str, Any] = {"type": "artifact", "name": a.name, "is_dir": a.is_dir}
        if not a.path.exists():
            # Kept in the journal so that every backend counts the same record as failed.
            line.update(path=None, error=f"source deleted before it was copied: {a.path}")
        else:
            dest = self.run_dir / "artifacts" / a.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if a.path == dest:
                pass  # a typed artifact's folder, written here when it was logged
            elif a.is_dir:
                shutil.copytree(a.path, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(a.path, dest)
            line["path"] = dest.relative_to(self.run_dir).as_posix()
        line["seq"] = seq
        return line

    def _media_file(self, kind: str, seq: int, name: str, suffix: str, data: bytes) -> str:
        from tracelet.backends.local import safe_name

        folder = self.run_dir / "media" / kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{seq:08d}-{safe_name(name)}{suffix}"
        path.write_bytes(data)
        return path.relative_to(self.run_dir).as_posix()

    def _media_line(self, m: Media, seq: int) -> dict[str, Any]:
        base = {"name": m.name, "step": m.step, "ts": m.timestamp, "seq": seq}
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
            return {
                "type": "histogram",
                "edges": list(m.edges),
                "counts": list(m.counts),
                # The raw values are not kept (they can be millions); the bins are.
                **base,
            }
        if isinstance(m, Figure):
            if m.png is not None:
                path = self._media_file("figures", seq, m.name, ".png", m.png)
            else:
                data = (m.plotly_json or "").encode()
                path = self._media_file("figures", seq, m.name, ".plotly.json", data)
            return {"type": "figure", "path": path, **base}
        raise TypeError(f"unknown media record {type(m).__name__}")

    def flush(self) -> None:
        """Make everything appended so far durable (fsync)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close the file; further appends fail."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
