"""Tracelet's MLflow backend (``backend="mlflow"``).

Installing the ``tracelet-mlflow`` distribution registers it through the ``tracelet`` entry-point
group; nothing needs importing. :class:`~tracelet_mlflow.backend.MlflowBackend` is the backend and
:class:`~tracelet_mlflow.settings.MlflowSettings` the ``mlflow:`` settings section.
"""

__version__ = "0.1.0"
