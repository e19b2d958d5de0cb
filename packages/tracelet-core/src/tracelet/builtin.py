"""Tracelet's built-in plugin: registers the ``local`` and ``memory`` backends.

It goes through the same hooks as third-party plugins (see :mod:`tracelet.hookspecs`).
"""

from __future__ import annotations

from typing import Any

from tracelet.backend import Backend
from tracelet.hookspecs import RegisterBackend, hookimpl


def _local(settings: Any) -> Backend:
    from tracelet.backends.local import LocalBackend

    return LocalBackend(settings)


def _memory(settings: Any) -> Backend:
    from tracelet.backends.memory import MemoryBackend

    return MemoryBackend()


@hookimpl
def tracelet_register_backends(register: RegisterBackend) -> None:
    from tracelet.backends.local import LocalSettings

    register(
        "local",
        _local,
        settings=LocalSettings,
        description="A durable run folder on disk (./tracelet-runs); the default backend.",
    )
    register("memory", _memory, description="Keeps records in this process (for tests).")
