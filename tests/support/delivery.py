"""Where a backend's run is now, from the run folder's delivery state."""

from __future__ import annotations

import json

from tracelet.run import Run


def current_folder(run: Run, backend: str) -> str | None:
    """The ``folder`` of the backend's identity in ``delivery/<backend>.json``: where the run
    is after ``tracelet sync`` replaced it (W&B and ClearML offline); ``None`` without one."""
    if run.journal_path is None:
        return None
    state = run.journal_path / "delivery" / f"{backend}.json"
    if not state.exists():
        return None
    identity = json.loads(state.read_text()).get("identity") or {}
    folder = identity.get("folder")
    return str(folder) if folder else None
