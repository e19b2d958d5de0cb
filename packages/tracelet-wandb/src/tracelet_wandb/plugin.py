"""The plugin: registers the ``wandb`` backend (entry point ``wandb`` in group ``tracelet``).

Importing it does not import wandb; the factory does, when a run selects the backend.
"""

from __future__ import annotations

from tracelet.backend import Backend
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet_wandb.settings import NATIVE_ENV, WandbSettings


def create_backend(settings: WandbSettings | None) -> Backend:
    """The factory Tracelet calls when a run selects ``backend="wandb"``."""
    from tracelet_wandb.backend import WandbBackend

    return WandbBackend(settings)


@hookimpl
def tracelet_register_backends(register: RegisterBackend) -> None:
    register(
        "wandb",
        create_backend,
        settings=WandbSettings,
        native_env=NATIVE_ENV,
        description="Weights & Biases: online, or offline then `wandb sync`.",
    )
