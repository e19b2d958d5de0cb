"""The core's backend contract, passed by the ClearML backend in offline mode (read back from
the offline session ClearML wrote)."""

from __future__ import annotations

from typing import Any

import pytest
from support.clearml_stored import read_stored, read_typed_artifacts

from tracelet.artifacts import ArtifactInfo
from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


class ClearmlHarness(BackendHarness):
    backend = "clearml"
    stores_status = False  # an offline session has no status (that needs a server)
    timestamp_precision = None  # ClearML stamps each event with the time it is reported

    def config(self) -> dict[str, Any]:
        return {"clearml": {"offline": True}}

    def read(self, run: Run) -> StoredRun:
        return read_stored(run)

    def read_typed_artifacts(self, run: Run) -> list[ArtifactInfo]:
        return read_typed_artifacts(run)  # zipped task artifacts with their metadata


class TestClearmlOfflineContract(BackendContract):
    @pytest.fixture
    def harness(self) -> BackendHarness:
        return ClearmlHarness()
