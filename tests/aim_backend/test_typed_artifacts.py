"""Typed artifacts in AIM: the folder under the artifacts URI, described by a run param."""

from __future__ import annotations

import json
from pathlib import Path

from support.aim_stored import aim_run_of

import tracelet
from tracelet import ArtifactType
from tracelet_aim.backend import ARTIFACTS_PARAM, typed_artifacts_of


def test_two_versions_become_files_and_a_param(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    run = tracelet.start_logging(
        exp_name="typed",
        project="vision",
        backend="aim",
        config={"flush_interval": 0.05, "aim": {"repo_path": str(tmp_path / "repo")}},
    )
    for version in range(2):
        weights.write_bytes(b"weights v%d" % version)
        art = run.create_artifact("scores", ArtifactType.EVALUATION, description=f"try {version}")
        art.add_file(weights).add_metadata({"f1": 0.5 + version / 10})
        run.log_artifact(art)
    run.flush()
    latest = run.get_artifact("scores", backend="aim")
    assert latest is not None
    assert (latest.version, latest.description, latest.metadata) == (1, "try 1", {"f1": 0.6})
    assert run.stop(), run.stats()

    stored = aim_run_of(run)
    found = typed_artifacts_of(stored.raw.get(ARTIFACTS_PARAM))
    assert [(a.name, a.version, a.type) for a in found] == [
        ("scores", 0, ArtifactType.EVALUATION),
        ("scores", 1, ArtifactType.EVALUATION),
    ]
    for version in range(2):
        folder = f"evaluation/scores/v{version}"
        assert stored.artifacts[f"{folder}/weights.bin"] == b"weights v%d" % version
        assert json.loads(stored.artifacts[f"{folder}/manifest.json"])["version"] == version
