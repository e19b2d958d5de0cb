"""The plugin: registers the ``aim`` backend (entry point ``aim`` in group ``tracelet``).

Importing it does not import AIM; the factory does, when a run selects the backend.
"""

from __future__ import annotations

from tracelet.backend import Backend
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet_aim.settings import AimSettings


def create_backend(settings: AimSettings | None) -> Backend:
    """The factory Tracelet calls when a run selects ``backend="aim"``."""
    from tracelet_aim.backend import AimBackend

    return AimBackend(settings)


@hookimpl
def tracelet_register_backends(register: RegisterBackend) -> None:
    register(
        "aim",
        create_backend,
        settings=AimSettings,
        description="AIM: a local repo (.aim) or an aim server (aim://host:port).",
    )
