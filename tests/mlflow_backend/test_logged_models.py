"""Typed artifacts of type ``model`` as MLflow 3 LoggedModels, read back through MLflow's own
client: one READY model per version, linked to the run, with the version's files byte for
byte, its tags and params; never two for one version, whatever is delivered again."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support import processes
from support.mlflow_old_server import without_logged_models
from support.mlflow_reading import artifact_files, find_run
from support.mlflow_server import MLFLOW_ENV, MlflowServer

import tracelet
from tracelet import ArtifactType
from tracelet.delivery_state import DeliveryState
from tracelet.journal_format import Position
from tracelet.run import Run

torch = pytest.importorskip("torch")


@pytest.fixture(params=["sqlite", "server"])
def store(request: pytest.FixtureRequest) -> str:
    """The tracking URI of a sqlite store, then of a real ``mlflow server``."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_store"))
    server: MlflowServer = request.getfixturevalue("own_server")
    return server.uri


def start(uri: str) -> Run:
    return tracelet.start_logging(
        exp_name="models",
        project="logged-models",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": uri}},
    )


def log_two_model_versions(run: Run) -> list[Any]:
    """Log versions 0 and 1 of the model ``classifier`` (a torch module's state_dict, a file,
    metadata) and a checkpoint beside them; return the two modules."""
    modules = []
    for version in range(2):
        torch.manual_seed(version)
        module = torch.nn.Linear(3, 2)
        Path("notes.txt").write_text(f"trained {version + 1} epochs\n")
        art = run.create_artifact("classifier", ArtifactType.MODEL, description=f"epoch {version}")
        art.add_model(module).add_file("notes.txt", "docs/notes.txt")
        art.add_metadata({"accuracy": 0.9 + version / 100, "layers": [3, 2], "arch": "linear"})
        run.log_artifact(art)
        modules.append(module)
    ckpt = run.create_artifact("classifier-ckpt", ArtifactType.CHECKPOINT)
    run.log_artifact(ckpt.add_file("notes.txt"))
    return modules


def run_models(uri: str, run_id: str) -> list[Any]:
    """Every LoggedModel whose source run is ``run_id``, oldest first (MLflow's client)."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    found = client.search_logged_models(experiments, filter_string=f"source_run_id = '{run_id}'")
    return sorted(found, key=lambda m: m.creation_timestamp)


def run_outputs(uri: str, run_id: str) -> list[str]:
    """The ids of the models the run lists among its outputs, once per link."""
    from mlflow import MlflowClient

    outputs = MlflowClient(uri).get_run(run_id).outputs
    return [] if outputs is None else [o.model_id for o in outputs.model_outputs]


def model_files(uri: str, model: Any) -> dict[str, bytes]:
    """Every file of a LoggedModel's artifacts (from its ``artifact_location``): path ->
    content."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        where = model.artifact_location
        root = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=where, dst_path=tmp, tracking_uri=uri)
        )
        return {f.relative_to(root).as_posix(): f.read_bytes() for f in root.rglob("*")
                if f.is_file()}  # fmt: skip


def journal_files(run: Run, folder: str) -> dict[str, bytes]:
    """The files of a typed artifact version in the run folder (what was logged)."""
    assert run.journal_path is not None
    root = run.journal_path / "artifacts" / folder
    return {f.relative_to(root).as_posix(): f.read_bytes() for f in root.rglob("*") if f.is_file()}


