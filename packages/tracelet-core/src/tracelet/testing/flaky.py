"""A real backend that fails its first writes, for the kit's retry check."""

from __future__ import annotations

from typing import Any, ClassVar

from tracelet import hookspecs
from tracelet.backend import Backend, RunInfo
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


def flaky_host(backend: str, failures: int, source: PluginHost | None = None) -> PluginHost:
    """A plugin host whose ``backend`` is the real one wrapped to fail its first writes.

    The wrapper keeps the backend's name, settings section and native env vars, so the same
    ``config`` and the same reader work.
    """
    spec = (source or get_default_host()).backends[backend]
    host = PluginHost(load_entrypoints=False)
    if spec.name in host.backends:  # wrapping a built-in backend: the wrapper takes its name
        host.unregister("builtin")

    class FlakyPlugin:
        @hookspecs.hookimpl
        def tracelet_register_backends(self, register: hookspecs.RegisterBackend) -> None:
            register(
                spec.name,
                lambda settings: _FlakyBackend.wrap(spec.factory(settings), failures),
                settings=spec.settings,
                native_env=spec.native_env,
            )

    info = host.register(FlakyPlugin(), name="flaky")
    assert info.status == "loaded", info.error
    return host
