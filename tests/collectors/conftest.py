"""Fixtures for the collector tests: the collectors' own settings back at their defaults, and a
real temporary git repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.git_repo import make_repo
from support.processes import COLLECTORS_OFF


@pytest.fixture(autouse=True)
def collectors_at_defaults(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the suite-wide :data:`COLLECTORS_OFF`: here the settings keep their defaults unless
    a test sets them."""
    for name in COLLECTORS_OFF:
        monkeypatch.delenv(name)


@pytest.fixture
def repo(tmp_path: Path) -> Any:
    """See :func:`support.git_repo.make_repo`."""
    return make_repo(tmp_path / "project")
