"""Typed artifacts in ClearML (offline): one task artifact per version, with its metadata."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from support.clearml_stored import session_of

import tracelet
from tracelet import ArtifactType
from tracelet_clearml.backend import MANIFEST_METADATA_KEY


def test_two_versions_become_task_artifacts(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    run = tracelet.start_logging(
        exp_name="typed",
        project="vision",
        backend="clearml",
        config={"flush_interval": 0.05, "clearml": {"offline": True}},
    )
    for version in range(2):
        weights.write_bytes(b"weights v%d" % version)
        art = run.create_artifact("classifier", ArtifactType.DATASET, description=f"try {version}")
        art.add_file(weights).add_metadata({"rows": 10 + version})
        run.log_artifact(art)
    run.flush()
    # The backend's reader (the task's artifacts, in this process).
    listed = run.list_artifacts(backend="clearml")
    assert [(a.name, a.version, a.type) for a in listed] == [
        ("classifier", 0, ArtifactType.DATASET),
        ("classifier", 1, ArtifactType.DATASET),
    ]
    latest = run.get_artifact("classifier", backend="clearml")
    assert latest is not None
    assert (latest.description, latest.metadata) == ("try 1", {"rows": 11})
    assert run.stop(), run.stats()

    # What the offline session holds: the zipped folders and their metadata.
    stored = {a["key"]: a for a in session_of(run).task["execution"]["artifacts"]}
    for version in range(2):
        entry = stored[f"dataset/classifier/v{version}"]
        metadata = dict(entry["display_data"])  # how ClearML keeps artifact metadata
        assert (metadata["type"], metadata["version"]) == ("dataset", str(version))
        manifest = json.loads(metadata[MANIFEST_METADATA_KEY])
        assert manifest["description"] == f"try {version}"
        with zipfile.ZipFile(entry["uri"]) as archive:
            assert archive.read("weights.bin") == b"weights v%d" % version
            assert json.loads(archive.read("manifest.json"))["version"] == version
