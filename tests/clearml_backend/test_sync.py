"""``tracelet sync --to clearml``: a run made with only the journal becomes a ClearML offline
session, and a session killed with SIGKILL is replaced by a complete one. Read back from the
session folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.clearml_reading import read_session
from support.journal_runs import killed_job, offline_run
from support.processes import checked, run

import tracelet
from tracelet.backends.local import read_run


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


def stored_points(folder: Path) -> int:
    """How many loss points the session holds (0 when the kill cut its files mid-line)."""
    try:
        return len(read_session(folder).scalars().get(("train", "loss"), []))
    except ValueError:  # json.JSONDecodeError
        return 0


def test_sigkill_mid_run_then_sync_replaces_the_unfinished_session(
    clearml_env: Path, tmp_path: Path
) -> None:
    points = 20_000
    clearml = {
        "CLEARML_CACHE_DIR": str(clearml_env),
        "HOME": str(tmp_path / "home"),
        "TRACELET_CLEARML__OFFLINE": "true",
    }
    found = killed_job(tmp_path, "clearml", "train/loss", points, clearml)
    killed = json.loads((found.path / "delivery" / "clearml.json").read_text())["identity"]
    assert stored_points(Path(killed["folder"])) < points, "ClearML had it all: nothing to replace"

    result = checked(
        run([sys.executable, "-m", "tracelet.cli", "sync", found.path], tmp_path, env=clearml)
    )
    assert "killed" in result.stdout, result.stdout + result.stderr
    replaced = json.loads((found.path / "delivery" / "clearml.json").read_text())["identity"]
    assert replaced["task_id"] != killed["task_id"]
    (folder,) = [p for p in (clearml_env / "offline").glob("offline-*") if p.is_dir()]
    assert folder == Path(replaced["folder"])
    session = read_session(folder)
    assert session.scalars()[("train", "loss")] == [(s, float(s)) for s in range(points)]
    assert session.params("General") == {"lr": "0.01"}
    assert (clearml_env / "offline" / f"superseded-{Path(killed['folder']).name}").is_dir()
    assert read_run(found.path).status == "killed"
    again = checked(
        run([sys.executable, "-m", "tracelet.cli", "sync", found.path], tmp_path, env=clearml)
    )
    assert "up to date" in again.stdout, again.stdout
