"""Fixtures for the MLflow backend's tests: a sqlite store per session and MLflow's reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_server import MLFLOW_ENV, MlflowServer


@pytest.fixture(autouse=True)
def mlflow_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's test environment (after ``isolated`` cleared every MLFLOW_ variable)."""
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A sqlite tracking store shared by the session (creating one costs ~2 s of migrations);
    tests tell their runs apart by id. Artifacts of experiments it creates go next to it."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow-sqlite') / 'mlflow.db'}"


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` of this test's own, started, which the test may stop and start
    again (an outage). MLflow's own request retries are off (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
    is 0, about two minutes otherwise), so Tracelet's retries and deadlines are what is tested."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = MlflowServer(tmp_path / "server")
    server.start()
    yield server
    server.stop()
