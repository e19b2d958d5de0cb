"""``tracelet sync --to clearml``: a run made with only the journal becomes a ClearML offline
session, read back from the session folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clearml_reading import read_session

import tracelet
from tracelet.plugins import get_default_host
from tracelet.session import start_run


def test_a_local_only_run_is_synced_into_clearml_once(
    clearml_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_run("offline", "sync-tests", "local", {"flush_interval": 0.05},
                    host=get_default_host())  # fmt: skip
    run.log_params({"lr": 0.1})
    for step in range(200):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    assert run.stop()
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
