"""Reading a Tracelet run back from MLflow, through ``MlflowClient`` only."""

from __future__ import annotations

import json
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
    histories = {key: metric_history(uri, run_id, key) for key in mlrun.data.metrics}
    files = artifact_files(uri, run_id)
    stored = StoredRun(
        metrics={key: [(step, value) for step, value, _ in h] for key, h in histories.items()},
        metric_times={key: [ms / 1000 for _, _, ms in h] for key, h in histories.items()},
        params=dict(mlrun.data.params),
        tags=dict(mlrun.data.tags),
        artifacts=files,
        status=mlrun.info.status.lower(),
        name=mlrun.info.run_name,
    )
    read_media(files, stored)
    return stored


def read_media(files: dict[str, bytes], stored: StoredRun) -> None:
    """Fill ``stored``'s images (MLflow's stepped images: ``images/<key>+step+<n>+...png``),
    histograms (``histograms/<name>/step_<n>.json``) and texts (``text/<name>/step_<n>.txt``)."""
    images: dict[str, list[tuple[int, bytes]]] = {}
    histograms: dict[str, list[tuple[int, list[float]]]] = {}
    texts: dict[str, list[tuple[int, str]]] = {}
    for path, data in sorted(files.items()):
        kind, _, rest = path.partition("/")
        if kind == "images" and rest.endswith(".png"):
            key, _, tail = rest.removesuffix(".png").partition("+step+")
            images.setdefault(key.replace("~", "/"), []).append((int(tail.split("+")[0]), data))
        elif kind in ("histograms", "text"):
            name, _, file = rest.rpartition("/")
            step = int(file.removeprefix("step_").split(".")[0])
            if kind == "text":
                texts.setdefault(name, []).append((step, data.decode()))
            else:
                histograms.setdefault(name, []).append((step, json.loads(data)["counts"]))
    stored.images, stored.histograms, stored.texts = images, histograms, texts
