"""A Tracelet run's offline W&B run, read back from its ``.wandb`` log in the contract's terms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.delivery import current_folder
from support.media import Media
from support.wandb_reading import WandbRun, metric_points, read_finished_run
from tracelet.artifacts import MANIFEST_FILE, ArtifactInfo, ArtifactType
from tracelet.run import Run
from tracelet.testing import StoredRun, file_entries
from tracelet_wandb.backend import RUN_ID_CONFIG, STEP_METRIC

#: Tracelet's status for each exit code the backend writes.
STATUS = {0: "finished", 1: "failed", 130: "killed"}


def wandb_run_of(run: Run, wait: float = 30.0) -> WandbRun:
    """The offline W&B run of a (stopped) Tracelet run, from the folder its location names (or,
    after ``tracelet sync`` replaced it, its delivery state), once W&B has written it."""
    link = run.links["wandb"]
    assert link.path is not None, "no W&B run folder (disabled mode?)"
    assert link.command == f"wandb sync {link.path}"
    replaced = current_folder(run, "wandb")  # by tracelet sync
    stored = read_finished_run(Path(replaced or link.path), wait)
    assert stored.id == link.id
    return stored


def metric_names(stored: WandbRun) -> list[str]:
    """Names of the metrics in the history (numeric columns other than W&B's and the step)."""
    names: dict[str, None] = {}
    for row in stored.history:
        for key, value in row.items():
            if key.startswith("_") or key == STEP_METRIC:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                names[key] = None
    return list(names)


def tags_of(stored: WandbRun) -> dict[str, str]:
    """Tracelet tags from W&B's ``name:value`` tags (a tag without ``:`` has an empty value)."""
    return dict(tag.split(":", 1) if ":" in tag else (tag, "") for tag in stored.tags)


def read_media(stored: WandbRun) -> Media:
    """The images, histograms and texts of the history, as the contract reads them: each media
    value of a row with the row's Tracelet step."""
    media = Media()
    for row in stored.history:
        for key, value in row.items():
            if not isinstance(value, dict) or "_type" not in value:
                continue
            step = int(row[STEP_METRIC])
            if value["_type"] == "image-file":
                media.images.setdefault(key, []).append(
                    (step, stored.media_file(value).read_bytes())
                )
            elif value["_type"] == "histogram":
                media.histograms.setdefault(key, []).append((step, list(value["values"])))
            elif value["_type"] == "table-file":
                table = json.loads(stored.media_file(value).read_text())
                for table_step, text in table["data"]:
                    media.texts.setdefault(key, []).append((int(table_step), text))
    return media


def metric_times(stored: WandbRun, name: str) -> list[float]:
    """The ``_timestamp`` of each history row holding a point of ``name``."""
    return [float(row["_timestamp"]) for row in stored.history if name in row]


def read_stored(run: Run) -> StoredRun:
    stored = wandb_run_of(run)
    media = read_media(stored)
    names = metric_names(stored)
    artifacts: dict[str, bytes] = {}
    for artifact in stored.artifacts:
        if artifact.type in ("file", "directory"):
            for path in artifact.entries:
                artifacts[path] = artifact.read(path)
    params: dict[str, Any] = {k: v for k, v in stored.config.items() if k != RUN_ID_CONFIG}
    return StoredRun(
        metrics={
            name: [(int(step), value) for step, value in metric_points(stored, name, STEP_METRIC)]
            for name in names
        },
        metric_times={name: metric_times(stored, name) for name in names},
        params=params,
        tags=tags_of(stored),
        artifacts=artifacts,
        status=None if stored.exit_code is None else STATUS.get(stored.exit_code, "failed"),
        name=stored.name,
        images=media.images,
        histograms=media.histograms,
        texts=media.texts,
    )


#: The metadata keys the backend adds to a typed artifact's own (see ``_typed_artifact``).
TYPED_METADATA = ("tracelet_version", "tracelet_run_id")


def read_typed_artifacts(run: Run) -> list[ArtifactInfo]:
    """The typed artifact versions of the run as W&B Artifacts, in Tracelet's terms: the
    version from the alias ``tracelet-v<N>``, the name, type and description as W&B holds
    them, the metadata without the keys the backend adds, and the files from the staged copies
    the manifest entries name (``manifest.json`` and references left out)."""
    found = []
    for artifact in wandb_run_of(run).artifacts:
        versions = [a.removeprefix("tracelet-v") for a in artifact.aliases]
        version = next((int(v) for v in versions if v.isdigit()), None)
        if version is None:
            continue  # a plain file or folder, a table
        metadata = {k: v for k, v in (artifact.metadata or {}).items() if k not in TYPED_METADATA}
        contents = {
            path: artifact.read(path)
            for path, entry in artifact.entries.items()
            if entry.ref is None and path != MANIFEST_FILE
        }
        found.append(
            ArtifactInfo(
                name=artifact.name,
                type=ArtifactType(artifact.type),
                version=version,
                description=artifact.description,
                metadata=metadata,
                files=file_entries(contents),
                run_id=(artifact.metadata or {}).get("tracelet_run_id"),
                backend="wandb",
                uri=f"{artifact.name}:tracelet-v{version}",
            )
        )
    return found
