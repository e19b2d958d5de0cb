"""Reading a Tracelet run back from MLflow, through ``MlflowClient`` only."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tracelet.run import Run
from tracelet.testing import StoredRun
from tracelet_mlflow.backend import RUN_ID_TAG


def find_run(uri: str, run: Run | str) -> Any:
    """The MLflow run holding this Tracelet run (or run id), found by its ``tracelet.run_id``
    tag."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    run_id = run if isinstance(run, str) else run.id
    found = client.search_runs(experiments, f"tags.`{RUN_ID_TAG}` = '{run_id}'")
    assert len(found) == 1, f"{len(found)} MLflow runs carry {RUN_ID_TAG}={run_id}"
    return found[0]


def artifact_files(uri: str, run_id: str) -> dict[str, bytes]:
    """Every artifact file of the run: path inside the run's artifacts -> content."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=tmp, tracking_uri=uri)
        )
        return {
            f.relative_to(root).as_posix(): f.read_bytes() for f in root.rglob("*") if f.is_file()
        }


def metric_history(uri: str, run_id: str, key: str) -> list[tuple[int, float, int]]:
    """``(step, value, timestamp in ms)`` of every stored point of a metric, in MLflow's order."""
    from mlflow import MlflowClient

    history = MlflowClient(uri).get_metric_history(run_id, key)
    return [(m.step, m.value, m.timestamp) for m in history]


def read_stored(uri: str, run: Run) -> StoredRun:
    """The run as MLflow stored it, in the contract's terms."""
    mlrun = find_run(uri, run)
    run_id = mlrun.info.run_id
    return StoredRun(
        metrics={
            key: [(step, value) for step, value, _ in metric_history(uri, run_id, key)]
            for key in mlrun.data.metrics
        },
        params=dict(mlrun.data.params),
        tags=dict(mlrun.data.tags),
        artifacts=artifact_files(uri, run_id),
        status=mlrun.info.status.lower(),
        name=mlrun.info.run_name,
    )
