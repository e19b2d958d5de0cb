"""Fixtures for the W&B backend's tests: W&B's files under a temp folder, its hooks undone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.wandb_env import wandb_test_env


@pytest.fixture(scope="session")
def wandb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where W&B keeps settings, caches and staged artifacts for the session (it reads these
    env vars once per process, so they stay the same for every test)."""
    return tmp_path_factory.mktemp("wandb")


@pytest.fixture(autouse=True)
def wandb_env(isolated: Path, wandb_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B's test environment (after ``isolated`` cleared every WANDB_ variable). W&B replaces
    ``sys.exit`` and ``sys.excepthook`` when it starts its service and never puts them back:
    they are restored after each test."""
    for name, value in wandb_test_env(wandb_root).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "exit", sys.exit)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
