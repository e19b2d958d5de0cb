"""The plugin: registers Tracelet's collectors (entry point ``collectors`` in group ``tracelet``).

Importing it imports no collector library; each factory does, when a run starts.
"""

from __future__ import annotations

from typing import Any

from tracelet.collector import Collector
from tracelet.hookspecs import RegisterCollector, hookimpl


def _git(settings: Any) -> Collector | None:
    from tracelet_collectors import git

    return git.create(settings)


@hookimpl
def tracelet_register_collectors(register: RegisterCollector) -> None:
    register(
        "git", _git, description="Commit, branch, remote and dirty state at run start (git_*)."
    )
