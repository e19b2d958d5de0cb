"""``tracelet sync`` into AIM (a local repo): a journal-only run sent later, and a run killed
with SIGKILL mid-delivery resumed by its hash. Read back through AIM's own ``Repo``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.aim_reading import read_run as read_aim
from support.journal_runs import killed_job, offline_run
from support.processes import checked, run

import tracelet
from tracelet.backends.local import read_run
from tracelet.delivery_state import DeliveryState


def test_a_local_only_run_is_synced_into_aim_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    local = offline_run("offline", "train/loss", 300, {"lr": 0.1})
    monkeypatch.setenv("TRACELET_AIM__REPO_PATH", str(repo))
    (result,) = tracelet.sync([local.journal_path], to=["aim"], progress=False)  # type: ignore[list-item]
    assert (result.delivered, result.remaining, result.status) == (301, 0, "finished")
    assert local.journal_path is not None
    identity = json.loads((local.journal_path / "delivery" / "aim.json").read_text())["identity"]
    stored = read_aim(str(repo), identity["run_hash"])
    assert stored.name == "offline"
    assert stored.params == {"lr": 0.1}
    assert list(stored.metrics) == [("loss", (("subset", "train"),))], "no revision series"
    assert stored.metrics[("loss", (("subset", "train"),))] == [
        (s, 1.0 / (s + 1)) for s in range(300)
    ]
    (again,) = tracelet.sync([local.id], to=["aim"], progress=False)
    assert (again.delivered, again.status) == (0, "up to date")


def test_sigkill_mid_run_then_sync_resumes_the_aim_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    points = 30_000
    found = killed_job(
        tmp_path, "aim", "train/loss", points, {"TRACELET_AIM__REPO_PATH": str(repo)}
    )
    state = json.loads((found.path / "delivery" / "aim.json").read_text())
    assert DeliveryState.load(found.path, "aim").cursor.seq < points + 1, "AIM had it all"

    result = checked(
        run(
            [sys.executable, "-m", "tracelet.cli", "sync", found.path],
            tmp_path,
            env={"TRACELET_AIM__REPO_PATH": str(repo)},
            timeout=300,
        )
    )
    assert "killed" in result.stdout, result.stdout + result.stderr
    after = json.loads((found.path / "delivery" / "aim.json").read_text())
    assert after["identity"] == state["identity"], "the same AIM run, resumed"
    stored = read_aim(str(repo), state["identity"]["run_hash"])
    assert list(stored.metrics) == [("loss", (("subset", "train"),))]
    assert stored.metrics[("loss", (("subset", "train"),))] == [
        (s, float(s)) for s in range(points)
    ]
    assert stored.params == {"lr": 0.01}
    assert read_run(found.path).status == "killed"
