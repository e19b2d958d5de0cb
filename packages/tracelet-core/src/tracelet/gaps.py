"""What each backend of a run has not received, read from the run folder (for ``tracelet runs``
and ``tracelet show``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracelet.journal import DELIVERY_DIR, JournalReader


@dataclass(frozen=True, slots=True)
class Gap:
    """One backend's delivery of one run.

    Attributes:
        backend: The backend's name.
        behind: Journal records after the backend's cursor (not yet delivered, or of kinds it
            does not store).
        failed: Records the backend refused.
        closed: Whether the backend's run was closed with the run's status.
    """

    backend: str
    behind: int
    failed: int
    closed: bool

    @property
    def complete(self) -> bool:
        return self.behind == 0 and self.closed

    def describe(self) -> str:
        parts = []
        if self.behind:
            parts.append(f"{self.behind:,} behind")
        if self.failed:
            parts.append(f"{self.failed:,} refused")
        if not self.closed:
            parts.append("not closed")
        return ", ".join(parts) or "complete"


def delivery_gaps(run_dir: Path) -> list[Gap]:
    """Every backend with a delivery file in ``run_dir``, in name order."""
    from tracelet.delivery_state import DeliveryState

    folder = run_dir / DELIVERY_DIR
    if not folder.is_dir():
        return []
    end = JournalReader(run_dir).end()
    gaps = []
    for file in sorted(folder.glob("*.json")):
        state = DeliveryState.load(run_dir, file.stem)
        gaps.append(Gap(file.stem, max(0, end.seq - state.cursor.seq), state.failed, state.closed))
    return gaps
