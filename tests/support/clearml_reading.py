"""Reading a ClearML offline session back from what ClearML wrote (checked with clearml 2.1.12).

An offline task lives in ``$CLEARML_CACHE_DIR/offline/offline-<id>/`` (also zipped next to it
on close):

- ``task.json``: ``name``, ``project_name``, ``tags``, ``type``, ``hyperparams`` (section →
  name → ``{"value": <text>, "type": ...}``; user properties are the section ``properties``),
  ``execution.artifacts`` (``key``, ``uri`` of the stored copy, ``hash`` = SHA-256,
  ``content_size``). The task status is not recorded offline (status requests need a server).
- ``metrics.jsonl``: one JSON array of events per line. Scalars are ``training_stats_scalar``
  events (``metric`` = title, ``variant`` = series, ``iter``, ``value``); images
  ``training_debug_image`` (``url`` of the stored file); histograms and plotly figures ``plot``
  (``plot_str``: the plotly JSON).
- ``log.jsonl``: the console log, ``log`` events with ``msg`` (messages reported close together
  may share one event, one per line).
- output models: ``task.json["offline_output_models"]``, each ``{"id", "init", "weights",
  "output_uri"}`` (``init``: the ``OutputModel`` arguments name, tags, comment, framework,
  config_text, config_dict, label_enumeration; ``weights``: the ``update_weights`` arguments,
  ``weights_filename`` being the copy in ``models/``), which ``Task.import_offline_session``
  replays. ``task.json`` gets a model at the task's next edit or on close.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class OfflineSession:
    """What an offline ClearML session holds."""

    folder: Path
    task: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.task["name"])

    @property
    def project(self) -> str:
        return str(self.task["project_name"])

    @property
    def tags(self) -> list[str]:
        return list(self.task.get("tags") or [])

    def params(self, section: str) -> dict[str, str]:
        """A hyperparameter section: name → value text."""
        entries = (self.task.get("hyperparams") or {}).get(section, {})
        return {name: entry["value"] for name, entry in entries.items()}

    def scalars(self) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """(title, series) → ``(iteration, value)`` of every reported scalar, in order."""
        out: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for event in self.events:
            if event["type"] == "training_stats_scalar":
                out.setdefault((event["metric"], event["variant"]), []).append(
                    (event["iter"], event["value"])
                )
        return out

    def output_models(self) -> list[OfflineModel]:
        """The task's output models, in the order they were registered."""
        return [
            OfflineModel(entry["id"], dict(entry["init"]), dict(entry["weights"]))
            for entry in self.task.get("offline_output_models") or []
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def artifacts(self) -> dict[str, bytes]:
        """Artifact files: ``key`` for a file, ``key/<path>`` for each file of a zipped folder."""
        out: dict[str, bytes] = {}
        for artifact in self.task["execution"].get("artifacts") or []:
            stored = Path(artifact["uri"])
            if artifact["type"] == "archive" or stored.suffix == ".zip":
                with zipfile.ZipFile(stored) as archive:
                    for info in archive.infolist():
                        if not info.is_dir():
                            out[f"{artifact['key']}/{info.filename}"] = archive.read(info)
            else:
                out[artifact["key"]] = stored.read_bytes()
        return out


@dataclass(frozen=True)
class OfflineModel:
    """One output model of an offline session, as ``task.json`` records it."""

    id: str
    init: dict[str, Any]
    weights: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.init["name"])

    @property
    def tags(self) -> list[str]:
        return list(self.init.get("tags") or [])

    @property
    def comment(self) -> str:
        return str(self.init.get("comment") or "")

    @property
    def framework(self) -> str | None:
        return self.init.get("framework")

    @property
    def is_package(self) -> bool:
        return bool(self.weights["is_package"])

    @property
    def weights_file(self) -> Path:
        """The stored weights: the file ClearML copied into the session's ``models`` folder."""
        return Path(self.weights["weights_filename"])

    def weight_files(self) -> dict[str, bytes]:
        """The weights: ``{file name: bytes}`` for a file, ``{path: bytes}`` for each file of
        a package (a zip)."""
        if not self.is_package:
            return {self.weights_file.name: self.weights_file.read_bytes()}
        with zipfile.ZipFile(self.weights_file) as package:
            return {i.filename: package.read(i) for i in package.infolist() if not i.is_dir()}


def read_session(folder: Path) -> OfflineSession:
    """Read an offline session folder."""
    task = json.loads((folder / "task.json").read_text())
    events: list[dict[str, Any]] = []
    metrics = folder / "metrics.jsonl"
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            if line.strip():
                events.extend(json.loads(line))
    log: list[str] = []
    log_file = folder / "log.jsonl"
    if log_file.exists():
        for line in log_file.read_text().splitlines():
            if line.strip():
                for event in json.loads(line):
                    if event["type"] == "log":  # ClearML may join close messages in one event
                        log.extend(event["msg"].splitlines())
    return OfflineSession(folder, task, events, log)
