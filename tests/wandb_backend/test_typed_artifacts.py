"""Typed artifacts in W&B (offline): one W&B Artifact per version, read from the run's log."""

from __future__ import annotations

import json
from pathlib import Path

from support.wandb_stored import wandb_run_of

import tracelet
from tracelet import ArtifactType


def test_two_versions_become_wandb_artifacts(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    run = tracelet.start_logging(
        exp_name="typed",
        project="vision",
        backend="wandb",
        config={"flush_interval": 0.05, "wandb": {"mode": "offline"}},
    )
    for version in range(2):
        weights.write_bytes(b"weights v%d" % version)
        art = run.create_artifact("classifier", ArtifactType.MODEL, description=f"try {version}")
        art.add_file(weights, "model/weights.bin").add_metadata({"accuracy": 0.9 + version / 100})
        art.add_reference("s3://bucket/train.csv", name="data/train.csv")
        run.log_artifact(art)
    assert run.stop(), run.stats()

    logged = [a for a in wandb_run_of(run).artifacts if a.name == "classifier"]
    assert len(logged) == 2
    for version, art in enumerate(logged):
        assert art.type == "model"
        assert art.description == f"try {version}"
        assert art.metadata == {
            "accuracy": 0.9 + version / 100,
            "tracelet_version": version,
            "tracelet_run_id": run.id,
        }
        assert art.aliases == sorted(["latest", f"tracelet-v{version}"])
        assert art.read("model/weights.bin") == b"weights v%d" % version
        manifest = json.loads(art.read("manifest.json"))
        assert (manifest["name"], manifest["version"]) == ("classifier", version)
        assert art.entries["data/train.csv"].ref == "s3://bucket/train.csv"
    # The run folder (the journal) holds the same versions.
    assert [a.version for a in run.list_artifacts()] == [0, 1]
