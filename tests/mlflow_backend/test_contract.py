"""The core's backend contract, passed by the MLflow backend on a sqlite store and on a server."""

from __future__ import annotations

from typing import Any

import pytest
from support.mlflow_reading import read_stored
from support.mlflow_server import MlflowServer

from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


class MlflowHarness(BackendHarness):
    backend = "mlflow"

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def config(self) -> dict[str, Any]:
        return {"mlflow": {"tracking_uri": self.uri}}

    def read(self, run: Run) -> StoredRun:
        return read_stored(self.uri, run)


class TestMlflowSqliteContract(BackendContract):
    @pytest.fixture
    def harness(self, sqlite_store: str) -> BackendHarness:
        return MlflowHarness(sqlite_store)


class TestMlflowServerContract(BackendContract):
    @pytest.fixture
    def harness(self, mlflow_server: MlflowServer) -> BackendHarness:
        return MlflowHarness(mlflow_server.uri)
