"""``tracelet sync --to clearml``: a run made with only the journal becomes a ClearML offline
session, read back from the session folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clearml_reading import read_session
from support.journal_runs import offline_run

import tracelet


def test_a_local_only_run_is_synced_into_clearml_once(
    clearml_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = offline_run("offline", "train/loss", 200, {"lr": 0.1})
    monkeypatch.setenv("TRACELET_CLEARML__OFFLINE", "true")
    (result,) = tracelet.sync([run.id], to=["clearml"], progress=False)
    assert (result.delivered, result.remaining, result.status) == (201, 0, "finished")

    (folder,) = [p for p in (clearml_env / "offline").glob("offline-*") if p.is_dir()]
    session = read_session(folder)
    assert session.scalars()[("train", "loss")] == [(s, 1.0 / (s + 1)) for s in range(200)]
    assert session.params("General") == {"lr": "0.1"}
    assert session.task["name"] == "offline"
    (again,) = tracelet.sync([run.id], to=["clearml"], progress=False)
    assert (again.delivered, again.status) == (0, "up to date")
