"""Fixtures for the ClearML backend's tests: ClearML's files under a temp folder, no server."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clearml_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ClearML writes sessions under its cache folder and a session file under HOME: both go
    to the test's folder (``isolated`` cleared every CLEARML_ variable). Yields the cache."""
    cache = isolated / "clearml-cache"
    monkeypatch.setenv("CLEARML_CACHE_DIR", str(cache))
    monkeypatch.setenv("HOME", str(isolated / "home"))
    return cache
