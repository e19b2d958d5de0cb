"""Typed artifacts in MLflow: a typed folder per version, its manifest, and a tag for the latest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.mlflow_reading import artifact_files, find_run
from support.mlflow_server import MlflowServer

import tracelet
from tracelet import ArtifactType
from tracelet.run import Run


def log_two_versions(uri: str, tmp: Path) -> Run:
    weights = tmp / "weights.bin"
    run = tracelet.start_logging(
        exp_name="typed",
        project="vision",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": uri}},
    )
    for version in range(2):
        weights.write_bytes(b"weights v%d" % version)
        art = run.create_artifact("classifier", ArtifactType.MODEL, description=f"try {version}")
        art.add_file(weights, "weights.bin").add_metadata({"accuracy": 0.9 + version / 100})
        art.add_reference("s3://bucket/train.csv")
        run.log_artifact(art)
    run.flush()
    return run


def test_two_versions_read_back_through_mlflow(sqlite_store: str, tmp_path: Path) -> None:
    run = log_two_versions(sqlite_store, tmp_path)
    # The backend's own reader, while the run is live.
    listed = run.list_artifacts(backend="mlflow")
    assert [(a.name, a.version, a.backend) for a in listed] == [
        ("classifier", 0, "mlflow"),
        ("classifier", 1, "mlflow"),
    ]
    latest = run.get_artifact("classifier", backend="mlflow")
    assert latest is not None
    assert (latest.version, latest.description) == (1, "try 1")
    assert latest.metadata == {"accuracy": 0.91}
    assert [f.path for f in latest.files] == ["weights.bin"]
    assert [r.uri for r in latest.references] == ["s3://bucket/train.csv"]
    assert latest.uri is not None
    assert latest.uri.startswith("models:/m-"), "a model version names its LoggedModel"
    v0 = run.get_artifact("classifier", "v0", backend="mlflow")
    assert v0 is not None
    assert v0.description == "try 0"
    assert v0.uri is not None
    assert v0.uri.startswith("models:/m-")
    assert v0.uri != latest.uri
    assert run.stop(), run.stats()

    # MLflow's own view: the typed folders with their manifests, and the tag.
    mlrun = find_run(sqlite_store, run)
    files = artifact_files(sqlite_store, mlrun.info.run_id)
    assert files["model/classifier/v0/weights.bin"] == b"weights v0"
    assert files["model/classifier/v1/weights.bin"] == b"weights v1"
    manifest = json.loads(files["model/classifier/v1/manifest.json"])
    assert (manifest["type"], manifest["version"]) == ("model", 1)
    assert json.loads(mlrun.data.tags["tracelet.artifact.classifier"]) == {
        "type": "model",
        "version": 1,
        "path": "model/classifier/v1",
    }


def test_a_local_only_run_delivers_its_typed_artifacts_with_sync(
    tmp_path: Path, sqlite_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal holds the versions' content: ``tracelet sync`` stores them in MLflow after
    the process that logged them is done, even with the sources deleted."""
    weights = tmp_path / "weights.bin"
    run = tracelet.start_logging("offline", "sync-typed", "local", {"flush_interval": 0.05})
    for version in range(2):
        weights.write_bytes(b"weights v%d" % version)
        art = run.create_artifact("classifier", "checkpoint", description=f"epoch {version}")
        run.log_artifact(art.add_file(weights))
    assert run.stop()
    weights.unlink()
    assert run.journal_path is not None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store)
    results = tracelet.sync([run.journal_path], to=["mlflow"])
    assert [(r.backend, r.remaining, r.status) for r in results] == [("mlflow", 0, "finished")]
    mlrun = find_run(sqlite_store, run.id)
    files = artifact_files(sqlite_store, mlrun.info.run_id)
    assert files["checkpoint/classifier/v0/weights.bin"] == b"weights v0"
    assert files["checkpoint/classifier/v1/weights.bin"] == b"weights v1"
    tag = json.loads(mlrun.data.tags["tracelet.artifact.classifier"])
    assert (tag["type"], tag["version"]) == ("checkpoint", 1)


def test_two_versions_through_a_real_server(own_server: MlflowServer, tmp_path: Path) -> None:
    run = log_two_versions(own_server.uri, tmp_path)
    listed = run.list_artifacts(backend="mlflow")
    assert [(a.name, a.version, a.description) for a in listed] == [
        ("classifier", 0, "try 0"),
        ("classifier", 1, "try 1"),
    ]
    assert run.stop(), run.stats()
    files = artifact_files(own_server.uri, find_run(own_server.uri, run).info.run_id)
    assert files["model/classifier/v1/weights.bin"] == b"weights v1"


def test_reading_versions_back_prints_no_progress_bars(
    sqlite_store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import os

    run = log_two_versions(sqlite_store, tmp_path)
    capfd.readouterr()
    assert len(run.list_artifacts(backend="mlflow")) == 2
    assert run.get_artifact("classifier", backend="mlflow") is not None
    assert "Downloading artifacts" not in capfd.readouterr().err
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ  # set only while reading
    assert run.stop()
