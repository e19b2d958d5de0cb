"""The ``git`` collector: which commit (and which uncommitted change) produced the run.

At run start (on a thread, see :mod:`tracelet_collectors.once`), with ``track_git_info`` on, it
records the repository at ``git_repo_path`` as tags ``git.commit``, ``git.branch`` (``HEAD``
when detached), ``git.dirty`` and ``git.remote`` (the ``origin`` URL, or the first remote,
with any user name, password or token removed), and as params ``git/modified_files`` and
``git/untracked_files`` (counts). With
``include_uncommitted_changes`` it also logs the artifacts ``git/uncommitted.diff`` (the diff of
tracked files against ``HEAD``) and ``git/untracked.txt`` (one untracked path per line).

Not a git repository, or no ``git`` program: one info line, nothing recorded, the run goes on.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tracelet_collectors.files import keep_until_exit
from tracelet_collectors.once import OnceCollector

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.git")


def strip_credentials(url: str) -> str:
    """``url`` without the user name and password or token of a URL with a scheme
    (``https://user:token@host/repo.git`` → ``https://host/repo.git``). scp-like SSH addresses
    (``git@host:repo.git``) carry no secret and are returned as they are."""
    parts = urlsplit(url)
    if not parts.scheme or parts.hostname is None:
        return url
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class GitInfo:
    """What the collector reads from a repository."""

    commit: str
    branch: str
    dirty: bool
    remote: str | None
    modified: list[str]
    untracked: list[str]
    diff: str


def read_git_info(path: str, with_diff: bool) -> GitInfo | None:
    """The state of the repository containing ``path``; ``None`` (after one info line) when
    there is none, or no ``git`` program."""
    try:
        import git
    except ImportError as exc:  # GitPython raises ImportError when git itself is missing
        logger.info("tracelet: git info not recorded: %s", exc)
        return None
    try:
        repo = git.Repo(path, search_parent_directories=True)
        commit = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError) as exc:
        logger.info(
            "tracelet: git info not recorded: %s is not in a git repository (%s)", path, exc
        )
        return None
    with repo:
        branch = "HEAD" if repo.head.is_detached else repo.active_branch.name
        remotes = {r.name: r for r in repo.remotes}
        remote = remotes.get("origin") or next(iter(remotes.values()), None)
        url = next(iter(remote.urls), None) if remote is not None else None
        modified = sorted(
            {d.a_path or d.b_path or "" for d in repo.index.diff(None)}
            | {d.a_path or d.b_path or "" for d in repo.index.diff("HEAD")}
        )
        untracked = sorted(repo.untracked_files)
        return GitInfo(
            commit=commit,
            branch=branch,
            dirty=repo.is_dirty(untracked_files=True),
            remote=strip_credentials(url) if url else None,
            modified=modified,
            untracked=untracked,
            diff=repo.git.diff("HEAD") if with_diff else "",
        )


def record_git(run: Run, repo_path: str, include_uncommitted_changes: bool) -> None:
    """Log the repository's state into ``run`` (see the module docstring)."""
    info = read_git_info(repo_path, include_uncommitted_changes)
    if info is None:
        return
    tags = {"git.commit": info.commit, "git.branch": info.branch, "git.dirty": info.dirty}
    if info.remote:
        tags["git.remote"] = info.remote
    run.set_tags(tags)
    run.log_params(
        {"git/modified_files": len(info.modified), "git/untracked_files": len(info.untracked)}
    )
    if include_uncommitted_changes:
        folder = keep_until_exit(tempfile.mkdtemp(prefix="tracelet-git-"))
        diff = folder / "uncommitted.diff"
        diff.write_text(info.diff + "\n" if info.diff else "", encoding="utf-8")
        listing = folder / "untracked.txt"
        listing.write_text("".join(f"{p}\n" for p in info.untracked), encoding="utf-8")
        run.log_artifact(diff, name="git/uncommitted.diff")
        run.log_artifact(listing, name="git/untracked.txt")


def create(settings: Any) -> OnceCollector | None:
    """The factory: a collector when ``track_git_info`` is on."""
    if not settings.track_git_info:
        return None
    path, with_diff = settings.git_repo_path, settings.include_uncommitted_changes
    return OnceCollector("git", lambda run: record_git(run, path, with_diff))
