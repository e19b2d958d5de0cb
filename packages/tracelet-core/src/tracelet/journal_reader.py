"""Reading a run folder's ``records.jsonl`` back as batches (format: :mod:`tracelet.journal`).

:class:`JournalReader` hands back :class:`JournalBatch` es of at most a given size, each with the
seq range and byte offsets it covers, from any :class:`~tracelet.journal_format.Position`, while
the file is still being written: only complete lines are read. Each record is rebuilt as the
backends receive it live (images and figures read back from ``media/``). This is how a delivery
worker that fell behind catches up, and how ``tracelet sync`` delivers after the process is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tracelet.journal_format import RECORDS_FILE, Position
from tracelet.records import (
    Artifact,
    Batch,
    Figure,
    Histogram,
    Image,
    Param,
    Tag,
    Text,
)

_READ_CHUNK = 1 << 20


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
