"""The tracking server goes down mid-run and comes back: every point logged meanwhile is stored."""

from __future__ import annotations

import time

from support.mlflow_reading import find_run, metric_history
from support.mlflow_server import MlflowServer

import tracelet


def test_points_logged_while_the_server_is_down_arrive_after_it_restarts(
    own_server: MlflowServer,
) -> None:
    # With MLflow's own retries off (own_server), the dispatcher's retry (backoff up to 10 s)
    # is what brings the points through.
    server = own_server
    run = tracelet.start_logging(
        exp_name="outage",
        project="outage",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": server.uri}},
    )
    for step in range(100):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert run.flush(timeout=60)

    server.stop()
    for step in range(100, 600):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.log_param("phase", "outage")
    deadline = time.monotonic() + 60
    while run.stats()["mlflow"].retries == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = run.stats()["mlflow"]
    assert stats.retries > 0
    assert stats.pending > 0
    assert stats.last_error is not None
    assert str(server.port) in stats.last_error

    server.start()
    assert run.stop(timeout=120), run.stats()
    final = run.stats()["mlflow"]
    assert (final.delivered, final.failed, final.dropped) == (601, 0, 0)
    mlrun = find_run(server.uri, run)
    history = metric_history(server.uri, mlrun.info.run_id, "loss")
    assert sorted(step for step, _, _ in history) == list(range(600))
    assert mlrun.data.params == {"phase": "outage"}
    assert mlrun.info.status == "FINISHED"
