"""Finding what a new MLflow run belongs to: an existing run named in the settings, the parent
run, the experiment, and the tags the run is created with.

Each function takes the ``MlflowClient`` and settings it reads; none keeps state, and none
touches MLflow's global ("fluent") state except :func:`parent_run`, which only reads which run
is active (``nested: true``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracelet.backend import RunInfo
from tracelet.errors import BackendStartError
from tracelet_mlflow.groups import GROUP_TAG
from tracelet_mlflow.settings import MlflowSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment

#: The tag holding Tracelet's id of the run.
RUN_ID_TAG = "tracelet.run_id"


def millis(seconds: float) -> int:
    """A time in seconds since the epoch as MLflow's milliseconds."""
    return int(seconds * 1000)


def find_run(client: MlflowClient, run_id: str) -> Any:
    """The run, or ``None`` when the store has no such run (or it is deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_run(run_id)
    except MlflowException:
        return None
    return None if found.info.lifecycle_stage == "deleted" else found


def get_run(client: MlflowClient, run_id: str, key: str, tracking_uri: str | None) -> Any:
    """The run ``run_id``, which the setting ``mlflow.<key>`` names.

    Raises:
        BackendStartError: The store has no such run; the message names the setting.
    """
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        raise BackendStartError(
            f"mlflow.{key}: no run {run_id!r} at {tracking_uri} ({exc.message}); "
            f"check the id or unset mlflow.{key}"
        ) from exc


def parent_run(client: MlflowClient, settings: MlflowSettings, tracking_uri: str | None) -> Any:
    """The parent run (``parent_run_id`` or, with ``nested``, the active fluent run), or
    ``None``. (A run of a group with neither gets its group's parent later:
    :mod:`tracelet_mlflow.groups`.)

    Raises:
        BackendStartError: The parent run is missing, or ``nested`` is set and no MLflow run is
            active in this thread.
    """
    if settings.parent_run_id is not None:
        return get_run(client, settings.parent_run_id, "parent_run_id", tracking_uri)
    if not settings.nested:
        return None
    import mlflow

    active = mlflow.active_run()
    if active is None:
        raise BackendStartError(
            "mlflow.nested is true but no MLflow run is active in this thread; call "
            "mlflow.start_run() before start_logging, or set mlflow.parent_run_id"
        )
    return get_run(client, active.info.run_id, "nested", tracking_uri)


def experiment_id(
    client: MlflowClient,
    settings: MlflowSettings,
    run: RunInfo,
    parent_experiment: str | None,
    tracking_uri: str | None,
) -> str:
    """The experiment's id: ``experiment_id``, else ``experiment_name`` (created when
    missing), else the parent run's experiment, else one named after the project (created when
    missing).

    Raises:
        BackendStartError: ``experiment_id`` names no experiment, or the experiment is deleted.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    s = settings
    experiment: Experiment | None
    if s.experiment_id is not None:
        try:
            experiment = client.get_experiment(s.experiment_id)
        except MlflowException as exc:
            raise BackendStartError(
                f"mlflow.experiment_id: no experiment {s.experiment_id!r} at "
                f"{tracking_uri}; set an existing id or use mlflow.experiment_name"
            ) from exc
    elif s.experiment_name is None and parent_experiment is not None:
        return parent_experiment
    else:
        name = s.experiment_name or run.project
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return client.create_experiment(name, artifact_location=s.artifact_location)
            except MlflowException as exc:  # created meanwhile by another process
                if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                    raise
                experiment = client.get_experiment_by_name(name)
                assert experiment is not None
    if experiment.lifecycle_stage == "deleted":
        raise BackendStartError(
            f"the MLflow experiment {experiment.name!r} is deleted; restore it with "
            f"`mlflow experiments restore --experiment-id {experiment.experiment_id}` or set "
            "mlflow.experiment_name to another name"
        )
    return str(experiment.experiment_id)


def run_tags(
    settings: MlflowSettings,
    run: RunInfo,
    parent_run_id: str | None,
    key: Callable[[str], str],
) -> dict[str, str]:
    """The settings' tags (each name made an MLflow key by ``key``) plus MLflow's context tags
    (user, source, git commit), as ``mlflow.start_run`` would set them, Tracelet's run id, the
    group, the parent run and the description."""
    from mlflow.tracking.context.registry import resolve_tags
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE

    tags = {key(k): str(v) for k, v in settings.tags.items()}
    tags[RUN_ID_TAG] = run.id
    if run.group is not None:
        tags[GROUP_TAG] = run.group
    if parent_run_id is not None:
        tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    if settings.description is not None:
        tags[MLFLOW_RUN_NOTE] = settings.description
    return dict(resolve_tags(tags))
