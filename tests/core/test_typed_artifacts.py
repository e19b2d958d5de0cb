"""Typed artifacts: the builder, the manifest, and the round trip through the run folder."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import ClassVar

import pytest

import tracelet
from tracelet import ArtifactType, Experiment
from tracelet.artifacts import (
    MANIFEST_FILE,
    ArtifactInfo,
    TypedArtifact,
    read_manifest,
    typed_manifest,
)
from tracelet.artifacts.manifest import parse_version, select_version
from tracelet.backend import BaseBackend, RunInfo
from tracelet.backends import memory
from tracelet.backends.local import read_run
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import ALL_CAPABILITIES, Batch, Capability, RunStatus
from tracelet.run import Run
from tracelet.session import start_run


def start(**config: object) -> Run:
    return tracelet.start_logging(
        exp_name="typed", project="arts", backend="local", config={"flush_interval": 0.05, **config}
    )


def got(
    run: Run, name: str, version: int | str = "latest", backend: str | None = None
) -> ArtifactInfo:
    """The version asked for, which must exist."""
    info = run.get_artifact(name, version, backend)
    assert info is not None, (name, version, run.list_artifacts())
    return info


def files(tmp: Path) -> tuple[Path, Path]:
    weights = tmp / "weights.bin"
    weights.write_bytes(b"\x00\x01weights")
    folder = tmp / "samples"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    return weights, folder


def test_artifact_type_values_and_imports() -> None:
    assert [t.value for t in ArtifactType] == [
        "model", "checkpoint", "weights", "dataset", "sample", "image", "audio", "video",
        "visualization", "report", "config", "code", "evaluation", "custom",
    ]  # fmt: skip
    assert ArtifactType("model") is ArtifactType.MODEL
    assert isinstance(ArtifactType.MODEL, str)
    assert ArtifactType.MODEL == "model"
    from tracelet.core.artifacts import ArtifactType as Legacy

    assert Legacy is ArtifactType


def test_builder_checks_its_input_at_once(isolated: Path) -> None:
    with pytest.raises(ValueError, match="invalid artifact name"):
        TypedArtifact("a/b", ArtifactType.MODEL)
    with pytest.raises(ValueError, match="unknown artifact type"):
        TypedArtifact("a", "spaceship")
    art = TypedArtifact("a", "MODEL")
    assert art.type is ArtifactType.MODEL
    with pytest.raises(FileNotFoundError):
        art.add_file(isolated / "missing.bin")
    (isolated / "x.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid path"):
        art.add_file(isolated / "x.bin", "../x.bin")
    with pytest.raises(ValueError, match="reserved"):
        art.add_file(isolated / "x.bin", MANIFEST_FILE)
    with pytest.raises(ValueError, match="not a URI"):
        art.add_reference("bucket/key")
    with pytest.raises(TypeError, match="JSON"):
        art.add_metadata({"bad": object()})
    with pytest.raises(TypeError, match="JSON-serializable"):
        art.add_object(object(), "thing")


def test_versions_parse() -> None:
    assert parse_version("latest") is None
    assert parse_version(3) == parse_version("3") == parse_version("v3") == 3
    with pytest.raises(ValueError, match="invalid artifact version"):
        parse_version("newest")
    assert select_version([], "x") is None


def test_two_versions_round_trip_through_the_run_folder(isolated: Path) -> None:
    weights, folder = files(isolated)
    run = start()
    first = run.create_artifact("classifier", ArtifactType.MODEL, description="first")
    first.add_file(weights, "model/weights.bin").add_dir(folder, "samples")
    first.add_reference("s3://bucket/train.csv").add_metadata({"accuracy": 0.9})
    first.add_object({"lr": 0.1}, "hparams")
    logged0 = run.log_artifact(first)
    weights.write_bytes(b"changed after logging")  # the version keeps what was logged
    second = run.create_artifact("classifier", "model", description="second")
    second.add_file(weights).add_metadata({"accuracy": 0.95})
    logged1 = run.log_artifact(second)
    report = run.create_artifact("summary", ArtifactType.REPORT)
    report.add_object(["fine"], "notes")
    run.log_artifact(report)
    run.log_artifact(weights, name="plain/weights.bin")  # today's call still works
    assert run.stop(), run.stats()

    assert isinstance(logged0, ArtifactInfo)
    assert isinstance(logged1, ArtifactInfo)
    assert (logged0.version, logged1.version) == (0, 1)
    assert logged0.folder == "model/classifier/v0"
    stored = read_run(run.journal_path or "")
    by_version = {a.version: a for a in stored.typed_artifacts() if a.name == "classifier"}
    v0, v1 = by_version[0], by_version[1]
    assert (v0.type, v0.description, v0.metadata) == (
        ArtifactType.MODEL,
        "first",
        {"accuracy": 0.9},
    )
    assert [f.path for f in v0.files] == [
        "hparams.json", "model/weights.bin", "samples/a.txt", "samples/sub/b.txt",
    ]  # fmt: skip
    assert v0.file_path("model/weights.bin").read_bytes() == b"\x00\x01weights"
    entry = next(f for f in v0.files if f.path == "model/weights.bin")
    assert entry.sha256 == hashlib.sha256(b"\x00\x01weights").hexdigest()
    assert json.loads(v0.file_path("hparams.json").read_text()) == {"lr": 0.1}
    assert [(r.uri, r.name) for r in v0.references] == [("s3://bucket/train.csv", "train.csv")]
    assert v0.run_id == run.id
    assert (v1.description, v1.metadata) == ("second", {"accuracy": 0.95})
    assert v1.file_path("weights.bin").read_bytes() == b"changed after logging"
    assert v0.path == stored.path / "artifacts" / "model" / "classifier" / "v0"
    # The journal holds one artifact record per version, named after its folder.
    names = [r["name"] for r in stored.records() if r["type"] == "artifact"]
    assert {"model/classifier/v0", "model/classifier/v1", "report/summary/v0"} <= set(names)
    assert stored.artifacts["plain/weights.bin"].read_bytes() == b"changed after logging"

    # The run's own readers.
    assert got(run, "classifier").version == 1
    assert got(run, "classifier", "v0").description == "first"
    assert run.get_artifact("classifier", 7) is None
    assert run.get_artifact("nothing") is None
    assert [(a.name, a.version) for a in run.list_artifacts()] == [
        ("classifier", 0), ("classifier", 1), ("summary", 0),
    ]  # fmt: skip
    assert [a.name for a in run.list_artifacts(type_filter=ArtifactType.REPORT)] == ["summary"]
    assert got(run, "classifier", backend="local").version == 1


def test_without_a_journal_the_artifact_is_still_readable(isolated: Path) -> None:
    weights, _ = files(isolated)
    run = start(journal=False)
    assert run.journal_path is None
    art = run.create_artifact("ckpt", ArtifactType.CHECKPOINT).add_file(weights)
    info = run.log_artifact(art)
    assert run.stop(), run.stats()
    assert info is not None
    assert info.path is not None
    assert info.path.is_dir()
    assert got(run, "ckpt").file_path("weights.bin").read_bytes() == weights.read_bytes()


def test_a_backend_without_readers_is_named(isolated: Path) -> None:
    run = start()
    with pytest.raises(ValueError, match="not one of this run's"):
        run.list_artifacts(backend="wandb")
    assert run.stop()


def test_a_plain_folder_with_its_own_manifest_is_not_typed(isolated: Path) -> None:
    (isolated / MANIFEST_FILE).write_text('{"name": "npm-ish"}')
    assert read_manifest(isolated) is None


def test_experiment_facade_as_earlier_releases(isolated: Path) -> None:
    weights, _ = files(isolated)
    with Experiment("legacy", backend="local") as exp:
        artifact = exp.create_artifact("net", ArtifactType.WEIGHTS, description="w")
        artifact.add_file(str(weights))
        artifact.metadata["epochs"] = 3
        info = exp.log_artifact(artifact)
        assert info is not None
        assert info.version == 0
        assert exp.log_artifact(weights, "raw/weights.bin") is None
        exp.log_file_artifact(weights, "raw/again.bin")
        got = exp.get_artifact("net")
        assert got is not None
        assert got.metadata == {"epochs": 3}
        assert [a.name for a in exp.list_artifacts(type_filter="weights")] == ["net"]


def test_a_source_deleted_before_logging_fails_the_call(
    isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights, _ = files(isolated)
    run = start()
    art = run.create_artifact("gone", ArtifactType.MODEL).add_file(weights)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="deleted after it was added"):
        run.log_artifact(art)
    assert run.list_artifacts() == []  # its half-written folder was removed
    with caplog.at_level(logging.WARNING):
        assert run.stop()


def test_a_backend_that_does_not_know_typed_artifacts_stores_the_folder(
    host: PluginHost,
) -> None:
    """The ``memory`` backend has no notion of typed artifacts: it gets the version as the
    folder ``<type>/<name>/v<N>/`` it is, manifest included, and cannot read it back."""
    run = start_run("typed", "arts", "memory", {"flush_interval": 0.05}, host=host)
    for accuracy in (0.9, 0.95):
        art = run.create_artifact("scores", ArtifactType.EVALUATION, metadata={"acc": accuracy})
        run.log_artifact(art.add_object({"acc": accuracy}, "scores"))
    run.flush()
    with pytest.raises(NotImplementedError, match="cannot read typed artifacts back"):
        run.get_artifact("scores", backend="memory")
    assert run.stop(), run.stats()
    stored = memory.stored(run).artifacts
    assert json.loads(stored["evaluation/scores/v1/scores.json"]) == {"acc": 0.95}
    manifest = json.loads(stored["evaluation/scores/v0/manifest.json"])
    assert (manifest["type"], manifest["version"], manifest["metadata"]) == (
        "evaluation",
        0,
        {"acc": 0.9},
    )


class Reading(BaseBackend):
    """A backend that keeps the typed versions it is written and reads them back (a reader
    of a store of its own, written only when the run's delivery reaches it)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self) -> None:
        self.stored: list[ArtifactInfo] = []

    def start(self, run: RunInfo) -> None:
        pass

    def write(self, batch: Batch) -> None:
        for artifact in batch.artifacts:
            typed = typed_manifest(artifact)
            if typed is not None:
                self.stored.append(typed)

    def close(self, status: RunStatus) -> None:
        pass

    def list_artifacts(self) -> list[ArtifactInfo]:
        return list(self.stored)

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        return select_version(self.stored, name, version)


def test_reading_a_backend_waits_for_what_was_logged_before(host: PluginHost) -> None:
    class Plugin:
        @hookimpl
        def tracelet_register_backends(self, register: RegisterBackend) -> None:
            register("reading", lambda settings: Reading())

    host.register(Plugin(), name="reading")
    # Delivery is idle for a minute: only the read's own flush can bring the version there.
    run = start_run("typed", "arts", "reading", {"flush_interval": 60}, host=host)
    run.log_artifact(run.create_artifact("notes", "report").add_object({"a": 1}, "notes"))
    assert got(run, "notes", backend="reading").version == 0
    assert [a.name for a in run.list_artifacts(backend="reading")] == ["notes"]
    assert run.stop()


def test_an_experiment_flushes_its_run(isolated: Path) -> None:
    exp = Experiment("flushed", backend="memory", config={"flush_interval": 60})
    assert exp.flush()  # not started: nothing to wait for
    with exp:
        exp.log_metric("loss", 0.5, iteration=1)
        assert exp.flush(timeout=10)
        assert exp.run is not None
        assert memory.stored(exp.run).steps("loss") == [1]
