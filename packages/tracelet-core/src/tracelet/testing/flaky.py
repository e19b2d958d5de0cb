"""A real backend that fails its first writes, for the kit's retry check."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tracelet.backend import Backend, RunInfo, RunLink
from tracelet.plugins import PluginHost, get_default_host
from tracelet.records import Batch, Capability, RunStatus


class _FlakyBackend:
    """Wraps a real backend and fails its first ``failures`` writes (transient errors)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, inner: Backend, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    @classmethod
    def wrap(cls, inner: Backend, failures: int) -> Backend:
        """A wrapper whose class declares the same capabilities as ``inner``."""
        wrapper: type[_FlakyBackend] = type(
            "FlakyBackend", (cls,), {"capabilities": frozenset(inner.capabilities)}
        )
        return wrapper(inner, failures)

    def start(self, run: RunInfo) -> None:
        self.inner.start(run)

    def write(self, batch: Batch) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("injected transient failure")
        self.inner.write(batch)

    def flush(self) -> None:
        self.inner.flush()

    def close(self, status: RunStatus) -> None:
        self.inner.close(status)

    @property
    def location(self) -> str | None:
        return self.inner.location

    @property
    def identity(self) -> dict[str, Any] | None:
        return getattr(self.inner, "identity", None)

    @property
    def link(self) -> RunLink | None:
        return getattr(self.inner, "link", None)


def flaky_host(backend: str, failures: int, source: PluginHost | None = None) -> PluginHost:
    """A plugin host whose ``backend`` is the real one wrapped to fail its first writes.

    The wrapper keeps the backend's name, settings section and native env vars, so the same
    ``config`` and the same reader work.
    """
    source = source or get_default_host()
    spec = source.backends[backend]
    host = PluginHost(load_entrypoints=False)
    # A copy of the source's registrations (settings keys included), one backend wrapped.
    host.plugins = dict(source.plugins)
    host.collectors = dict(source.collectors)
    host.backends = {
        **source.backends,
        backend: dataclasses.replace(
            spec, factory=lambda settings: _FlakyBackend.wrap(spec.factory(settings), failures)
        ),
    }
    return host
