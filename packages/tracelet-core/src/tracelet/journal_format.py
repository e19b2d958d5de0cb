"""The journal's names and small shared pieces: file names, :class:`Position`, ``run.json``.

The format itself is described in :mod:`tracelet.journal`; the writer is there too, and the
reader in :mod:`tracelet.journal_reader`. This module is what both (and the delivery state,
``tracelet sync`` and the viewer) need: the folder's file names, a place in ``records.jsonl``,
the atomic JSON write every metadata file uses, and the content of ``run.json``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet._version import __version__

if TYPE_CHECKING:
    from tracelet.backend import RunInfo

#: The format version written in ``run.json`` (version 1 folders read the same).
FORMAT_VERSION = 2
RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"
DELIVERY_DIR = "delivery"


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


@dataclass(frozen=True, slots=True)
class Position:
    """A place in ``records.jsonl``: the next ``seq`` and the byte offset where its line starts."""

    seq: int = 0
    offset: int = 0


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
