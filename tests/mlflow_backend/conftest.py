"""Fixtures for the MLflow backend's tests: a sqlite store per session and MLflow's reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.mlflow_server import MLFLOW_ENV


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
