"""Whether W&B has finished writing an offline run's ``.wandb`` log.

``run.finish()`` returns once W&B's service process has the run's last records, sometimes before
that process has written them to the log. :func:`wait_for_exit` waits until the log holds the
exit record, the last thing W&B writes for a run.

The log is LevelDB-log framed: a 7-byte file header, then 32 KiB blocks of chunks, each with a
7-byte header (crc32, length, type: FULL=1, FIRST=2, MIDDLE=3, LAST=4); a record is one FULL
chunk or FIRST, MIDDLE..., LAST, and holds a serialized ``wandb_internal_pb2.Record``. Only the
end of the file is read: the exit record is among the last records.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

BLOCK = 32 * 1024
FILE_HEADER = 7
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _records(data: bytes, start: int) -> Iterator[bytes]:
    """The complete records of ``data`` (the file from ``start``, a block boundary); a record
    begun before ``start`` or cut at the end is skipped."""
    parts: list[bytes] | None = None
    block = start
    while block < start + len(data):
        pos = max(block, FILE_HEADER)
        end_of_block = block + BLOCK
        while pos + CHUNK.size <= end_of_block:
            offset = pos - start
            if offset + CHUNK.size > len(data):
                return
            _crc, length, kind = CHUNK.unpack_from(data, offset)
            if kind == 0:
                break  # zero padding up to the next block
            payload = data[offset + CHUNK.size : offset + CHUNK.size + length]
            if len(payload) < length:
                return  # cut: still being written
            if kind == FULL:
                yield payload
            elif kind == FIRST:
                parts = [payload]
            elif parts is not None:
                parts.append(payload)
                if kind == LAST:
                    yield b"".join(parts)
                    parts = None
            pos += CHUNK.size + length
        block = end_of_block


def has_exit_record(log: Path, tail_blocks: int = 4) -> bool:
    """Whether the last ``tail_blocks`` blocks of the log hold a run-exit record."""
    from wandb.proto.wandb_internal_pb2 import Record  # type: ignore[attr-defined]

    try:
        size = log.stat().st_size
        start = max(0, (size // BLOCK - tail_blocks + 1) * BLOCK)
        with log.open("rb") as file:
            file.seek(start)
            data = file.read()
    except OSError:
        return False
    for payload in _records(data, start):
        record = Record()
        try:
            record.ParseFromString(payload)
        except Exception:  # a torn or foreign payload: not the exit record
            continue
        if record.HasField("exit"):
            return True
    return False


def wait_for_exit(log: Path, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the exit record; whether it came."""
    deadline = time.monotonic() + timeout
    while not has_exit_record(log):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
