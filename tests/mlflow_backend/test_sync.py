"""Durable delivery into MLflow: runs stopped the way clusters stop them, then ``tracelet sync``.

Every scenario runs the training script in a real child process, stops it with a real signal,
and reads MLflow back through ``MlflowClient``; ``tracelet sync`` runs as the real command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.mlflow_reading import find_run, metric_history
from support.mlflow_server import MLFLOW_ENV, MlflowServer
from support.processes import checked, clean_env, run

import tracelet
from tracelet.backends.local import list_runs, read_run
from tracelet.delivery_state import DeliveryState
from tracelet.media import encode_png
from tracelet.plugins import get_default_host
from tracelet.session import start_run

#: A training script: logs POINTS points to local + mlflow, says so once they are all in the
#: journal, then waits to be stopped.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    import tracelet

    points = int(sys.argv[1])
    run = tracelet.start_logging("job", "sync-tests", ["local", "mlflow"],
                                 config={"flush_interval": 0.05})
    run.log_params({"lr": 0.01, "points": points})
    for step in range(points):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    while run.stats()["local"].delivered < points + 2:
        time.sleep(0.01)
    print("journaled", run.stats()["mlflow"].delivered, flush=True)
    time.sleep(600)
    """
)


def journaled_job(tmp_path: Path, uri: str, points: int) -> tuple[subprocess.Popen[str], int]:
    """Start :data:`SCRIPT` logging ``points`` points to local + MLflow at ``uri`` and return
    once it says they are all in the journal: the running job, and how many MLflow had then."""
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    job = subprocess.Popen(
        [sys.executable, str(script), str(points)],
        cwd=tmp_path,
        env=clean_env({"MLFLOW_TRACKING_URI": uri, **MLFLOW_ENV}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stdout is not None
    line = job.stdout.readline()
    if not line.startswith("journaled"):
        job.kill()
        _, err = job.communicate(timeout=30)
        pytest.fail(f"the job did not start: {line!r}\n{err}")
    return job, int(line.split()[1])


def only_run(tmp_path: Path) -> Path:
    runs = list_runs(tmp_path / "tracelet-runs")
    assert len(runs) == 1, runs
    return runs[0].path


def tracelet_cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = checked(
        run(
            [sys.executable, "-m", "tracelet.cli", *args],
            cwd,
            env={**MLFLOW_ENV, **(env or {})},
            timeout=300,
        )
    )
    return result.stdout


def test_sigkill_mid_run_then_sync_delivers_every_point_exactly_once(
    tmp_path: Path, sqlite_store: str
) -> None:
    points = 40_000
    job, at_kill = journaled_job(tmp_path, sqlite_store, points)
    job.send_signal(signal.SIGKILL)
    job.wait(30)
    folder = only_run(tmp_path)
    stored = read_run(folder)
    assert stored.status == "running", "SIGKILL leaves no chance to close"
    assert len(stored.metric_history("train/loss")) == points
    mlrun = find_run(sqlite_store, stored.id)
    run_id = mlrun.info.run_id
    before = metric_history(sqlite_store, run_id, "train/loss")
    assert len(before) < points, f"MLflow already had everything ({at_kill} at the kill)"

    out = tracelet_cli("sync", folder, cwd=tmp_path)
    assert "mlflow" in out, out
    assert "killed" in out, out
    history = metric_history(sqlite_store, run_id, "train/loss")
    assert [(s, v) for s, v, _ in history] == [(s, 1.0 / (s + 1)) for s in range(points)]
    mlrun = find_run(sqlite_store, stored.id)
    assert mlrun.info.status == "KILLED"
    assert mlrun.data.params == {"lr": "0.01", "points": str(points)}
    assert read_run(folder).status == "killed"
    state = json.loads((folder / "delivery" / "mlflow.json").read_text())
    assert (state["seq"], state["closed"]) == (points + 2, True)

    again = tracelet_cli("sync", folder, cwd=tmp_path)
    assert "up to date" in again
    assert len(metric_history(sqlite_store, run_id, "train/loss")) == points


def test_sigterm_drains_closes_killed_and_exits_as_the_signal_would(
    tmp_path: Path, sqlite_store: str
) -> None:
    points = 20_000
    job, _ = journaled_job(tmp_path, sqlite_store, points)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=120)
    assert job.returncode == -signal.SIGTERM, err  # what `kill -TERM` gives: 143 in a shell
    assert "SIGTERM: delivering what is queued" in err
    folder = only_run(tmp_path)
    stored = read_run(folder)
    assert stored.status == "killed"
    mlrun = find_run(sqlite_store, stored.id)
    assert mlrun.info.status == "KILLED"
    history = metric_history(sqlite_store, mlrun.info.run_id, "train/loss")
    assert [s for s, _, _ in history] == list(range(points))
    assert "up to date" in tracelet_cli("sync", folder, cwd=tmp_path)


def test_sigterm_chains_a_handler_installed_before(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """
            import signal, sys, time
            import tracelet

            def mine(signum, frame):
                print("user handler ran", flush=True)
                sys.exit(7)

            signal.signal(signal.SIGTERM, mine)
            run = tracelet.start_logging("job", "sync-tests", "local")
            run.log_metric("x", 1.0, step=0)
            print("ready", flush=True)
            time.sleep(600)
            """
        )
    )
    job = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stdout is not None
    assert job.stdout.readline() == "ready\n"
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=60)
    assert job.returncode == 7, err
    assert out == "user handler ran\n"
    stored = read_run(only_run(tmp_path))
    assert stored.status == "killed"
    assert [p.value for p in stored.metric_history("x")] == [1.0]


