"""Runs made with only the journal (``backend="local"``), as on a node without a tracking
server, for the ``tracelet sync`` tests of each backend."""

from __future__ import annotations

from tracelet.plugins import get_default_host
from tracelet.run import Run
from tracelet.session import start_run


def offline_run(name: str, metric: str, points: int, params: dict[str, object]) -> Run:
    """A stopped local-only run in ``./tracelet-runs`` holding ``params`` and ``points`` values
    ``1 / (step + 1)`` of ``metric`` at steps 0..points-1."""
    run = start_run(name, "sync-tests", "local", {"flush_interval": 0.05}, host=get_default_host())
    run.log_params(params)
    for step in range(points):
        run.log_metric(metric, 1.0 / (step + 1), step=step)
    assert run.stop()
    return run
