"""The git collector, on a real temporary repository (GitPython and the git program)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from support.collector_runs import start_only
from support.git_repo import TOKEN

import tracelet
from tracelet.backends import memory
from tracelet_collectors.git import strip_credentials


def start(**config: Any) -> tracelet.Run:
    """A run with only the git collector's records."""
    return start_only("track_git_info", **config)


def test_commit_branch_remote_dirty_and_the_diff(repo: Any) -> None:
    run = start(git_repo_path=str(repo.working_dir), include_uncommitted_changes=True)
    assert run.stop()
    stored = memory.stored(run)
    assert stored.tags == {
        "git.commit": repo.head.commit.hexsha,
        "git.branch": "main",
        "git.dirty": "True",
        "git.remote": "https://github.com/acme/project.git",
    }
    assert stored.params == {"git/modified_files": 1, "git/untracked_files": 1}
    diff = stored.artifacts["git/uncommitted.diff"].decode()
    assert "-lr = 0.1" in diff
    assert "+lr = 0.2" in diff
    assert stored.artifacts["git/untracked.txt"] == b"notes.txt\n"
    everything = repr((stored.tags, stored.params, stored.artifacts))
    assert TOKEN not in everything, "the remote's token must not be stored"


def test_a_clean_checkout_without_the_diff(repo: Any) -> None:
    repo.git.checkout("--", "train.py")
    (Path(repo.working_dir) / "notes.txt").unlink()
    run = start(git_repo_path=str(repo.working_dir))
    assert run.stop()
    stored = memory.stored(run)
    assert stored.tags["git.dirty"] == "False"
    assert stored.params == {"git/modified_files": 0, "git/untracked_files": 0}
    assert stored.artifacts == {}


def test_the_settings_turn_it_off_from_every_source(
    repo: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = start(git_repo_path=str(repo.working_dir), track_git_info=False)
    assert run.stop()
    assert memory.stored(run).tags == {}

    monkeypatch.setenv("TRACELET_TRACK_GIT_INFO", "false")
    run = start(git_repo_path=str(repo.working_dir))
    assert run.stop()
    assert memory.stored(run).tags == {}
    monkeypatch.delenv("TRACELET_TRACK_GIT_INFO")

    (tmp_path / "tracelet.yaml").write_text(f"git_repo_path: {repo.working_dir}\n")
    run = start()  # the repo comes from the file
    assert run.stop()
    assert memory.stored(run).tags["git.commit"] == repo.head.commit.hexsha


def test_not_a_repository_is_one_info_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tracelet.collectors.git"):
        run = start(git_repo_path=str(tmp_path))
        run.log_metric("x", 1.0, step=0)
        assert run.stop()
    assert memory.stored(run).tags == {}
    lines = [r.getMessage() for r in caplog.records if r.name == "tracelet.collectors.git"]
    assert len(lines) == 1
    assert "is not in a git repository" in lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://tok@gitlab.example.com:8443/a/b", "https://gitlab.example.com:8443/a/b"),
        ("ssh://git@host/a/b.git", "ssh://host/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("/srv/git/b.git", "/srv/git/b.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
