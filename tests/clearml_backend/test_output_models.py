"""Typed ``model`` artifacts as ClearML output models (offline): one model per version, read
back from the session's ``task.json`` and through ClearML's own ``OutputModel`` as its import
builds them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.clearml_models import imported_models
from support.clearml_reading import read_session
from support.clearml_stored import session_of

import tracelet
from tracelet import ArtifactType
from tracelet.backend import RunInfo
from tracelet.records import Artifact, Batch
from tracelet_clearml.backend import ClearmlBackend
from tracelet_clearml.models import guess_framework
from tracelet_clearml.settings import ClearmlSettings

OFFLINE = {"flush_interval": 0.05, "clearml": {"offline": True}}


def tags(version: int) -> list[str]:
    return ["tracelet-type:model", f"tracelet-version:{version}"]


def test_two_model_versions_become_output_models(tmp_path: Path) -> None:
    weights, labels = tmp_path / "model.pt", tmp_path / "labels.json"
    run = tracelet.start_logging(
        exp_name="models", project="vision", backend="clearml", config=OFFLINE
    )
    weights.write_bytes(b"weights of epoch 1")
    first = run.create_artifact("classifier", ArtifactType.MODEL, description="after epoch 1")
    run.log_artifact(first.add_file(weights).add_metadata({"accuracy": 0.91}))
    weights.write_bytes(b"weights of epoch 2")
    labels.write_text('["cat", "dog"]')
    second = run.create_artifact("classifier", ArtifactType.MODEL, description="after epoch 2")
    run.log_artifact(second.add_file(weights).add_file(labels, artifact_path="meta/labels.json"))
    assert run.stop(), run.stats()

    session = session_of(run)
    models = session.output_models()
    assert [(m.name, m.tags, m.framework, m.is_package) for m in models] == [
        ("classifier", tags(0), "PyTorch", False),
        ("classifier", tags(1), "PyTorch", True),
    ]
    # One file as it is, several as one zip package; each version under a name of its own.
    assert models[0].weight_files() == {"classifier-v0-model.pt": b"weights of epoch 1"}
    assert models[1].weight_files() == {
        "model.pt": b"weights of epoch 2",
        "meta/labels.json": b'["cat", "dog"]',
    }
    assert {m.weights_file for m in models} == set((session.folder / "models").iterdir())
    assert [m.comment.splitlines()[-1] for m in models] == ["after epoch 1", "after epoch 2"]
    # The versions are still task artifacts too.
    keys = {a["key"] for a in session.task["execution"]["artifacts"]}
    assert {"model/classifier/v0", "model/classifier/v1"} <= keys

    # As ClearML's import builds them (a model it could not import would raise here).
    imported = imported_models(session)
    assert [(m.name, m.tags, m.framework, m.config) for m in imported] == [
        ("classifier", tags(0), "PyTorch", {}),
        ("classifier", tags(1), "PyTorch", {}),
    ]
    assert [m.comment.splitlines()[-1] for m in imported] == ["after epoch 1", "after epoch 2"]
    assert imported[0].weights_file.read_bytes() == b"weights of epoch 1"
    assert [m.is_package for m in imported] == [False, True]


def test_other_types_and_plain_artifacts_register_no_model(tmp_path: Path) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    run = tracelet.start_logging(
        exp_name="others", project="vision", backend="clearml", config=OFFLINE
    )
    for kind in (ArtifactType.CHECKPOINT, ArtifactType.WEIGHTS, ArtifactType.DATASET):
        run.log_artifact(run.create_artifact(f"saved-{kind.value}", kind).add_file(weights))
    run.log_artifact(str(weights), name="plain.pt")
    assert run.stop(), run.stats()

    session = session_of(run)
    assert session.output_models() == []
    assert {
        "checkpoint/saved-checkpoint/v0",
        "weights/saved-weights/v0",
        "dataset/saved-dataset/v0",
        "plain.pt",
    } <= {a["key"] for a in session.task["execution"]["artifacts"]}


def test_a_version_delivered_again_is_registered_once(tmp_path: Path) -> None:
    weights = tmp_path / "model.onnx"
    source = tracelet.start_logging(exp_name="source", project="vision", backend="local")
    for version in range(2):
        weights.write_bytes(b"onnx %d" % version)
        source.log_artifact(source.create_artifact("detector", "model").add_file(weights))
    assert source.stop()
    assert source.journal_path is not None
    records = [
        Artifact(
            source.journal_path / "artifacts" / f"model/detector/v{v}", f"model/detector/v{v}", True
        )
        for v in range(2)
    ]

    backend = ClearmlBackend(ClearmlSettings(offline=True))
    backend.start(RunInfo(id="r-1", name="again", project="vision", start_time=time.time()))
    try:  # what a retry or a second delivery does: the same record in a new batch
        backend.write(Batch(artifacts=[records[0]]))
        backend.write(Batch(artifacts=[records[0]]))
        backend.write(Batch(artifacts=records))
    finally:  # an open task would be the next test's ClearML task
        backend.close("finished")

    assert backend.location is not None
    models = read_session(Path(backend.location)).output_models()
    assert [(m.name, m.tags, m.framework) for m in models] == [
        ("detector", tags(0), "ONNX"),
        ("detector", tags(1), "ONNX"),
    ]
    assert [m.weight_files() for m in models] == [
        {"detector-v0-model.onnx": b"onnx 0"},
        {"detector-v1-model.onnx": b"onnx 1"},
    ]


@pytest.mark.parametrize(
    ("paths", "framework"),
    [
        (["model.pt"], "PyTorch"),
        (["weights/best.PTH", "labels.json"], "PyTorch"),
        (["model.onnx"], "ONNX"),
        (["model.keras"], "Keras"),
        (["model.pkl"], None),  # ClearML maps .pkl to four frameworks
        (["model.pt", "model.onnx"], None),
        (["weights.bin"], None),
    ],
)
def test_the_framework_is_guessed_from_unambiguous_suffixes_only(
    paths: list[str], framework: str | None
) -> None:
    assert guess_framework(paths) == framework
