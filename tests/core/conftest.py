"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from settings_vault import VaultBackend, VaultPlugin

from tracelet.plugins import PluginHost


@pytest.fixture
def gates() -> Iterator[list[Any]]:
    """Gated backends (``test_dispatch.Gated``) made by a test; their gates open at the end
    whatever happens, so no worker thread stays blocked."""
    made: list[Any] = []
    yield made
    for backend in made:
        backend.gate.set()


@pytest.fixture
def vault_host(host: PluginHost) -> PluginHost:
    """The fresh host with the ``vault`` plugin of the settings tests registered (see
    ``settings_vault.py``)."""
    info = host.register(VaultPlugin(), name="vault")
    assert info.status == "loaded", info.error
    VaultBackend.created.clear()
    return host