def test_each_model_version_is_a_ready_logged_model_of_the_run(store: str) -> None:
    run = start(store)
    modules = log_two_model_versions(run)
    assert run.flush(timeout=120), run.stats()
    latest = run.get_artifact("classifier", backend="mlflow")
    ckpt = run.get_artifact("classifier-ckpt", backend="mlflow")
    assert run.stop(), run.stats()

    mlrun = find_run(store, run)
    run_id = mlrun.info.run_id
    models = run_models(store, run_id)
    assert [m.name for m in models] == ["classifier-v0", "classifier-v1"], (
        "one LoggedModel per model version, none for the checkpoint"
    )
    for version, (model, module) in enumerate(zip(models, modules, strict=True)):
        assert str(model.status) == "READY"
        assert (model.source_run_id, model.experiment_id) == (run_id, mlrun.info.experiment_id)
        assert model.tags == {
            "tracelet.artifact.name": "classifier",
            "tracelet.artifact.type": "model",
            "tracelet.artifact.version": str(version),
            "tracelet.artifact.path": f"model/classifier/v{version}",
            "tracelet.run_id": run.id,
            "mlflow.note.content": f"epoch {version}",
        }
        assert model.params == {
            "accuracy": str(0.9 + version / 100),
            "layers": "[3, 2]",
            "arch": "linear",
            "framework": "pytorch",
        }
        files = model_files(store, model)
        assert files == journal_files(run, f"model/classifier/v{version}")
        assert sorted(files) == ["docs/notes.txt", "manifest.json", "model.pt"]
        assert json.loads(files["manifest.json"])["version"] == version
        # The state_dict goes back into a module of the user's; no MLflow flavor loads it.
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "model.pt").write_bytes(files["model.pt"])
            state = torch.load(Path(tmp, "model.pt"))
        fresh = torch.nn.Linear(3, 2)
        fresh.load_state_dict(state)
        assert torch.equal(fresh.weight, module.weight)
    assert sorted(run_outputs(store, run_id)) == sorted(m.model_id for m in models)
    # The run keeps the typed folders and the tag, as for every typed artifact.
    assert json.loads(mlrun.data.tags["tracelet.artifact.classifier"])["version"] == 1
    run_files = artifact_files(store, run_id)
    assert run_files["model/classifier/v1/model.pt"] == model_files(store, models[1])["model.pt"]
    # Read back through Tracelet: a model version's address is its LoggedModel.
    assert latest is not None
    assert (latest.version, latest.uri) == (1, f"models:/{models[1].model_id}")
    assert ckpt is not None
    assert ckpt.uri == f"runs:/{run_id}/checkpoint/classifier-ckpt/v0"


