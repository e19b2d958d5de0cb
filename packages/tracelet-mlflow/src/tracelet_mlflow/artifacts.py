"""Artifacts in MLflow: uploading a file or folder record, and typed artifact versions stored and
read back.

A typed artifact version is a folder ``<type>/<name>/v<N>/`` among the run's artifacts, with
its ``manifest.json``; a version of type ``model`` is also a LoggedModel of the run
(:mod:`tracelet_mlflow.models`). Once its files (and its LoggedModel) are stored, the run tag
``tracelet.artifact.<name>`` (:func:`typed_artifact_tag`) names it as the latest version.
:func:`list_typed_artifacts` reads the versions back from their manifests.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tracelet.artifacts.manifest import MANIFEST_FILE, ArtifactInfo, parse_manifest
from tracelet.artifacts.store import typed_manifest
from tracelet.backend_kit import PlannedCall, artifact_source
from tracelet.records import Artifact
from tracelet_mlflow.models import Warn, is_model, log_model_version, with_model_uris

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: MLflow's switch of its download progress bars (read at each download; on when unset).
PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_quiet_lock = threading.Lock()
_quiet_users = [0]  # how many threads are inside quiet_downloads()


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """MLflow's download progress bars off while inside: reading a manifest is Tracelet's
    business, not a transfer to show on the user's stderr. MLflow reads the switch only from
    the environment, so this sets ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false`` while any
    thread is inside, and leaves a value the user set alone."""
    with _quiet_lock:
        if _quiet_users[0] == 0 and PROGRESS_BAR_ENV in os.environ:
            mine = False  # the user's own setting
        else:
            mine = True
            _quiet_users[0] += 1
            os.environ[PROGRESS_BAR_ENV] = "false"
    try:
        yield
    finally:
        if mine:
            with _quiet_lock:
                _quiet_users[0] -= 1
                if _quiet_users[0] == 0:
                    del os.environ[PROGRESS_BAR_ENV]


#: The run tag naming a typed artifact's latest version: ``tracelet.artifact.<name>``.
TYPED_ARTIFACT_TAG = "tracelet.artifact.{name}"


def typed_artifact_tag(typed: ArtifactInfo, path: str) -> tuple[str, str]:
    """The run tag of a typed artifact version: its key and the JSON value ``{"type",
    "version", "path"}`` (``path``: its folder among the run's artifacts)."""
    value = json.dumps({"type": typed.type.value, "version": typed.version, "path": path})
    return TYPED_ARTIFACT_TAG.format(name=typed.name), value


def artifact_call(
    client: MlflowClient,
    run_id: str,
    artifact: Artifact,
    dest: str,
    *,
    experiment_id: str,
    warn: Warn,
) -> PlannedCall:
    """The call that uploads ``artifact`` to the run under ``dest`` (an artifact path).

    A folder is uploaded as ``dest/``; when it is a typed artifact version of type ``model``,
    it then becomes a LoggedModel in the experiment ``experiment_id`` too
    (:func:`~tracelet_mlflow.models.log_model_version`, which warns through ``warn`` when the
    server has no LoggedModel API); for every typed version the run tag
    :func:`typed_artifact_tag` is set last, so the tag always names a complete version. A file
    keeps the last part of ``dest`` as its name (a copy is uploaded when its own name
    differs). Running the call again stores nothing twice. It raises what MLflow raises, or
    ``RejectedError`` when the artifact was deleted before upload
    (:func:`~tracelet.backend_kit.artifact_source`).
    """

    def upload() -> None:
        source = artifact_source(artifact)
        if artifact.is_dir:
            client.log_artifacts(run_id, str(source), artifact_path=dest)
            typed = typed_manifest(artifact)
            if typed is not None and is_model(typed):
                log_model_version(
                    client, experiment_id, run_id, typed, folder=source, path=dest, warn=warn
                )
            if typed is not None:  # after the files: a tag names a complete version
                client.set_tag(run_id, *typed_artifact_tag(typed, dest))
        else:
            folder, _, filename = dest.rpartition("/")
            if filename == source.name:
                client.log_artifact(run_id, str(source), artifact_path=folder or None)
            else:  # MLflow keeps a file's own name: upload a copy under the new one
                with tempfile.TemporaryDirectory(prefix="tracelet-mlflow-") as tmp:
                    copy = Path(tmp, filename)
                    shutil.copyfile(source, copy)
                    client.log_artifact(run_id, str(copy), artifact_path=folder or None)

    return upload


def list_typed_artifacts(
    tracking_uri: str, run_id: str, name: str | None = None, *, experiment_id: str | None = None
) -> list[ArtifactInfo]:
    """Every typed artifact version stored in the run (only those called ``name`` if given),
    sorted by name and version, read from the ``manifest.json`` files of its
    ``<type>/<name>/v<N>/`` folders with a client of its own (safe while a batch is written).
    A folder without a readable manifest is skipped. Each ``uri`` is ``runs:/<run_id>/<folder>``,
    or ``models:/<model_id>`` for a ``model`` version with a READY LoggedModel
    (:func:`~tracelet_mlflow.models.with_model_uris`; ``experiment_id`` is the run's, looked up
    when not given).

    Raises:
        MlflowException: The tracking server could not be read.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = []
    for type_dir in client.list_artifacts(run_id):
        if not type_dir.is_dir:
            continue
        for name_dir in client.list_artifacts(run_id, type_dir.path):
            if not name_dir.is_dir or (name is not None and name_dir.path.rsplit("/")[-1] != name):
                continue
            for version_dir in client.list_artifacts(run_id, name_dir.path):
                with quiet_downloads():
                    info = read_manifest(client, run_id, version_dir.path)
                if info is not None:
                    found.append(info)
    if experiment_id is None and any(is_model(a) for a in found):
        experiment_id = client.get_run(run_id).info.experiment_id
    if experiment_id is not None:
        found = with_model_uris(client, experiment_id, run_id, found)
    return sorted(found, key=lambda a: (a.name, a.version))


def read_manifest(client: MlflowClient, run_id: str, folder: str) -> ArtifactInfo | None:
    """The typed artifact version whose manifest is ``<folder>/manifest.json`` in the run, or
    ``None`` when there is none or it cannot be read or parsed (never raises for that).

    MLflow shows a progress bar on stderr for the download unless inside
    :func:`quiet_downloads`.
    """
    from mlflow.exceptions import MlflowException

    try:
        with tempfile.TemporaryDirectory(prefix="tracelet-mlflow-") as tmp:
            local = client.download_artifacts(run_id, f"{folder}/{MANIFEST_FILE}", tmp)
            data = json.loads(Path(local).read_text(encoding="utf-8"))
        return parse_manifest(data, backend="mlflow", uri=f"runs:/{run_id}/{folder}")
    except (OSError, ValueError, KeyError, TypeError, MlflowException):
        return None
