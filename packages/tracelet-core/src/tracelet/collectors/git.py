"""``GitCollector``: the state of a git repository as a dict, as in earlier Tracelet releases.

It reads the repository with the collector that records it into every run (see
:mod:`tracelet_collectors.git`, on with ``track_git_info``); use this class only to read the
state yourself.
"""

from __future__ import annotations

import os
from typing import Any

from tracelet.collectors import import_collectors_module


class GitCollector:
    """Reads the repository containing ``repo_path``.

    Args:
        repo_path: A folder in the repository (default: the working directory).

    Raises:
        ImportError: ``tracelet-collectors`` is not installed.
    """

    def __init__(self, repo_path: str | os.PathLike[str] = ".") -> None:
        self._git = import_collectors_module("git", "tracelet.collectors.git.GitCollector")
        self.repo_path = os.fspath(repo_path)

    def initialize(self) -> None:
        """Nothing to prepare (kept for scripts that call it before :meth:`collect`)."""

    def collect(self) -> dict[str, Any]:
        """The repository's state now.

        Returns:
            ``commit_hash``, ``branch`` (``"HEAD"`` when detached), ``remote_url`` (``origin``,
            else the first remote, without user name or token; ``None`` without a remote),
            ``is_dirty``, ``uncommitted_files`` (paths of modified tracked files) and
            ``untracked_files`` (paths); ``{}`` when ``repo_path`` is not in a git repository
            or git is not installed (reported on the ``tracelet.collectors.git`` logger).
        """
        info = self._git.read_git_info(self.repo_path, False)
        if info is None:
            return {}
        return {
            "commit_hash": info.commit,
            "branch": info.branch,
            "remote_url": info.remote,
            "is_dirty": info.dirty,
            "uncommitted_files": list(info.modified),
            "untracked_files": list(info.untracked),
        }
