"""The plugin: registers the ``mlflow`` backend (entry point ``mlflow`` in group ``tracelet``).

Importing it does not import MLflow; the factory does, when a run selects the backend.
"""

from __future__ import annotations

from tracelet.backend import Backend
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet_mlflow.settings import NATIVE_ENV, MlflowSettings


def create_backend(settings: MlflowSettings | None) -> Backend:
    """The factory Tracelet calls when a run selects ``backend="mlflow"``."""
    from tracelet_mlflow.backend import MlflowBackend

    return MlflowBackend(settings)


@hookimpl
def tracelet_register_backends(register: RegisterBackend) -> None:
    register(
        "mlflow",
        create_backend,
        settings=MlflowSettings,
        native_env=NATIVE_ENV,
        description="MLflow: a tracking database (sqlite:///mlflow.db) or an MLflow server.",
    )
