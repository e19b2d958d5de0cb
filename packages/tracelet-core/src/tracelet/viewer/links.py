"""Where the same run lives in each other backend, from what the run folder knows.

A backend that started the run saved its own identity of it in ``delivery/<backend>.json``
(:mod:`tracelet.delivery_state`): the MLflow store, experiment and run ids; the offline W&B
run's id and folder; the offline ClearML session; the AIM repo and run hash. This module turns
those identities into a :class:`~tracelet.backend.RunLink` (a page, a folder, a command) without
importing any backend plugin, and says plainly what the folder does not know: an online W&B
run or ClearML task keeps no identity here (nothing to resume from), so the report cannot link
to it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tracelet.backend import RunLink

#: Backends with nothing outside the run folder to link to.
_LOCAL = frozenset({"local", "memory"})


@dataclass(frozen=True)
class BackendLink:
    """One backend of one run: where to look, how far delivery got, and what is not known.

    Attributes:
        backend: The backend's name.
        link: Its identity of the run as a link, or ``None`` when the folder holds none.
        note: A sentence for the reader (what the link is, or why there is none).
        delivery: How far delivery got (``complete``, ``1,200 behind, not closed``), or
            ``None`` when the backend has no delivery file.
    """

    backend: str
    link: RunLink | None
    note: str
    delivery: str | None


def backend_links(run_dir: Path, backends: list[str]) -> list[BackendLink]:
    """A :class:`BackendLink` for each backend the run was started with or that has a
    delivery file in ``run_dir``, in that order; ``local`` and ``memory`` are left out."""
    from tracelet.delivery_state import DeliveryState
    from tracelet.gaps import delivery_gaps

    gaps = {g.backend: g.describe() for g in delivery_gaps(run_dir)}
    names = [b for b in dict.fromkeys([*backends, *gaps]) if b not in _LOCAL]
    out = []
    for name in names:
        identity = DeliveryState.load(run_dir, name).identity if name in gaps else None
        link, note = describe_identity(name, identity)
        if name not in gaps:
            note = "never started: no delivery file in the run folder (tracelet sync delivers it)"
        out.append(BackendLink(name, link, note, gaps.get(name)))
    return out


def describe_identity(
    backend: str, identity: Mapping[str, Any] | None
) -> tuple[RunLink | None, str]:
    """A link to the run from a backend's saved identity, and a note for the reader."""
    if not identity:
        if backend in ("wandb", "clearml"):
            return None, (
                "online run: its id is not kept in the run folder; find it by the run's name "
                "and project in the web app"
            )
        return None, "no identity saved in the run folder"
    if backend == "mlflow":
        return _mlflow(identity)
    if backend == "wandb" and identity.get("folder"):
        folder = str(identity["folder"])
        command = f"wandb sync {shlex.quote(folder)}"
        return RunLink(id=identity.get("run_id"), path=folder, command=command), (
            "offline run: upload it with the command"
        )
    if backend == "clearml" and identity.get("folder"):
        archive = f"{identity['folder']}.zip"
        # A JSON string is a Python string literal too, in double quotes: the shell's quotes
        # around the code stay single.
        code = f"from clearml import Task; Task.import_offline_session({json.dumps(archive)})"
        command = f"python -c {shlex.quote(code)}"
        link = RunLink(id=identity.get("task_id"), path=archive, command=command)
        return link, "offline session: import the zip with the command"
    if backend == "aim" and identity.get("repo"):
        repo = str(identity["repo"])
        run_hash = identity.get("run_hash")
        if repo.startswith("aim://"):
            return RunLink(id=run_hash), f"run {run_hash} in the AIM server at {repo}"
        command = f"aim up --repo {shlex.quote(repo)}"
        return RunLink(id=run_hash, path=repo, command=command), f"run {run_hash}: open the UI"
    text = ", ".join(f"{k}={v}" for k, v in identity.items())
    return RunLink(), f"identity saved by the backend: {text}"


def _mlflow(identity: Mapping[str, Any]) -> tuple[RunLink, str]:
    uri = str(identity.get("tracking_uri") or "")
    run_id, experiment = identity.get("run_id"), identity.get("experiment_id")
    page = f"#/experiments/{experiment}/runs/{run_id}"
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        return RunLink(id=run_id, url=f"{uri.rstrip('/')}/{page}"), "run page on the server"
    if scheme == "databricks" or uri.startswith("databricks"):
        return RunLink(id=run_id), f"experiment {experiment} in {uri}"
    path = uri.removeprefix("sqlite:///") if scheme == "sqlite" else None
    command = f"mlflow ui --backend-store-uri {shlex.quote(uri)}"
    return RunLink(id=run_id, path=path, command=command, url=f"http://127.0.0.1:5000/{page}"), (
        "serve the store with the command, then open the page"
    )
