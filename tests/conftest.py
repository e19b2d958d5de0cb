"""Shared fixtures: every test runs in its own working directory with no Tracelet env vars."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracelet import session
from tracelet.plugins import PluginHost

# Make tests/support importable as `support` from every test module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Env vars that would change what a test sees: ours, the distributed rank, backends' own.
_ISOLATED_PREFIXES = ("TRACELET_", "MLFLOW_", "WANDB_", "CLEARML_", "AIM_")
_ISOLATED_NAMES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test in ``tmp_path`` with no Tracelet/backend/rank env vars; stop leftover runs."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in _ISOLATED_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for run in list(session._live):
        run.stop(timeout=5)


@pytest.fixture
def host() -> PluginHost:
    """A fresh plugin host with only the built-in plugin (no entry points)."""
    return PluginHost(load_entrypoints=False)