def test_mlflow_flavors_cannot_load_the_files(
    sqlite_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the docs say: the model has no MLmodel file, so ``mlflow.pytorch.load_model``
    refuses it; its files download like any model's."""
    import mlflow.artifacts
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    run = start(sqlite_store)
    art = run.create_artifact("tiny", ArtifactType.MODEL).add_model(torch.nn.Linear(1, 1))
    run.log_artifact(art)
    assert run.stop(), run.stats()
    (model,) = run_models(sqlite_store, find_run(sqlite_store, run).info.run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store)  # models:/ URIs resolve there
    with pytest.raises(MlflowException, match="MLmodel"):
        mlflow.pytorch.load_model(model.model_uri)
    (tmp_path / "dl").mkdir()
    local = Path(mlflow.artifacts.download_artifacts(model.model_uri, dst_path=f"{tmp_path}/dl"))
    assert sorted(p.name for p in local.iterdir()) == ["manifest.json", "model.pt"]


def test_a_dotted_name_and_long_metadata_stay_within_mlflow_limits(sqlite_store: str) -> None:
    run = start(sqlite_store)
    key = "k" * 300
    art = run.create_artifact("resnet.tiny", "model", metadata={key: "v", "notes": "x" * 7000})
    run.log_artifact(art.add_object({"a": 1}, "config"))
    assert run.stop(), run.stats()
    (model,) = run_models(sqlite_store, find_run(sqlite_store, run).info.run_id)
    assert (model.name, model.tags["tracelet.artifact.name"]) == ("resnet_tiny-v0", "resnet.tiny")
    (long_key,) = [k for k in model.params if k.startswith("kkk")]
    assert len(long_key) == 250
    assert len(model.params["notes"]) == 6000
    assert model.params["notes"].endswith("...[truncated]")
    manifest = json.loads(model_files(sqlite_store, model)["manifest.json"])
    assert manifest["metadata"]["notes"] == "x" * 7000


def test_a_model_called_model_keeps_out_of_the_runs_model_folder(
    sqlite_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow lists a run's LoggedModel named ``X`` inside the run's folder ``X/``: a model
    named ``model`` would show its files among the typed versions in ``model/``."""
    from mlflow import MlflowClient

    run = start(sqlite_store)
    Path("w.bin").write_bytes(b"w")
    run.log_artifact(run.create_artifact("model", ArtifactType.MODEL).add_file("w.bin"))
    assert run.stop(), run.stats()
    run_id = find_run(sqlite_store, run).info.run_id
    (model,) = run_models(sqlite_store, run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store)  # models:/ URIs resolve there
    client = MlflowClient(sqlite_store)
    assert [a.path for a in client.list_artifacts(run_id, "model")] == ["model/model"]
    assert [a.path for a in client.list_artifacts(run_id, model.name)] == [
        f"{model.name}/manifest.json",
        f"{model.name}/w.bin",
    ], "runs:/<run_id>/<model name> is the model's files, as MLflow resolves it"
    info = run.get_artifact("model", backend="mlflow")
    assert info is not None
    assert info.uri == f"models:/{model.model_id}"


def test_typed_artifacts_of_other_types_make_no_logged_model(sqlite_store: str) -> None:
    run = start(sqlite_store)
    for type_ in (ArtifactType.CHECKPOINT, ArtifactType.WEIGHTS, ArtifactType.DATASET):
        Path("data.bin").write_bytes(type_.value.encode())
        run.log_artifact(run.create_artifact(f"{type_.value}-art", type_).add_file("data.bin"))
    assert run.stop(), run.stats()
    run_id = find_run(sqlite_store, run).info.run_id
    assert run_models(sqlite_store, run_id) == []
    files = artifact_files(sqlite_store, run_id)
    assert files["weights/weights-art/v0/data.bin"] == b"weights"


def deliver_again(run: Run, tmp_path: Path, uri: str) -> None:
    """Rewind the run folder's MLflow cursor to the first record, as a process killed after
    MLflow stored a batch but before the cursor was saved leaves it, and run ``tracelet sync``
    (the real command): everything is delivered again to the same MLflow run."""
    folder = run.journal_path
    assert folder is not None
    state = DeliveryState.load(folder, "mlflow")
    assert state.identity is not None
    assert state.closed
    state.cursor, state.delivered, state.closed = Position(), 0, False
    state.save()
    state.progress_path.unlink(missing_ok=True)
    sync = processes.run(
        [sys.executable, "-m", "tracelet.cli", "sync", str(folder), "--to", "mlflow"],
        tmp_path,
        env={**MLFLOW_ENV, "MLFLOW_TRACKING_URI": uri},
        timeout=300,
    )
    assert "finished" in processes.checked(sync).stdout, sync.stdout


def test_delivering_again_reuses_each_model_and_finishes_a_pending_one(
    store: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelOutput

    run = start(store)
    log_two_model_versions(run)
    run.log_artifact(run.create_artifact("classifier", "model").add_file("notes.txt"))
    assert run.stop(), run.stats()
    client = MlflowClient(store)
    run_id = find_run(store, run).info.run_id
    v0, v1, v2 = run_models(store, run_id)
    # A delivery killed between create_logged_model and finalize_logged_model leaves a PENDING
    # model with its tags and params and no files: v1 as if killed before the model was linked
    # to the run, v2 after. (The READY originals are deleted: search no longer finds them.)
    pending = {}
    for old in (v1, v2):
        client.delete_logged_model(old.model_id)
        pending[old.name] = client.create_logged_model(
            old.experiment_id, old.name, run_id, tags=old.tags, params=old.params
        )
        assert client.list_logged_model_artifacts(pending[old.name].model_id) == []
    p1, p2 = pending[v1.name], pending[v2.name]
    client.log_outputs(run_id, [LoggedModelOutput(p2.model_id, step=0)])

    deliver_again(run, tmp_path, store)

    models = run_models(store, run_id)
    assert [m.model_id for m in models] == [v0.model_id, p1.model_id, p2.model_id]
    assert [str(m.status) for m in models] == ["READY"] * 3
    assert [(m.tags, m.params) for m in models] == [(m.tags, m.params) for m in (v0, v1, v2)]
    for version, model in enumerate(models):
        assert model_files(store, model) == journal_files(run, f"model/classifier/v{version}")
    outputs = run_outputs(store, run_id)
    ids = [v0.model_id, v1.model_id, v2.model_id, p1.model_id, p2.model_id]
    assert sorted(outputs) == sorted(ids), "each model linked to the run once"

    deliver_again(run, tmp_path, store)  # all READY now: nothing new at all
    assert [m.model_id for m in run_models(store, run_id)] == [m.model_id for m in models]
    assert len(run_outputs(store, run_id)) == len(ids)


def test_a_server_without_logged_models_gets_the_files_and_one_warning(
    own_server: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    with without_logged_models(own_server.uri) as old, caplog.at_level(logging.WARNING):
        run = start(old)
        log_two_model_versions(run)
        assert run.stop(), run.stats()
    stats = run.stats()["mlflow"]
    assert (stats.failed, stats.undelivered) == (0, 0)
    warnings = [r.getMessage() for r in caplog.records if "LoggedModel API" in r.getMessage()]
    assert len(warnings) == 1, warnings
    run_id = find_run(own_server.uri, run).info.run_id
    assert run_models(own_server.uri, run_id) == []
    files = artifact_files(own_server.uri, run_id)
    assert (
        files["model/classifier/v1/manifest.json"]
        == journal_files(run, "model/classifier/v1")["manifest.json"]
    )
    tag = json.loads(find_run(own_server.uri, run).data.tags["tracelet.artifact.classifier"])
    assert tag["version"] == 1
