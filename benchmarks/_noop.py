"""The no-op backends the benchmark scripts measure Tracelet's own cost with.

Imported as ``_noop`` by the scripts in this folder (Python puts a script's folder first on
``sys.path``).
"""

from __future__ import annotations

from typing import ClassVar

from tracelet.backend import BaseBackend, RunInfo
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import ALL_CAPABILITIES, Batch, Capability, RunStatus

#: Names of the no-op backends.
NOOP_BACKENDS = ("noop1", "noop2", "noop3", "noop4")


class NoopBackend(BaseBackend):
    """A backend that keeps nothing, so that only Tracelet's own cost is measured."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def start(self, run: RunInfo) -> None:
        """Nothing to open."""

    def write(self, batch: Batch) -> None:
        """Discard the batch (the dispatcher still counts it as delivered)."""

    def close(self, status: RunStatus) -> None:
        """Nothing to close."""


class NoopPlugin:
    """A plugin object registering the no-op backends ``noop1`` .. ``noop4``."""

    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        for name in NOOP_BACKENDS:
            register(name, _make_noop, description="Discards every record (benchmarks).")


def _make_noop(settings: object) -> NoopBackend:
    return NoopBackend()


def noop_host() -> PluginHost:
    """A fresh plugin host with the built-ins and the no-op backends (no entry points).

    Raises:
        RuntimeError: The no-op plugin failed to register.
    """
    host = PluginHost(load_entrypoints=False)
    info = host.register(NoopPlugin(), name="bench-noop")
    if info.status != "loaded":
        raise RuntimeError(f"the no-op plugin did not register: {info.error}")
    return host
