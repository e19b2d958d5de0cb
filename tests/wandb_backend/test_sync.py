"""``tracelet sync --to wandb``: a run made with only the journal becomes a W&B offline run,
read back from its ``.wandb`` log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.journal_runs import offline_run
from support.wandb_reading import find_run_dir, metric_points, read_offline_run

import tracelet
from tracelet_wandb.backend import STEP_METRIC


def test_a_local_only_run_is_synced_into_wandb_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = offline_run("offline", "loss", 200, {"lr": 0.1})
    monkeypatch.setenv("TRACELET_WANDB__MODE", "offline")
    monkeypatch.setenv("TRACELET_WANDB__DIR", str(tmp_path / "wb"))
    (result,) = tracelet.sync([run.id], to=["wandb"], progress=False)
    assert (result.delivered, result.remaining, result.status) == (201, 0, "finished")

    folder = find_run_dir(tmp_path / "wb")
    deadline = time.monotonic() + 10  # W&B's service may still be writing the file
    stored = read_offline_run(folder)
    while stored.exit_code is None and time.monotonic() < deadline:
        time.sleep(0.05)
        stored = read_offline_run(folder)
    assert stored.exit_code == 0
    assert metric_points(stored, "loss", STEP_METRIC) == [
        (float(s), 1.0 / (s + 1)) for s in range(200)
    ]
    assert stored.config["lr"] == 0.1
    (again,) = tracelet.sync([run.id], to=["wandb"], progress=False)
    assert (again.delivered, again.status) == (0, "up to date")
    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*"))) == 1
