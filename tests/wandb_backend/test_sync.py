"""``tracelet sync --to wandb``: a run made with only the journal becomes a W&B offline run, and
an offline run killed with SIGKILL is replaced by a complete one. Read back from the ``.wandb``
log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.journal_runs import killed_job, offline_run
from support.processes import checked, run
from support.wandb_env import wandb_test_env
from support.wandb_reading import (
    find_run_dir,
    metric_points,
    read_finished_run,
    read_records,
)

import tracelet
from tracelet.backends.local import read_run
from tracelet_wandb.backend import STEP_METRIC


def finished(folder: Path) -> bool:
    """Whether the offline run's log holds an exit record (a log cut inside a record by the
    kill did not finish)."""
    (log,) = folder.glob("*.wandb")
    try:
        return any(record.HasField("exit") for record in read_records(log))
    except AssertionError:
        return False


def test_a_local_only_run_is_synced_into_wandb_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = offline_run("offline", "loss", 200, {"lr": 0.1})
    monkeypatch.setenv("TRACELET_WANDB__MODE", "offline")
    monkeypatch.setenv("TRACELET_WANDB__DIR", str(tmp_path / "wb"))
    (result,) = tracelet.sync([run.id], to=["wandb"], progress=False)
    assert (result.delivered, result.remaining, result.status) == (201, 0, "finished")

    stored = read_finished_run(find_run_dir(tmp_path / "wb"))
    assert stored.exit_code == 0
    assert metric_points(stored, "loss", STEP_METRIC) == [
        (float(s), 1.0 / (s + 1)) for s in range(200)
    ]
    assert stored.config["lr"] == 0.1
    (again,) = tracelet.sync([run.id], to=["wandb"], progress=False)
    assert (again.delivered, again.status) == (0, "up to date")
    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*"))) == 1


def test_sigkill_mid_run_then_sync_replaces_the_unfinished_offline_run(
    tmp_path: Path, wandb_root: Path
) -> None:
    points = 20_000
    wandb = {
        **wandb_test_env(wandb_root),
        "TRACELET_WANDB__MODE": "offline",
        "TRACELET_WANDB__DIR": str(tmp_path / "wb"),
    }
    found = killed_job(tmp_path, "wandb", "loss", points, wandb)
    killed = json.loads((found.path / "delivery" / "wandb.json").read_text())["identity"]
    assert not finished(Path(killed["folder"])), "W&B finished the run: nothing to replace"

    result = checked(
        run([sys.executable, "-m", "tracelet.cli", "sync", found.path], tmp_path, env=wandb)
    )
    assert "killed" in result.stdout, result.stdout + result.stderr
    replaced = json.loads((found.path / "delivery" / "wandb.json").read_text())["identity"]
    assert replaced["run_id"] == killed["run_id"], "the same W&B run id"
    stored = read_finished_run(find_run_dir(tmp_path / "wb", killed["run_id"]))
    assert stored.exit_code == 130
    assert metric_points(stored, "loss", STEP_METRIC) == [
        (float(s), float(s)) for s in range(points)
    ]
    assert stored.config["lr"] == 0.01
    (aside,) = (tmp_path / "wb" / "wandb").glob("superseded-offline-run-*")
    assert not list(aside.glob("*.wandb")), "`wandb sync` would upload the unfinished run too"
    assert read_run(found.path).status == "killed"
    again = checked(
        run([sys.executable, "-m", "tracelet.cli", "sync", found.path], tmp_path, env=wandb)
    )
    assert "up to date" in again.stdout, again.stdout
