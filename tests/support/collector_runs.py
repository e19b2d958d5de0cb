"""Runs on the ``memory`` backend with one collector on and the others off."""

from __future__ import annotations

from typing import Any

import tracelet

#: The keys that turn each collector off (git and environment add records to every run).
ALL_OFF = {
    "collect_system_metrics": False,
    "collect_gpu_metrics": False,
    "track_git_info": False,
    "track_environment": False,
}


def start_only(key: str, **config: Any) -> tracelet.Run:
    """A ``memory`` run named after ``key`` with the other collectors off; ``key`` itself keeps
    the value of its other sources (its default: on) unless ``config`` sets it."""
    others = {k: v for k, v in ALL_OFF.items() if k != key}
    return tracelet.start_logging(exp_name=key, backend="memory", config={**others, **config})
