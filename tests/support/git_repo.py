"""A real git repository for the git collector's tests (GitPython and the git program)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The token in the test repository's remote URL; it must appear nowhere in a stored run.
TOKEN = "ghp_s3cr3tT0ken"


def make_repo(root: Path) -> Any:
    """A repository at ``root`` with a commit, a remote whose URL holds :data:`TOKEN`, a modified
    file (``train.py``) and an untracked file (``notes.txt``)."""
    import git

    root.mkdir()
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (root / "train.py").write_text("lr = 0.1\n")
    repo.index.add(["train.py"])
    repo.index.commit("first")
    repo.create_remote("origin", f"https://user:{TOKEN}@github.com/acme/project.git")
    (root / "train.py").write_text("lr = 0.2\n")
    (root / "notes.txt").write_text("todo\n")
    return repo
