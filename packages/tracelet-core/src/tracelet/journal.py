"""The run folder as a journal: every record is written here first, in order, then delivered.

Layout (format version 2; version 1 folders read the same)::

    <path>/<project>/<run id>/
        run.json             metadata, status, pid and host, the backends it was started with
        records.jsonl        one JSON object per record, appended batch by batch
        artifacts/           copies of logged files and directories
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
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tracelet._version import __version__
from tracelet.records import (
    Artifact,
    Batch,
    Figure,
    Histogram,
    Image,
    Media,
    Param,
    Tag,
    Text,
)

if TYPE_CHECKING:
    from tracelet.backend import RunInfo

FORMAT_VERSION = 2
RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"
DELIVERY_DIR = "delivery"
_READ_CHUNK = 1 << 20


def write_json_atomic(path: Path, data: dict[str, Any], *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` as indented JSON, so readers see the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _float_text(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"``: what ``float()`` reads back."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in ``records.jsonl``: the next ``seq`` and the byte offset where its line starts."""

    seq: int = 0
    offset: int = 0


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
            if a.is_dir:
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


# -- run.json ------------------------------------------------------------------------------------


def new_run_meta(run: RunInfo) -> dict[str, Any]:
    """The content of a new run's ``run.json`` (status ``running``, this process and host)."""
    return {
        "format": FORMAT_VERSION,
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "group": run.group,
        "status": "running",
        "start_time": run.start_time,
        "end_time": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "backends": list(run.backends),
        "tracelet_version": __version__,
    }


def close_run_meta(run_dir: Path, meta: dict[str, Any], status: str) -> None:
    """Record the run's end in ``run.json``: its status and end time."""
    meta.update(status=status, end_time=time.time())
    write_json_atomic(run_dir / RUN_FILE, meta)


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalBatch:
    """Records read back from the journal: ``batch`` holds the records ``start.seq`` to
    ``end.seq - 1``, rebuilt as the backends receive them live."""

    batch: Batch
    start: Position
    end: Position


def line_record(line: Any) -> dict[str, Any]:
    """A decoded journal line as a dict with its ``type`` (a metric's array spelled out)."""
    if type(line) is list:
        name, value, step, ts, seq = line
        return {"type": "metric", "name": name, "value": value, "step": step, "ts": ts, "seq": seq}
    return line  # type: ignore[no-any-return]


def _line_seq(line: Any) -> int:
    return int(line[4] if type(line) is list else line["seq"])


def _record(run_dir: Path, line: Any, batch: Batch) -> None:
    """Add the record of one journal line to ``batch``."""
    if type(line) is list:
        name, value, step, ts, _ = line
        batch.metrics.append((name, float(value), step, ts))
        return
    kind = line["type"]
    if kind == "metric":  # format version 1 wrote metric points as objects
        batch.metrics.append((line["name"], float(line["value"]), line["step"], line["ts"]))
    elif kind == "param":
        batch.params.append(Param(line["name"], line["value"]))
    elif kind == "tag":
        batch.tags.append(Tag(line["name"], line["value"]))
    elif kind == "artifact":
        # A source that was gone at logging time points at a path that does not exist: each
        # backend refuses it, as it did live.
        rel = line.get("path") or f"artifacts/.missing/{line['name']}"
        batch.artifacts.append(Artifact(run_dir / rel, line["name"], bool(line["is_dir"])))
    elif kind == "text":
        batch.media.append(Text(line["name"], line["text"], line["step"], line["ts"]))
    elif kind == "image":
        png = (run_dir / line["path"]).read_bytes()
        batch.media.append(
            Image(
                line["name"],
                png,
                line["width"],
                line["height"],
                line["step"],
                line["ts"],
                line.get("caption"),
            )
        )
    elif kind == "histogram":
        batch.media.append(
            Histogram(
                line["name"],
                tuple(float(e) for e in line["edges"]),
                tuple(line["counts"]),
                line["step"],
                line["ts"],
            )
        )
    elif kind == "figure":
        data = (run_dir / line["path"]).read_bytes()
        if line["path"].endswith(".png"):
            batch.media.append(Figure(line["name"], line["step"], line["ts"], png=data))
        else:
            batch.media.append(
                Figure(line["name"], line["step"], line["ts"], plotly_json=data.decode())
            )