def test_a_local_only_run_is_synced_into_mlflow_once(
    tmp_path: Path, sqlite_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run made offline with only ``local`` reaches MLflow later, whole, and only once."""
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    run = start_run("offline", "sync-tests", "local", {"flush_interval": 0.05},
                    host=get_default_host())  # fmt: skip
    run.log_params({"lr": 0.1, "opt": {"name": "adam"}})
    run.set_tag("node", "gpu-17")
    for step in range(2500):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.log_artifact(artifact)
    run.log_image("sample", encode_png(b"\x00\xff" * 8, 4, 4, 1), step=3)
    run.log_text("note", "hello", step=1)
    assert run.stop()
    folder = run.journal_path
    assert folder is not None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store)
    results = tracelet.sync([folder], to=["mlflow"])
    assert [(r.backend, r.delivered, r.already, r.remaining, r.status) for r in results] == [
        ("mlflow", 2506, 0, 0, "finished")
    ]
    mlrun = find_run(sqlite_store, run.id)
    run_id = mlrun.info.run_id
    assert mlrun.info.run_name == "offline"
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.params == {"lr": "0.1", "opt/name": "adam"}
    assert mlrun.data.tags["node"] == "gpu-17"
    history = metric_history(sqlite_store, run_id, "loss")
    assert [(s, v) for s, v, _ in history] == [(s, 1.0 / (s + 1)) for s in range(2500)]
    # The original timestamps travel with the points (ms), not the time of the sync.
    logged = [round(p.timestamp * 1000) for p in read_run(folder).metric_history("loss")]
    assert [t for _, _, t in history] == pytest.approx(logged, abs=1)
    from support.mlflow_reading import artifact_files

    files = artifact_files(sqlite_store, run_id)
    assert files["model.txt"] == b"weights"
    assert files["text/note/step_00000001.txt"] == b"hello"
    assert any(name.startswith("images/sample") for name in files)

    again = tracelet.sync([run.id], to=["mlflow"])  # by run id, under ./tracelet-runs
    assert [(r.delivered, r.already, r.status) for r in again] == [(0, 2506, "up to date")]
    assert len(metric_history(sqlite_store, run_id, "loss")) == 2500


def test_a_sync_killed_mid_way_and_run_again_stores_each_point_once(
    tmp_path: Path, sqlite_store: str
) -> None:
    points = 60_000
    run_ = start_run("big", "sync-tests", "local", {"batch_size": 1000},
                     host=get_default_host())  # fmt: skip
    for step in range(points):
        run_.log_metric("loss", float(step), step=step)
    assert run_.stop()
    folder = run_.journal_path
    assert folder is not None
    env = clean_env({"MLFLOW_TRACKING_URI": sqlite_store, **MLFLOW_ENV})
    sync = subprocess.Popen(
        [sys.executable, "-m", "tracelet.cli", "sync", str(folder), "--to", "mlflow"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    state_file = folder / "delivery" / "mlflow.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if DeliveryState.load(folder, "mlflow").cursor.seq >= 5000:
            break
        assert sync.poll() is None, "the sync ended before it could be interrupted"
        time.sleep(0.005)
    sync.send_signal(signal.SIGKILL)
    sync.wait(30)
    cut = DeliveryState.load(folder, "mlflow").cursor.seq
    assert 0 < cut < points, cut

    tracelet_cli("sync", folder, "--to", "mlflow", cwd=tmp_path,
                 env={"MLFLOW_TRACKING_URI": sqlite_store})  # fmt: skip
    mlrun = find_run(sqlite_store, run_.id)
    history = metric_history(sqlite_store, mlrun.info.run_id, "loss")
    assert [(s, v) for s, v, _ in history] == [(s, float(s)) for s in range(points)]
    assert os.path.exists(state_file)
    assert json.loads(state_file.read_text())["closed"] is True


def test_ctrl_c_twice_stops_waiting_and_says_how_to_deliver_the_rest(
    tmp_path: Path, sqlite_store: str
) -> None:
    points = 60_000
    job, _ = journaled_job(tmp_path, sqlite_store, points)
    job.send_signal(signal.SIGINT)
    assert job.stderr is not None
    said = ""
    while "press Ctrl-C again" not in said:
        line = job.stderr.readline()
        assert line, f"the job ended without saying what it waits for: {said}"
        said += line
    assert "records to mlflow before exiting" in said
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=60)
    said += err
    assert "deliver the rest with: tracelet sync" in said, said
    assert said.count("press Ctrl-C again") == 1
    folder = only_run(tmp_path)
    stored = read_run(folder)
    assert stored.status == "killed"
    mlrun = find_run(sqlite_store, stored.id)
    run_id = mlrun.info.run_id
    assert mlrun.info.status == "KILLED"
    assert len(metric_history(sqlite_store, run_id, "train/loss")) < points, "it stopped waiting"

    tracelet_cli("sync", folder, cwd=tmp_path)
    history = metric_history(sqlite_store, run_id, "train/loss")
    assert [s for s, _, _ in history] == list(range(points))


def test_a_server_down_past_the_shutdown_timeout_gets_the_rest_from_sync(
    tmp_path: Path, own_server: MlflowServer
) -> None:
    server = own_server
    live = tracelet.start_logging(
        exp_name="outage",
        project="sync-tests",
        backend=["mlflow"],
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": server.uri}},
    )
    for step in range(500):
        live.log_metric("loss", float(step), step=step)
    assert live.flush(timeout=60)
    server.stop()
    for step in range(500, 3000):
        live.log_metric("loss", float(step), step=step)
    assert live.stop(timeout=2) is False
    stats = live.stats()["mlflow"]
    assert (stats.delivered, stats.undelivered, stats.pending, stats.failed) == (
        500,
        2500,
        0,
        0,
    )
    assert live.journal_path is not None
    assert "mlflow 2,500 behind, not closed" in tracelet_cli("runs", cwd=tmp_path)

    server.start()
    out = tracelet_cli("sync", live.id, cwd=tmp_path)
    assert "finished" in out, out
    mlrun = find_run(server.uri, live.id)
    history = metric_history(server.uri, mlrun.info.run_id, "loss")
    assert [(s, v) for s, v, _ in history] == [(s, float(s)) for s in range(3000)]
    assert mlrun.info.status == "FINISHED"
    assert "-" in tracelet_cli("runs", cwd=tmp_path).splitlines()[1].split()


def test_a_server_down_at_start_is_deferred_then_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``backend_start_failure: defer``: the run logs on without MLflow; sync creates it later."""
    server = MlflowServer(tmp_path / "server")  # not started yet
    with caplog.at_level("WARNING", logger="tracelet"):
        live = tracelet.start_logging(
            exp_name="deferred",
            project="sync-tests",
            backend=["local", "mlflow"],
            config={
                "backend_start_failure": "defer",
                "mlflow": {"tracking_uri": server.uri, "start_timeout": 2},
            },
        )
    assert live.backends == ("local",)
    assert any("backend 'mlflow' could not start" in r.getMessage() for r in caplog.records)
    for step in range(1500):
        live.log_metric("loss", float(step), step=step)
    live.log_params({"lr": 0.5})
    assert live.stop()
    assert "mlflow 1,501 behind, not closed" in tracelet_cli("runs", cwd=tmp_path)

    server.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        (result,) = tracelet.sync([live.id], progress=False)
        assert (result.backend, result.delivered, result.status) == ("mlflow", 1501, "finished")
        mlrun = find_run(server.uri, live.id)
        assert mlrun.data.params == {"lr": "0.5"}
        history = metric_history(server.uri, mlrun.info.run_id, "loss")
        assert [s for s, _, _ in history] == list(range(1500))
    finally:
        server.stop()


def test_without_defer_a_server_down_at_start_still_fails_fast(tmp_path: Path) -> None:
    from tracelet.errors import BackendStartError

    with pytest.raises(BackendStartError, match="refused the connection"):
        tracelet.start_logging(
            exp_name="strict",
            project="sync-tests",
            backend=["mlflow"],
            config={"mlflow": {"tracking_uri": "http://127.0.0.1:9", "start_timeout": 1}},
        )
