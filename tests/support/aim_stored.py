"""A Tracelet run's AIM run, in the contract's terms."""

from __future__ import annotations

from support.aim_reading import AimStoredRun, read_run
from tracelet.run import Run
from tracelet.testing import StoredRun


def aim_run_of(run: Run) -> AimStoredRun:
    """Read the AIM run of a (stopped) Tracelet run from the local repo its location names."""
    location = run.locations()["aim"]
    assert location is not None
    assert location.startswith("aim up --repo "), f"not a local repo: {location}"
    run_hash = location.rstrip(")").split()[-1]
    return read_run(location.removeprefix("aim up --repo ").split()[0], run_hash)


def tracelet_name(name: str, context: tuple[tuple[str, str], ...]) -> str:
    """The Tracelet name of an AIM metric: ``loss`` + subset ``train`` → ``train/loss``."""
    subset = dict(context).get("subset")
    return f"{subset}/{name}" if subset else name


def read_stored(run: Run) -> StoredRun:
    """The run in the contract's terms: the revisions of a series are one metric again."""
    stored = aim_run_of(run)
    status = stored.raw.get("tracelet_status", None)
    metrics: dict[str, list[tuple[int, float]]] = {}
    for (name, context), points in sorted(stored.metrics.items(), key=_revision_order):
        plain = tuple((k, v) for k, v in context if k != "revision")
        metrics.setdefault(tracelet_name(name, plain), []).extend(points)
    return StoredRun(
        metrics=metrics,
        params=stored.params,
        tags=dict(t.split(":", 1) if ":" in t else (t, "") for t in stored.tags),
        artifacts=stored.artifacts,
        status=status,
        name=stored.name,
    )


def _revision_order(item: tuple[tuple[str, tuple[tuple[str, str], ...]], object]) -> int:
    return int(dict(item[0][1]).get("revision", "0"))
