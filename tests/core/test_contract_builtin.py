"""The backend contract suite, run against the built-in ``memory`` and ``local`` backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracelet.backends import memory
from tracelet.backends.local import read_run
from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


class MemoryHarness(BackendHarness):
    backend = "memory"

    def read(self, run: Run) -> StoredRun:
        store = memory.stored(run)
        return StoredRun(
            metrics={n: [(m.step, m.value) for m in pts] for n, pts in store.metrics.items()},
            params=dict(store.params),
            tags=dict(store.tags),
            artifacts=dict(store.artifacts),
            status=store.status,
            name=store.info.name,
        )


class LocalHarness(BackendHarness):
    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def config(self) -> dict[str, Any]:
        # Without a journal, `local` is driven by a delivery worker like any other backend
        # (what the contract kit exercises, retries included); as the journal it is written
        # by the router itself, which tests/core/test_journal.py covers.
        return {"local": {"path": str(self.root)}, "journal": False}

    def read(self, run: Run) -> StoredRun:
        location = run.locations()["local"]
        assert location is not None
        stored = read_run(location)
        artifacts: dict[str, bytes] = {}
        for name, path in stored.artifacts.items():
            if path.is_dir():
                for file in path.rglob("*"):
                    if file.is_file():
                        artifacts[f"{name}/{file.relative_to(path).as_posix()}"] = file.read_bytes()
            else:
                artifacts[name] = path.read_bytes()
        return StoredRun(
            metrics={n: [(m.step, m.value) for m in pts] for n, pts in stored.metrics.items()},
            params=stored.params,
            tags=stored.tags,
            artifacts={n: f.read_bytes() for n, f in stored.artifact_files().items()},
            status=stored.status,
            name=stored.name,
        )


class TestMemoryBackendContract(BackendContract):
    @pytest.fixture
    def harness(self) -> BackendHarness:
        return MemoryHarness()


class TestLocalBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> BackendHarness:
        return LocalHarness(tmp_path / "runs")
