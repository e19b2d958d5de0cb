"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def gates() -> Iterator[list[Any]]:
    """Gated backends (``test_dispatch.Gated``) made by a test; their gates open at the end
    whatever happens, so no worker thread stays blocked."""
    made: list[Any] = []
    yield made
    for backend in made:
        backend.gate.set()
