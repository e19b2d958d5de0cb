"""The ``mlflow:`` section of Tracelet's settings.

Importing this module does not import MLflow: plugin discovery stays cheap.
"""

from __future__ import annotations

from pydantic import Field

from tracelet.settings.model import SectionModel

#: MLflow's own environment variables that set a key of the section. They rank with Tracelet's
#: env vars, below ``TRACELET_MLFLOW__<KEY>``. MLflow Projects (``mlflow run``) sets
#: ``MLFLOW_RUN_ID`` and ``MLFLOW_EXPERIMENT_ID`` for the script it starts, so a Tracelet run
#: inside a project logs to the project's run, as ``mlflow.start_run()`` would.
NATIVE_ENV = {
    "MLFLOW_TRACKING_URI": "tracking_uri",
    "MLFLOW_EXPERIMENT_NAME": "experiment_name",
    "MLFLOW_EXPERIMENT_ID": "experiment_id",
    "MLFLOW_RUN_ID": "run_id",
}


class MlflowSettings(SectionModel):
    """Section ``mlflow:`` of ``tracelet.yaml`` (env ``TRACELET_MLFLOW__<KEY>``)."""

    tracking_uri: str | None = Field(
        None,
        description="Where runs go: a database (sqlite:///mlflow.db), a server "
        "(http://127.0.0.1:5000) or databricks. Default: MLflow's own, i.e. "
        "mlflow.set_tracking_uri() if called, else sqlite:///mlflow.db in the working directory.",
    )
    experiment_name: str | None = Field(
        None,
        min_length=1,
        description="MLflow experiment to log to, created when missing. Default: the Tracelet "
        "project (the parent run's experiment for a nested run).",
    )
    experiment_id: str | None = Field(
        None,
        min_length=1,
        description="ID of an existing experiment to log to; wins over experiment_name.",
    )
    run_name: str | None = Field(
        None, min_length=1, description="Name of the MLflow run. Default: the Tracelet run name."
    )
    run_id: str | None = Field(
        None,
        min_length=1,
        description="Resume this existing run instead of creating one: it is set back to "
        "RUNNING, and new points are added to its history.",
    )
    parent_run_id: str | None = Field(
        None,
        min_length=1,
        description="Create the run as a child of this run (shown nested in the MLflow UI).",
    )
    nested: bool = Field(
        False,
        description="Create the run as a child of the run that mlflow.start_run() made active "
        "in this thread; an error if there is none.",
    )
    tags: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Tags set on the run when it is created (values stored as text).",
    )
    description: str | None = Field(
        None, description="Run description, shown on the run page (tag mlflow.note.content)."
    )
    artifact_location: str | None = Field(
        None,
        description="Where a newly created experiment keeps artifacts (a path or URI). "
        "Default: MLflow's (./mlruns for a database store, the server's artifact store).",
    )
    start_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds start_logging waits for a tracking server to answer before it "
        "fails with BackendStartError.",
    )
