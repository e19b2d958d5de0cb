"""An offline session's output models as ClearML's import makes them (checked with 2.1.12).

``Task.import_offline_session`` (``clearml/task.py``) needs a server for the task itself, but
for each entry of ``task.json["offline_output_models"]`` it first builds
``OutputModel(task=<the imported task>, **entry["init"])``, then uploads
``entry["weights"]["weights_filename"]`` with ``update_weights(**entry["weights"])``. The first
step runs offline too: :func:`imported_models` runs it in a new offline task and reads the
models ClearML builds, so an entry ClearML cannot import (a model with a configuration:
"Only one of (config_text, config_dict) is allowed") fails here as it would there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from support.clearml_reading import OfflineSession
from tracelet_clearml.backend import PROCESS_ENV


@dataclass(frozen=True)
class ImportedModel:
    """What ClearML's ``OutputModel`` built from one recorded model holds."""

    name: str
    tags: list[str]
    comment: str
    framework: str | None
    config: dict[str, object]
    weights_file: Path
    is_package: bool


def imported_models(session: OfflineSession) -> list[ImportedModel]:
    """The session's output models, built by ClearML's ``OutputModel`` from ``task.json`` the
    way ``Task.import_offline_session`` builds them, in a new offline task (closed after;
    ClearML's process env vars put back as they were)."""
    from clearml import OutputModel, Task

    saved = {name: os.environ.get(name) for name in PROCESS_ENV}
    Task.set_offline(offline_mode=True)
    reader = Task.init(
        project_name="readers",
        task_name="import",
        auto_connect_frameworks=False,
        auto_resource_monitoring=False,
        auto_connect_streams=False,
        auto_connect_arg_parser=False,
    )
    try:
        found = []
        for entry in session.task.get("offline_output_models") or []:
            model = OutputModel(task=reader, **entry["init"])
            found.append(
                ImportedModel(
                    name=model.name,
                    tags=list(model.tags or []),
                    comment=model.comment or "",
                    framework=model.framework,
                    config=dict(model.config_dict),
                    weights_file=Path(entry["weights"]["weights_filename"]),
                    is_package=bool(entry["weights"]["is_package"]),
                )
            )
        return found
    finally:
        reader.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
