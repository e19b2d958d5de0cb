"""Fixtures for the capture tests: matplotlib without a screen, and a check that no test leaves
an import watcher behind."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tracelet_collectors.imports import ImportWatcher


@pytest.fixture(autouse=True)
def no_watcher_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield
    left = [f for f in sys.meta_path if isinstance(f, ImportWatcher)]
    for finder in left:
        finder.close()
    assert not left, "a capture's import watcher outlived its run"
