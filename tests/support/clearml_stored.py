"""A Tracelet run's offline ClearML session, in the contract's terms."""

from __future__ import annotations

from pathlib import Path

from support.clearml_reading import OfflineSession, read_session
from tracelet.run import Run
from tracelet.testing import StoredRun


def session_of(run: Run) -> OfflineSession:
    """The offline session of a (stopped) Tracelet run, from the folder its location names."""
    location = run.locations()["clearml"]
    assert location is not None
    return read_session(Path(location))


def metric_name(title: str, series: str) -> str:
    """The Tracelet name of a scalar: ``a/b`` + ``c`` → ``a/b/c``; a single series → title."""
    return title if title == series else f"{title}/{series}"


def read_stored(run: Run, section: str = "General") -> StoredRun:
    session = session_of(run)
    return StoredRun(
        metrics={metric_name(*key): points for key, points in session.scalars().items()},
        params=session.params(section),
        tags=dict(t.split(":", 1) if ":" in t else (t, "") for t in session.tags),
        artifacts=session.artifacts(),
        status=None,  # not recorded offline
        name=session.name,
    )
