"""Every collector into MLflow (sqlite store), read back through ``MlflowClient``; and two ranks
that each collect system metrics into one MLflow run without overwriting each other."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.git_repo import TOKEN
from support.mlflow_reading import artifact_files, find_run, metric_history
from support.mlflow_server import MLFLOW_ENV
from support.processes import clean_env

import tracelet
from tracelet.backends import memory

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


@pytest.fixture(autouse=True)
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_what_the_collectors_logged_is_what_mlflow_stored(repo: Any, store: str) -> None:
    run = tracelet.start_logging(
        exp_name="collected",
        backend=["memory", "mlflow"],
        config={
            "system_metrics_interval": 0.1,
            "git_repo_path": str(repo.working_dir),
            "include_uncommitted_changes": True,
            "mlflow": {"tracking_uri": store},
        },
    )
    # At least one sample (under load the first may take longer than its 0.1 s interval).
    deadline = time.monotonic() + 30
    while "system/cpu_percent" not in memory.stored(run).metrics:
        assert time.monotonic() < deadline, "no system sample in 30 s"
        time.sleep(0.05)
    assert run.stop()
    logged = memory.stored(run)
    mlrun = find_run(store, run)
    run_id = mlrun.info.run_id
    system = sorted(n for n in logged.metrics if n.startswith("system/"))
    assert "system/cpu_percent" in system
    assert "system/process_rss_mb" in system
    assert sorted(n for n in mlrun.data.metrics if n.startswith("system/")) == system
    for name in system:
        assert [(s, v) for s, v, _ in metric_history(store, run_id, name)] == [
            (m.step, m.value) for m in logged.metrics[name]
        ], name
    for key in ("env/python_version", "env/hostname", "env/command_line", "git/modified_files"):
        assert mlrun.data.params[key] == str(logged.params[key])
    for key in ("git.commit", "git.branch", "git.dirty", "git.remote"):
        assert mlrun.data.tags[key] == logged.tags[key]
    files = artifact_files(store, run_id)
    assert files["git/uncommitted.diff"] == logged.artifacts["git/uncommitted.diff"]
    assert files["environment/requirements.txt"] == logged.artifacts["environment/requirements.txt"]
    assert TOKEN not in repr((mlrun.data.params, mlrun.data.tags, files))


#: Runs until 5 samples of its own are logged (a deadline for progress, not a speed claim).
RANK_SCRIPT = """
import sys, time, tracelet
from tracelet.backends import memory
run = tracelet.start_logging("ranks", backend=["mlflow", "memory"], config={
    "log_all_ranks": True, "collect_system_metrics": True, "system_metrics_interval": 0.1,
    "track_environment": False,
    "track_git_info": False, "mlflow": {"tracking_uri": sys.argv[1], "run_id": sys.argv[2]},
})
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not any(
    len(points) >= 5 for points in memory.stored(run).metrics.values()
):
    run.flush(timeout=60)
    time.sleep(0.02)
sys.exit(0 if run.stop() else 1)
"""


def test_two_ranks_collect_into_one_run_apart(store: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(store)
    run_id = client.create_run(client.create_experiment("ranks")).info.run_id
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), store, run_id],
            env=clean_env({**MLFLOW_ENV, "RANK": str(rank), "WORLD_SIZE": "2", "GROUP_RANK": "0"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    metrics = client.get_run(run_id).data.metrics
    for rank in (0, 1):
        prefix = f"system/node.0.rank.{rank}/"
        history = client.get_metric_history(run_id, prefix + "process_rss_mb")
        assert len(history) >= 5, f"rank {rank}: {len(history)} samples"
        assert [m.step for m in history] == list(range(len(history)))
    assert all(n.startswith(("system/node.0.rank.0/", "system/node.0.rank.1/")) for n in metrics)
