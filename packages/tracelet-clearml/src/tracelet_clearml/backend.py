"""The ``clearml`` backend: one ClearML task per Tracelet run.

Where records go:

* metrics and media: the task's ``Logger`` (:mod:`tracelet_clearml.reporting`). A metric name
  ``a/b/c`` is title ``a/b`` and series ``c`` (:func:`title_series`). ClearML replaces NaN and
  ±inf by 0, so such points are refused instead (counted as failed, with the reason);
* params: hyperparameters in the section ``params_section`` (``General``), flattened names as
  given (``optimizer/name``), with ``update_parameters``;
* tags: task tags ``name:value`` (``name`` alone for an empty value);
* artifacts: ``upload_artifact`` under their name (a directory is uploaded zipped, ClearML's way);
  a typed artifact version under ``<type>/<name>/v<N>``, with the artifact metadata
  :func:`~tracelet_clearml.artifacts.typed_artifact_metadata`, so that
  :meth:`ClearmlBackend.list_artifacts` reads it back (:mod:`tracelet_clearml.artifacts`);
  a typed version of type ``model`` also becomes an output model of the task
  (:mod:`tracelet_clearml.models`).

ClearML's own capture (frameworks, argparse, resources, console) is off unless the settings turn
it on: Tracelet's collectors and captures do that work, and nothing is recorded twice. ClearML
prints a few lines when a task starts and closes; they go to the ``tracelet.clearml`` logger
instead of stdout.

Resuming (``tracelet sync``). An offline session is a folder that ClearML imports as a whole,
and a process killed mid-run leaves it cut at an unknown point. Its identity is the task id and
folder; when ``tracelet sync`` resumes it, the folder (and its zip, if any) is set aside, renamed
``superseded-…``, and a new offline session receives the whole run. A task on a server has no
identity here: ``--new-run`` delivers the run again.

Before a task starts on a server, :func:`~tracelet_clearml.server.check_server` makes sure one is
configured and answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tracelet.artifacts.manifest import ArtifactInfo, select_version
from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.backend_kit import BatchWriter, PlannedCall, ResumableLoop
from tracelet.errors import BackendStartError, RejectedError
from tracelet.records import ALL_CAPABILITIES, Artifact, Batch, Capability, Media, RunStatus, Tag
from tracelet.resumable import WritePlan
from tracelet_clearml.artifacts import (
    MANIFEST_METADATA_KEY,
    artifact_call,
    typed_artifact_metadata,
    typed_artifact_of,
    typed_artifacts,
)
from tracelet_clearml.models import output_model_call
from tracelet_clearml.quiet import clearml_logs_through_logging, clearml_prints_to_log
from tracelet_clearml.reporting import media_call, report_scalars, title_series
from tracelet_clearml.server import SERVER_FIX, check_server, server_config
from tracelet_clearml.settings import ClearmlSettings

if TYPE_CHECKING:
    from clearml import Logger, Task

logger = logging.getLogger("tracelet.clearml")

#: Env vars ClearML sets in this process when a task starts, for its subprocesses: left behind,
#: a process this one starts later would join the closed task (a stub that stores nothing) or
#: stay offline. ``close`` puts them back as they were.
PROCESS_ENV = (
    "CLEARML_PROC_MASTER_ID",
    "TRAINS_PROC_MASTER_ID",
    "CLEARML_OFFLINE_MODE",
    "TRAINS_OFFLINE_MODE",
)
#: The prefix of an unfinished offline session that ``tracelet sync`` replaced.
SUPERSEDED = "superseded-"

#: Imported from here by tests and scripts, including names that moved to the modules beside
#: this one when it was split (kept importable from here).
__all__ = [
    "MANIFEST_METADATA_KEY",
    "PROCESS_ENV",
    "SERVER_FIX",
    "SUPERSEDED",
    "ClearmlBackend",
    "check_server",
    "server_config",
    "supersede_offline_session",
    "title_series",
    "typed_artifact_metadata",
    "typed_artifact_of",
]


def _restore_env(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def supersede_offline_session(identity: Mapping[str, Any]) -> None:
    """Set aside the offline session ``identity`` names (its folder and zip), so that it is not
    imported instead of the complete one ``tracelet sync`` writes next."""
    if not identity.get("offline") or not identity.get("folder"):
        return
    folder = Path(str(identity["folder"]))
    for path in (folder, folder.with_name(folder.name + ".zip")):
        if path.exists():
            path.rename(path.with_name(SUPERSEDED + path.name))
    logger.info(
        "tracelet: clearml: a new offline session receives the whole run; the one %s left "
        "unfinished is kept as %s",
        identity.get("task_id"),
        folder.with_name(SUPERSEDED + folder.name),
    )


def _group_tags(run: RunInfo) -> list[str]:
    """``group:<name>`` for a run of a group (ClearML's web UI filters tasks by tag)."""
    return [] if run.group is None else [Tag("group", run.group).label()]


class ClearmlBackend(BaseBackend):
    """Logs one Tracelet run as one ClearML task (see the module docstring)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: ClearmlSettings | None = None) -> None:
        self.settings = settings or ClearmlSettings()
        self._task: Task | None = None
        self._logger: Logger | None = None
        self._writer = BatchWriter(self._plan)
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, run: RunInfo) -> None:
        """Create the task (offline, or on the configured server).

        Raises:
            BackendStartError: Not offline and no server configured, or the server did not
                answer within ``start_timeout`` (ClearML itself would wait for minutes).
        """
        from clearml import Task

        s = self.settings
        if not s.offline:
            self._set_credentials()
            check_server(s)
        if s.offline and run.resume:
            supersede_offline_session(run.resume)
        self._saved_env = {name: os.environ.get(name) for name in PROCESS_ENV}
        clearml_logs_through_logging()
        Task.set_offline(offline_mode=s.offline)
        # In-process reporting: Tracelet's worker thread is already off the training loop.
        Task._report_subprocess_enabled = s.report_in_subprocess  # type: ignore[assignment]
        try:
            with clearml_prints_to_log():
                task: Task = Task.init(
                    project_name=s.project_name or run.project,
                    task_name=s.task_name or run.name,
                    task_type=s.task_type,
                    tags=[*s.tags, *_group_tags(run)] or None,
                    reuse_last_task_id=s.reuse_last_task_id,
                    continue_last_task=s.continue_last_task,
                    output_uri=s.output_uri,
                    auto_connect_arg_parser=s.auto_connect_arg_parser,
                    # TensorBoard is captured by Tracelet itself (capture_tensorboard): ClearML's
                    # own capture would store every SummaryWriter value a second time.
                    auto_connect_frameworks={"tensorboard": False}
                    if s.auto_connect_frameworks
                    else False,
                    auto_resource_monitoring=s.auto_resource_monitoring,
                    auto_connect_streams=s.auto_connect_streams,
                )
        except Exception as exc:
            _restore_env(self._saved_env)
            raise BackendStartError(f"Task.init failed ({type(exc).__name__}: {exc})") from exc
        self._task = task
        self._logger = task.get_logger()
        task.set_user_properties(tracelet_run_id=run.id)

    def write(self, batch: Batch) -> None:
        """Store the batch; a retry of a batch that failed part way resumes where it stopped.

        Raises:
            RejectedError: For the whole batch when the task was closed by someone else
                (``Task.close()`` in the user's code, ClearML's exit hook): ClearML drops what
                a closed task is given, without an error, so the records cannot be stored.
        """
        task = self.task
        if getattr(task, "_at_exit_called", False):
            raise RejectedError(
                f"the ClearML task {task.id} was closed outside Tracelet (Task.close()) before "
                "these records were written; ClearML drops what a closed task is given",
                count=len(batch),
            )
        self._writer.write(batch)

    def flush(self) -> None:
        """Wait until ClearML has written or sent what was reported."""
        if self._logger is not None:
            self._logger.flush(wait=True)

    def close(self, status: RunStatus) -> None:
        """Mark the task completed, failed or stopped, then close it (offline: the session is
        written and zipped), and put back the env vars ClearML set (:data:`PROCESS_ENV`)."""
        task = self._task
        if task is None:
            return
        with clearml_prints_to_log():
            if status == "finished":
                task.mark_completed()
            elif status == "failed":
                task.mark_failed(status_reason="the run failed")
            else:
                task.mark_stopped(status_message="the run was stopped")
            task.close()
        _restore_env(self._saved_env)

    @property
    def location(self) -> str | None:
        """The task's page on the server; offline, the session folder to import."""
        task = self._task
        if task is None:
            return None
        if self.settings.offline:
            return str(task.get_offline_mode_folder())
        return str(task.get_output_log_web_page())

    @property
    def link(self) -> RunLink | None:
        """The task id, and its page on the server or, offline, its session folder."""
        task = self._task
        if task is None:
            return None
        if self.settings.offline:
            return RunLink(id=task.id, path=str(task.get_offline_mode_folder()))
        return RunLink(id=task.id, url=str(task.get_output_log_web_page()))

    @property
    def identity(self) -> dict[str, Any] | None:
        """Offline: the task id and session folder (see "Resuming" in the module docstring)."""
        task = self._task
        if task is None or not self.settings.offline:
            return None
        folder = Path(str(task.get_offline_mode_folder())).resolve()
        return {"offline": True, "task_id": task.id, "folder": str(folder)}

    # -- start helpers ---------------------------------------------------------------------

    def _set_credentials(self) -> None:
        s = self.settings
        given = {
            "api_host": s.api_host,
            "web_host": s.web_host,
            "files_host": s.files_host,
            "key": s.api_access_key.get_secret_value() if s.api_access_key else None,
            "secret": s.api_secret_key.get_secret_value() if s.api_secret_key else None,
        }
        if any(value is not None for value in given.values()):
            from clearml import Task

            Task.set_credentials(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]

    # -- writing ---------------------------------------------------------------------------

    @property
    def task(self) -> Task:
        assert self._task is not None, "used before start"
        return self._task

    def _plan(self, batch: Batch) -> WritePlan:
        """Turn a batch into ClearML calls."""
        plan = WritePlan(batch)
        task = self.task
        report_logger = task.get_logger()
        if batch.params:
            section = self.settings.params_section
            params = {f"{section}/{p.name}": p.value for p in batch.params}
            plan.calls.append(lambda: task.update_parameters(params))
        if batch.tags:
            tags = [t.label() for t in batch.tags]
            plan.calls.append(lambda: task.add_tags(tags))
        if batch.metrics:
            points = batch.metrics
            finite = [p for p in points if p[1] - p[1] == 0.0]
            if len(finite) < len(points):  # ClearML would store NaN and ±inf as 0: refuse them
                plan.refused.extend(
                    f"ClearML cannot store {value} (metric {name!r}, step {step})"
                    for name, value, step, _ in points
                    if value - value != 0.0
                )
                points = finite
            loop = ResumableLoop(points)  # a retry of this batch resumes after those reported
            plan.calls.append(lambda: report_scalars(report_logger, loop))
        for artifact in batch.artifacts:
            plan.calls.append(self._artifact_call(artifact))
            model = output_model_call(task, artifact)  # a typed ``model`` version: also a model
            if model is not None:
                plan.calls.append(model)
        plan.calls.extend(self._media_call(m) for m in batch.media)
        return plan

    def _artifact_call(self, artifact: Artifact) -> PlannedCall:
        return artifact_call(self.task, artifact)

    def _media_call(self, media: Media) -> PlannedCall:
        return media_call(self.task.get_logger(), media)

    # -- typed artifacts, read back ----------------------------------------------------------

    def list_artifacts(self) -> list[ArtifactInfo]:
        """Every typed artifact version uploaded to the task (from its artifacts' metadata);
        ``[]`` before the task started."""
        task = self._task
        if task is None:
            return []
        return typed_artifacts(task)

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        """One typed artifact version of the task (see :meth:`list_artifacts`), or ``None``."""
        return select_version(self.list_artifacts(), name, version)
