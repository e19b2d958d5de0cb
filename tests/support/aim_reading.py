"""Reading a Tracelet run back from an AIM repo through ``aim``'s own ``Repo`` (aim 3.29).

A closed run is invisible to readers until the repo's index has it: :func:`read_run` indexes
it first (``RepoIndexManager``), as ``aim up`` and ``aim storage reindex`` do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


@dataclass
class AimStoredRun:
    """What the repo holds for one run."""

    hash: str
    name: str
    experiment: str
    tags: list[str]
    params: dict[str, Any]
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]] = field(
        default_factory=dict
    )
    artifacts: dict[str, bytes] = field(default_factory=dict)
    raw: Any = None


def context_key(context: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(context.items()))


def read_run(repo_path: str, run_hash: str) -> AimStoredRun:
    """The run ``run_hash`` of the repo in the folder ``repo_path``."""
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.repo import Repo

    repo = Repo.from_path(repo_path)
    RepoIndexManager.get_index_manager(repo).index(run_hash)
    run = repo.get_run(run_hash)
    assert run is not None, f"run {run_hash} not in {repo_path}"
    metrics = {}
    for metric in run.metrics():
        steps, (values, _epochs, _times) = metric.data.numpy()
        key = (metric.name, context_key(metric.context.to_dict()))
        metrics[key] = [(int(s), float(v)) for s, v in zip(steps, values, strict=True)]
    artifacts = {}
    for name, artifact in run.artifacts.items():
        artifacts[name] = Path(urlparse(artifact.uri).path).read_bytes()
    params = dict(run.get("hparams", None) or {})
    return AimStoredRun(
        hash=run_hash,
        name=run.name,
        experiment=run.experiment,
        tags=list(run.tags),
        params=params,
        metrics=metrics,
        artifacts=artifacts,
        raw=run,
    )
