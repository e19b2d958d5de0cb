"""Interpreter exit delivers every run of the process, on every backend.

A real script starts three runs and never calls ``stop_logging``: a ``local`` run, then two
runs on the backend under test. Each start stops the run before it; the last run is left to
the interpreter's exit. The ``local`` run first means that Tracelet's exit handler exists
before the backend's library registers its own exit teardown (W&B stops its service process,
ClearML closes its task): the drain must still run first. Each backend's two runs are read
back through the backend's own reader: every point, and the run finished.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.aim_reading import read_run as read_aim_run
from support.clearml_reading import read_session
from support.mlflow_reading import find_run, metric_history
from support.mlflow_server import MLFLOW_ENV
from support.processes import checked, run
from support.wandb_env import wandb_test_env
from support.wandb_reading import metric_points, read_finished_run

from tracelet.backends.local import LocalRun, list_runs
from tracelet.delivery_state import DeliveryState
from tracelet_wandb.backend import STEP_METRIC

POINTS = 200
METRIC = "loss"
EXPECTED = [(step, 1.0 / (step + 1)) for step in range(POINTS)]

_JOB = """
import sys
import tracelet

points = int(sys.argv[2])
for index, backend in enumerate(sys.argv[1].split(",")):
    # Each start stops the run before it; the last run is left to the interpreter's exit. The
    # long flush interval keeps every record queued until the run stops.
    run = tracelet.start_logging(
        f"run-{index}", "exit-tests", backend, config={"flush_interval": 60}
    )
    for step in range(points):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
"""


@dataclass(frozen=True)
class Delivered:
    """What a backend holds of one run."""

    points: list[tuple[int, float]]
    finished: bool


def identity(journal: LocalRun, backend: str) -> dict[str, Any]:
    """The backend's own id of the run, from the journal's delivery state."""
    found = DeliveryState.load(journal.path, backend).identity
    assert found, f"{journal.path}: no {backend} identity"
    return found


def local_runs(folder: Path, journals: list[LocalRun]) -> list[Delivered]:
    """The journal is the ``local`` backend's run folder."""
    return [
        Delivered(
            [(p.step, p.value) for p in journal.metric_history(METRIC)],
            journal.status == "finished",
        )
        for journal in journals
    ]


def mlflow_runs(folder: Path, journals: list[LocalRun]) -> list[Delivered]:
    uri = mlflow_uri(folder)
    found = []
    for journal in journals:
        mlrun = find_run(uri, journal.id)
        history = metric_history(uri, mlrun.info.run_id, METRIC)
        found.append(Delivered([(s, v) for s, v, _ in history], mlrun.info.status == "FINISHED"))
    return found


def wandb_runs(folder: Path, journals: list[LocalRun]) -> list[Delivered]:
    found = []
    for journal in journals:
        stored = read_finished_run(Path(identity(journal, "wandb")["folder"]))
        points = metric_points(stored, METRIC, STEP_METRIC)
        found.append(Delivered([(int(s), v) for s, v in points], stored.exit_code == 0))
    return found


def clearml_runs(folder: Path, journals: list[LocalRun]) -> list[Delivered]:
    """Offline, ClearML records no task status: a closed session is zipped for upload."""
    found = []
    for journal in journals:
        session_folder = Path(identity(journal, "clearml")["folder"])
        scalars = read_session(session_folder).scalars().get((METRIC, METRIC), [])
        found.append(Delivered(scalars, session_folder.with_suffix(".zip").is_file()))
    return found


def aim_runs(folder: Path, journals: list[LocalRun]) -> list[Delivered]:
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.repo import Repo

    identities = [identity(journal, "aim") for journal in journals]
    # AIM's Repo keeps the view of its index it read first: index every run before reading.
    for ident in identities:
        repo = Repo.from_path(ident["repo"])
        RepoIndexManager.get_index_manager(repo).index(ident["run_hash"])
    found = []
    for ident in identities:
        stored = read_aim_run(ident["repo"], ident["run_hash"])
        points = stored.metrics.get((METRIC, ()), [])
        found.append(Delivered(points, stored.raw.get("tracelet_status") == "finished"))
    return found


def mlflow_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def child_env(backend: str, folder: Path) -> dict[str, str]:
    """The backend's settings for the script, every file under ``folder``."""
    if backend == "mlflow":
        return {**MLFLOW_ENV, "TRACELET_MLFLOW__TRACKING_URI": mlflow_uri(folder)}
    if backend == "wandb":
        return {
            **wandb_test_env(folder),
            "TRACELET_WANDB__MODE": "offline",
            "TRACELET_WANDB__DIR": str(folder / "wb"),
        }
    if backend == "clearml":
        return {
            "CLEARML_CACHE_DIR": str(folder / "clearml-cache"),
            "HOME": str(folder / "home"),
            "TRACELET_CLEARML__OFFLINE": "true",
        }
    if backend == "aim":
        return {"TRACELET_AIM__REPO_PATH": str(folder / "aim-repo")}
    return {}


READERS: dict[str, Callable[[Path, list[LocalRun]], list[Delivered]]] = {
    "local": local_runs,
    "mlflow": mlflow_runs,
    "wandb": wandb_runs,
    "clearml": clearml_runs,
    "aim": aim_runs,
}


@pytest.mark.parametrize("backend", list(READERS))
def test_exit_without_stop_delivers_every_run_of_the_process(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MLFLOW_ENV.items():  # this process reads MLflow's store back
        monkeypatch.setenv(name, value)
    script = tmp_path / "job.py"
    script.write_text(_JOB)
    result = checked(
        run(
            [sys.executable, script, f"local,{backend},{backend}", str(POINTS)],
            tmp_path,
            env=child_env(backend, tmp_path),
            timeout=300,
        )
    )
    first, stopped, at_exit = list_runs(tmp_path / "tracelet-runs")
    assert [r.name for r in (first, stopped, at_exit)] == ["run-0", "run-1", "run-2"]
    assert [r.status for r in (first, stopped, at_exit)] == ["finished"] * 3
    assert [(p.step, p.value) for p in first.metric_history(METRIC)] == EXPECTED
    assert "did not receive everything" not in result.stderr, result.stderr

    delivered = READERS[backend](tmp_path, [stopped, at_exit])
    assert delivered[0] == Delivered(EXPECTED, finished=True), "the run stopped by a start"
    assert delivered[1] == Delivered(EXPECTED, finished=True), "the run left to exit"
