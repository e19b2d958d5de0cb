"""The core's backend contract, passed by the AIM backend on a local repo (read back through
``aim``'s ``Repo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.aim_stored import read_stored

from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


class AimHarness(BackendHarness):
    backend = "aim"
    timestamp_precision = None  # AIM stamps each value with the time it is tracked

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def config(self) -> dict[str, Any]:
        return {"aim": {"repo_path": str(self.repo)}}

    def read(self, run: Run) -> StoredRun:
        return read_stored(run)


class TestAimLocalContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> BackendHarness:
        return AimHarness(tmp_path / "repo")
