"""The core's backend contract, passed by the W&B backend in offline mode (read back from the
run's ``.wandb`` log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.wandb_stored import read_stored, read_typed_artifacts

from tracelet.artifacts import ArtifactInfo
from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


class WandbHarness(BackendHarness):
    backend = "wandb"

    def __init__(self, root: Path) -> None:
        self.root = root

    def config(self) -> dict[str, Any]:
        return {"wandb": {"mode": "offline", "dir": str(self.root)}}

    def read(self, run: Run) -> StoredRun:
        return read_stored(run)

    def read_typed_artifacts(self, run: Run) -> list[ArtifactInfo]:
        return read_typed_artifacts(run)  # W&B Artifacts, not files among the run's


class TestWandbOfflineContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> BackendHarness:
        return WandbHarness(tmp_path / "runs")
