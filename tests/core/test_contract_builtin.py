"""The backend contract suite, run against the built-in ``memory`` and ``local`` backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.memory_harness import MemoryHarness

from tracelet.backends.local import read_run
from tracelet.run import Run
from tracelet.testing import BackendContract, BackendHarness, StoredRun


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
        images: dict[str, list[tuple[int, bytes]]] = {}
        histograms: dict[str, list[tuple[int, list[float]]]] = {}
        texts: dict[str, list[tuple[int, str]]] = {}
        for m in stored.media:
            if m["type"] == "image":
                png = (stored.path / m["path"]).read_bytes()
                images.setdefault(m["name"], []).append((m["step"], png))
            elif m["type"] == "histogram":
                histograms.setdefault(m["name"], []).append((m["step"], m["counts"]))
            elif m["type"] == "text":
                texts.setdefault(m["name"], []).append((m["step"], m["text"]))
        return StoredRun(
            metrics={n: [(m.step, m.value) for m in pts] for n, pts in stored.metrics.items()},
            metric_times={n: [m.timestamp for m in pts] for n, pts in stored.metrics.items()},
            params=stored.params,
            tags=stored.tags,
            artifacts={n: f.read_bytes() for n, f in stored.artifact_files().items()},
            status=stored.status,
            name=stored.name,
            images=images,
            histograms=histograms,
            texts=texts,
        )


class TestMemoryBackendContract(BackendContract):
    @pytest.fixture
    def harness(self) -> BackendHarness:
        return MemoryHarness()


class TestLocalBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> BackendHarness:
        return LocalHarness(tmp_path / "runs")
