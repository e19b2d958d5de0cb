"""The plugin: registers the ``clearml`` backend (entry point ``clearml`` in group ``tracelet``).

Importing it does not import ClearML; the factory does, when a run selects the backend.
"""

from __future__ import annotations

from tracelet.backend import Backend
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet_clearml.settings import NATIVE_ENV, ClearmlSettings


def create_backend(settings: ClearmlSettings | None) -> Backend:
    """The factory Tracelet calls when a run selects ``backend="clearml"``."""
    from tracelet_clearml.backend import ClearmlBackend

    return ClearmlBackend(settings)


@hookimpl
def tracelet_register_backends(register: RegisterBackend) -> None:
    register(
        "clearml",
        create_backend,
        settings=ClearmlSettings,
        native_env=NATIVE_ENV,
        description="ClearML: a task on a ClearML server, or an offline session to import.",
    )