class JournalReader:
    """Reads a run folder's records back as batches, from any position, while it is written.

    Only complete lines are read: a line cut short by a crash (or still being written) ends
    the read.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / RECORDS_FILE
        self._decode_lines = msgspec.json.Decoder().decode_lines

    def seek(self, seq: int, hint: int = 0) -> Position:
        """The position of record ``seq``: ``hint`` when that is where its line starts (a stored
        cursor), otherwise found by reading from the start.

        Raises:
            ValueError: The journal holds fewer than ``seq`` records.
        """
        if seq == 0:
            return Position()
        with open(self.path, "rb") as fh:
            if hint:
                fh.seek(hint)
                if _seq_of(fh.readline()) == seq:
                    return Position(seq, hint)
                fh.seek(0)
            offset = 0
            for line in fh:
                if _seq_of(line) == seq:
                    return Position(seq, offset)
                offset += len(line)
        end = self.end()
        if seq == end.seq:
            return end
        raise ValueError(f"{self.path} holds fewer than {seq} records")

    def batches(
        self, start: Position, *, size: int, end_seq: int | None = None, skip: int = 0
    ) -> Iterator[JournalBatch]:
        """Batches of at most ``size`` records from ``start`` to ``end_seq`` (exclusive; default:
        every complete line there is now), leaving out the first ``skip`` records (stored
        already); the first batch still starts at ``start``."""
        if not self.path.exists():
            return
        position = start
        with open(self.path, "rb") as fh:
            fh.seek(start.offset)
            pending = b""
            batch, lines_in_batch, batch_start = Batch(), 0, position
            while end_seq is None or position.seq < end_seq:
                chunk = fh.read(_READ_CHUNK)
                if not chunk:
                    break
                data = pending + chunk
                cut = data.rfind(b"\n") + 1
                pending = data[cut:]
                if not cut:
                    continue
                raw_lines = data[:cut].split(b"\n")[:-1]
                for raw, line in zip(raw_lines, self._decode_lines(data[:cut]), strict=True):
                    if end_seq is not None and position.seq >= end_seq:
                        break
                    if skip:
                        skip -= 1
                    else:
                        _record(self.run_dir, line, batch)
                    position = Position(_line_seq(line) + 1, position.offset + len(raw) + 1)
                    lines_in_batch += 1
                    if lines_in_batch >= size:
                        yield JournalBatch(batch, batch_start, position)
                        batch, lines_in_batch, batch_start = Batch(), 0, position
            if lines_in_batch:
                yield JournalBatch(batch, batch_start, position)

    def end(self) -> Position:
        """The position after the last complete line (read from the end of the file)."""
        if not self.path.exists():
            return Position()
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            back = min(size, 1 << 16)
            while True:
                fh.seek(size - back)
                tail = fh.read(back)
                cut = tail.rfind(b"\n") + 1  # just after the last complete line
                start = tail.rfind(b"\n", 0, max(cut - 1, 0)) + 1  # where that line starts
                if cut and (start > 0 or back == size):
                    seq = _seq_of(tail[start:cut])
                    if seq is None:
                        raise ValueError(
                            f"{self.path}: unreadable line at byte {size - back + start}"
                        )
                    return Position(seq + 1, size - back + cut)
                if back == size:
                    return Position()
                back = min(size, back * 4)


def _seq_of(line: bytes) -> int | None:
    """The ``seq`` of a complete journal line; ``None`` for a cut or unreadable one."""
    if not line.endswith(b"\n"):
        return None
    try:
        return _line_seq(msgspec.json.decode(line))
    except (msgspec.DecodeError, KeyError, IndexError, TypeError, ValueError):
        return None
