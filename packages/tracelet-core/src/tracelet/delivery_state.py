"""How far one backend got with a run: ``delivery/<backend>.json`` in the run folder.

Written by the backend's delivery worker after every write the backend acknowledged (replaced
atomically, so a reader sees the old or the new state), read by ``tracelet sync`` to resume the
backend's run and deliver from the cursor on, and by ``tracelet runs``/``show`` to say what a
run is behind on.
"""

from __future__ import annotations

import json
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
        failed: Records the backend refused; ``failures`` keeps the first reasons.
        closed: Whether the backend's run was closed with the run's final status.
    """

    path: Path
    backend: str
    identity: dict[str, Any] | None = None
    cursor: Position = field(default_factory=Position)
    delivered: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def load(cls, run_dir: Path, backend: str) -> DeliveryState:
        """The stored state (a fresh one when the file does not exist)."""
        path = run_dir / DELIVERY_DIR / f"{backend}.json"
        if not path.exists():
            return cls(path, backend)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            path,
            backend,
            identity=data.get("identity"),
            cursor=Position(int(data["seq"]), int(data["offset"])),
            delivered=int(data.get("delivered", 0)),
            failed=int(data.get("failed", 0)),
            failures=list(data.get("failures", [])),
            closed=bool(data.get("closed", False)),
        )

    def save(self, *, fsync: bool = False) -> None:
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
                "updated": time.time(),
            },
            fsync=fsync,
        )

    def add_failure(self, seq: int, count: int, reason: str) -> None:
        self.failed += count
        if len(self.failures) < MAX_FAILURE_REASONS:
            self.failures.append({"seq": seq, "count": count, "reason": reason})
