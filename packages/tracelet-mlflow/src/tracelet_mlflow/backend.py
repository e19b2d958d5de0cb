"""The ``mlflow`` backend: one MLflow run, written through ``MlflowClient``.

The backend never touches MLflow's global ("fluent") state: it keeps its own client and run id,
so a ``mlflow.start_run()`` of the user's in the same process is neither used nor disturbed
(``nested: true`` only reads which run is active, to make it the parent).

Where records go:

* metrics, params and tags: ``log_batch`` requests split at MLflow's limits
  (:mod:`tracelet_mlflow.batching`), each point with its step and its timestamp in ms;
* artifacts: ``log_artifact`` / ``log_artifacts`` under their name; a typed artifact's folder
  goes to ``<type>/<name>/v<N>/`` (``manifest.json`` in it) and its latest version is the tag
  ``tracelet.artifact.<name>`` (JSON: type, version, path); :meth:`MlflowBackend.list_artifacts`
  and :meth:`MlflowBackend.get_artifact` read them back from the manifests;
* images: ``log_image(key=..., step=...)``, MLflow's stepped images (the run's image panel);
* text: ``text/<name>/step_<step>.txt``; figures: ``figures/<name>/step_<step>.png`` (matplotlib)
  or ``.html`` (plotly); histograms, which MLflow has no type for:
  ``histograms/<name>/step_<step>.json`` holding ``edges`` and ``counts``.

Names MLflow would refuse are rewritten to distinct keys (:mod:`tracelet_mlflow.names`), with
one warning per renamed name naming the original and its key; values too long are cut, with one
warning per kind. A param logged again with a different value (MLflow keeps the first one) is
refused alone, counted as failed in ``run.stats()``.

A write that fails part way (the server went down) is retried by the dispatcher; the backend
remembers how many of the batch's requests went through and carries on from the first one that
did not, so nothing is sent twice.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from tracelet.artifacts.manifest import (
    MANIFEST_FILE,
    ArtifactInfo,
    parse_manifest,
    select_version,
)
from tracelet.artifacts.store import typed_manifest
from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.backend_kit import BatchWriter, PlannedCall, WarnOnce, artifact_source, pil_image
from tracelet.errors import BackendStartError
from tracelet.media import plotly_html
from tracelet.records import (
    ALL_CAPABILITIES,
    Artifact,
    Batch,
    Capability,
    Figure,
    Histogram,
    Image,
    Media,
    RunStatus,
    Text,
)
from tracelet.redact import redact_uri_credentials, strip_uri_credentials
from tracelet.resumable import WritePlan
from tracelet_mlflow.batching import LogBatchRequest, split_requests
from tracelet_mlflow.groups import GROUP_TAG, group_parent
from tracelet_mlflow.names import artifact_path, image_key, mlflow_key, truncate
from tracelet_mlflow.settings import MlflowSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Param, RunTag

logger = logging.getLogger("tracelet.mlflow")

#: MLflow's run status for each of Tracelet's.
STATUS: dict[RunStatus, str] = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}
#: Where the full value of a param too long for MLflow is stored.
LONG_PARAMS_FOLDER = "tracelet/params"
#: The tag holding Tracelet's id of the run.
RUN_ID_TAG = "tracelet.run_id"


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


#: The run tag naming a typed artifact's latest version: ``tracelet.artifact.<name>``.
TYPED_ARTIFACT_TAG = "tracelet.artifact.{name}"


def typed_artifact_tag(typed: ArtifactInfo, path: str) -> tuple[str, str]:
    """The run tag of a typed artifact version: its key and the JSON value ``{"type",
    "version", "path"}`` (``path``: its folder among the run's artifacts)."""
    value = json.dumps({"type": typed.type.value, "version": typed.version, "path": path})
    return TYPED_ARTIFACT_TAG.format(name=typed.name), value


class MlflowBackend(BaseBackend):
    """Logs one Tracelet run as one MLflow run (see the module docstring)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: MlflowSettings | None = None) -> None:
        self.settings = settings or MlflowSettings()
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self._client: MlflowClient | None = None
        self._keys: dict[str, str] = {}  # Tracelet name -> MLflow key
        self._renamed = WarnOnce(logger)  # once per (what, name)
        self._params: dict[str, str] = {}  # MLflow key -> value stored on the run
        self._writer = BatchWriter(self._plan)
        self._warn_once = WarnOnce(
            logger,
            prefix="tracelet: mlflow: ",
            suffix=" (warned once per run; see docs/backends/mlflow.md)",
            repeat_level=logging.DEBUG,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, run: RunInfo) -> None:
        """Create the MLflow run (or resume ``run_id``, or the run ``run.resume`` names when it
        is in the same store) and its experiment when missing.

        Raises:
            BackendStartError: The tracking server did not answer within ``start_timeout``,
                refused the credentials, or a run/experiment named in the settings is missing.
        """
        import mlflow
        from mlflow import MlflowClient

        s = self.settings
        resume = run.resume or {}
        uri = s.tracking_uri or resume.get("tracking_uri") or mlflow.get_tracking_uri()
        self.tracking_uri = uri
        if urlparse(uri).scheme in ("http", "https"):
            check_server(uri, s.start_timeout)
        client = self._client = MlflowClient(tracking_uri=uri)
        if s.run_id is not None:
            self._resume(s.run_id, self._get_run(s.run_id, "run_id"))
            return
        if resume.get("run_id") and identity_uri(uri) == resume.get("tracking_uri"):
            existing = self._find_run(str(resume["run_id"]))
            if existing is not None:  # else deleted since: a new run gets everything again
                self._resume(str(resume["run_id"]), existing)
                return
        parent = self._parent()
        experiment_id = self._experiment(run, parent.info.experiment_id if parent else None)
        parent_id = parent.info.run_id if parent else None
        if parent_id is None and run.group is not None:
            parent_id = group_parent(client, experiment_id, run.group)
        created = client.create_run(
            experiment_id,
            start_time=_millis(run.start_time),
            tags=self._run_tags(run, parent_id),
            run_name=s.run_name or run.name,
        )
        self.run_id, self.experiment_id = created.info.run_id, experiment_id

    def _resume(self, run_id: str, existing: Any) -> None:
        """Log into an existing run: set it RUNNING again and remember its params."""
        self._params = dict(existing.data.params)
        self.client.update_run(run_id, status="RUNNING", name=self.settings.run_name)
        self.run_id, self.experiment_id = run_id, existing.info.experiment_id

    def _find_run(self, run_id: str) -> Any:
        """The run, or ``None`` when the store has no such run (or it is deleted)."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_run(run_id)
        except MlflowException:
            return None
        return None if found.info.lifecycle_stage == "deleted" else found

    def permanent_error(self, exc: BaseException) -> bool:
        """Retrying cannot help: MLflow refused a value (INVALID_PARAMETER_VALUE), or the
        records could not be turned into a request (TypeError). Everything else, a garbled
        answer from a proxy included, is retried."""
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException):
            return bool(exc.error_code == "INVALID_PARAMETER_VALUE")
        return isinstance(exc, TypeError)

    @property
    def identity(self) -> dict[str, Any] | None:
        """The store (absolute for a local database), experiment and run ids."""
        if self.tracking_uri is None or self.run_id is None:
            return None
        return {
            "tracking_uri": identity_uri(self.tracking_uri),
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
        }

    def write(self, batch: Batch) -> None:
        """Store the batch, carrying on where a failed attempt at the same batch stopped.

        Raises:
            RejectedError: Records MLflow can never take (a param changed value, an artifact
                deleted before upload); the rest of the batch is stored.
            Exception: Whatever MLflow raised; the calls before it went through and are not
                repeated when the dispatcher retries the batch.
        """
        self._writer.write(batch)

    def close(self, status: RunStatus) -> None:
        """End the MLflow run with FINISHED, FAILED or KILLED, and its end time.

        ``MlflowClient.set_terminated`` also prints the run's URL on stdout for a tracking
        server ("View run ... at: ..."); the run's store is told directly instead, and the URL
        goes to the ``tracelet.mlflow`` log (``run.locations()`` has it too).
        """
        client = self._client
        if client is None or self.run_id is None:
            return
        end_time = _millis(time.time())
        store = getattr(getattr(client, "_tracking_client", None), "store", None)
        if store is None or not hasattr(store, "update_run_info"):  # another MLflow layout
            client.set_terminated(self.run_id, STATUS[status], end_time=end_time)
            return
        from mlflow.entities import RunStatus as MlflowRunStatus

        store.update_run_info(
            self.run_id,
            run_status=MlflowRunStatus.from_string(STATUS[status]),
            end_time=end_time,
            run_name=None,
        )
        where = redact_uri_credentials(self.location or "")
        logger.info("tracelet: mlflow: run %s ended %s: %s", self.run_id, STATUS[status], where)

    @property
    def location(self) -> str | None:
        """The run's page on a server; for a database store, the ``mlflow ui`` command that
        serves it, and the page to open."""
        if self.tracking_uri is None or self.run_id is None:
            return None
        page = f"#/experiments/{self.experiment_id}/runs/{self.run_id}"
        scheme = urlparse(self.tracking_uri).scheme
        if scheme in ("http", "https"):
            return f"{self.tracking_uri.rstrip('/')}/{page}"
        if self.tracking_uri.startswith("databricks"):
            return f"{self.tracking_uri}: experiment {self.experiment_id}, run {self.run_id}"
        uri = shlex.quote(absolute_store_uri(self.tracking_uri))
        return f"mlflow ui --backend-store-uri {uri}  (then open http://127.0.0.1:5000/{page})"

    @property
    def link(self) -> RunLink | None:
        """The run id; the run's page on a server, or for a database store its file and the
        ``mlflow ui`` command that serves it."""
        if self.tracking_uri is None or self.run_id is None:
            return None
        scheme = urlparse(self.tracking_uri).scheme
        if scheme in ("http", "https"):
            return RunLink(id=self.run_id, url=self.location)
        if scheme == "databricks" or self.tracking_uri.startswith("databricks"):
            return RunLink(id=self.run_id)
        store = absolute_store_uri(self.tracking_uri)
        path = store.removeprefix("sqlite:///") if scheme == "sqlite" else None
        command = f"mlflow ui --backend-store-uri {shlex.quote(store)}"
        return RunLink(id=self.run_id, path=path, command=command)

    # -- start helpers ---------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        assert self._client is not None, "used before start"
        return self._client

    def _target(self) -> tuple[str, MlflowClient]:
        """The run id and the client, once started."""
        assert self.run_id is not None, "write before start"
        return self.run_id, self.client

    def _get_run(self, run_id: str, key: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            raise BackendStartError(
                f"mlflow.{key}: no run {run_id!r} at {self.tracking_uri} ({exc.message}); "
                f"check the id or unset mlflow.{key}"
            ) from exc

    def _parent(self) -> Any:
        """The parent run (``parent_run_id`` or, with ``nested``, the active fluent run); for a
        run of a group with neither, the group's parent run (:mod:`tracelet_mlflow.groups`)."""
        s = self.settings
        if s.parent_run_id is not None:
            return self._get_run(s.parent_run_id, "parent_run_id")
        if not s.nested:
            return None
        import mlflow

        active = mlflow.active_run()
        if active is None:
            raise BackendStartError(
                "mlflow.nested is true but no MLflow run is active in this thread; call "
                "mlflow.start_run() before start_logging, or set mlflow.parent_run_id"
            )
        return self._get_run(active.info.run_id, "nested")

    def _experiment(self, run: RunInfo, parent_experiment: str | None) -> str:
        """The experiment's id: ``experiment_id``, else ``experiment_name`` (created when
        missing), else the parent run's experiment, else one named after the project."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

        s, client = self.settings, self.client
        experiment: Experiment | None
        if s.experiment_id is not None:
            try:
                experiment = client.get_experiment(s.experiment_id)
            except MlflowException as exc:
                raise BackendStartError(
                    f"mlflow.experiment_id: no experiment {s.experiment_id!r} at "
                    f"{self.tracking_uri}; set an existing id or use mlflow.experiment_name"
                ) from exc
        elif s.experiment_name is None and parent_experiment is not None:
            return parent_experiment
        else:
            name = s.experiment_name or run.project
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                try:
                    return client.create_experiment(name, artifact_location=s.artifact_location)
                except MlflowException as exc:  # created meanwhile by another process
                    if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                        raise
                    experiment = client.get_experiment_by_name(name)
                    assert experiment is not None
        if experiment.lifecycle_stage == "deleted":
            raise BackendStartError(
                f"the MLflow experiment {experiment.name!r} is deleted; restore it with "
                f"`mlflow experiments restore --experiment-id {experiment.experiment_id}` or set "
                "mlflow.experiment_name to another name"
            )
        return str(experiment.experiment_id)

    def _run_tags(self, run: RunInfo, parent_run_id: str | None) -> dict[str, str]:
        """The settings' tags plus MLflow's context tags (user, source, git commit), as
        ``mlflow.start_run`` would set them, and Tracelet's run id."""
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE

        tags = {self._key(k): str(v) for k, v in self.settings.tags.items()}
        tags[RUN_ID_TAG] = run.id
        if run.group is not None:
            tags[GROUP_TAG] = run.group
        if parent_run_id is not None:
            tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
        if self.settings.description is not None:
            tags[MLFLOW_RUN_NOTE] = self.settings.description
        return dict(resolve_tags(tags))

    # -- write helpers ---------------------------------------------------------------------

    def _renaming(self, what: str, name: str, stored: str) -> str:
        """``stored``, after a warning naming ``name`` and ``stored`` when they differ (once per
        run for each ``what`` and name)."""
        if stored != name:
            self._renamed(
                (what, name),
                "tracelet: mlflow: MLflow refuses the %s %r; stored as %r (the same in every "
                "run; see docs/backends/mlflow.md)",
                what,
                name,
                stored,
            )
        return stored

    def _key(self, name: str) -> str:
        """The MLflow key of a metric, param or tag name (:func:`mlflow_key`, remembered)."""
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = self._renaming("name", name, mlflow_key(name))
        return key

    def _step_file(self, folder: str, name: str, step: int, suffix: str) -> str:
        """``<folder>/<name as a path>/step_<step><suffix>``: where a media record goes."""
        path = self._renaming("media name", name, artifact_path(name))
        return f"{folder}/{path}/step_{step:08d}{suffix}"

    def _plan(self, batch: Batch) -> WritePlan:
        """Turn a batch into MLflow calls, deciding now what each record becomes."""
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH

        assert self.run_id is not None, "write before start"
        plan = WritePlan(batch)
        params: list[Param] = []
        long_values: list[PlannedCall] = []  # full text of params cut short
        for p in batch.params:
            key = self._key(p.name)
            text = p.value if isinstance(p.value, str) else str(p.value)
            value = truncate(text, MAX_PARAM_VAL_LENGTH)
            stored = self._params.get(key)
            if stored is not None:
                if stored != value:
                    plan.refused.append(
                        f"param {p.name!r} logged again with a different value ({value!r}); "
                        f"MLflow keeps the first one ({stored!r})"
                    )
                continue
            self._params[key] = value
            params.append(Param(key, value))
            if value != text:
                self._warn_once(
                    "param value",
                    f"param {p.name!r} is {len(text)} characters, over MLflow's "
                    f"{MAX_PARAM_VAL_LENGTH}: stored cut short, full value in the artifact "
                    f"{LONG_PARAMS_FOLDER}/{artifact_path(key)}.txt",
                )
                long_values.append(
                    self._text_call(text, f"{LONG_PARAMS_FOLDER}/{artifact_path(key)}.txt")
                )
        tags: list[RunTag] = []
        for t in batch.tags:
            value = truncate(t.value, MAX_TAG_VAL_LENGTH)
            if value != t.value:
                self._warn_once(
                    "tag value",
                    f"tag {t.name!r} is {len(t.value)} characters, over MLflow's "
                    f"{MAX_TAG_VAL_LENGTH}: stored cut short",
                )
            tags.append(RunTag(self._key(t.name), value))
        keys, to_key = self._keys, self._key
        metrics = [
            Metric(keys.get(name) or to_key(name), value, int(ts * 1000), step)
            for name, value, step, ts in batch.metrics
        ]
        requests = split_requests(metrics, params, tags)
        plan.calls.extend(self._batch_call(r, plan) for r in requests)
        plan.calls.extend(long_values)
        plan.calls.extend(self._artifact_call(a) for a in batch.artifacts)
        plan.calls.extend(self._media_call(m) for m in batch.media)
        return plan

    def _batch_call(self, request: LogBatchRequest, plan: WritePlan) -> PlannedCall:
        run_id, client = self._target()

        def send() -> None:
            from mlflow.exceptions import MlflowException

            try:
                client.log_batch(
                    run_id, metrics=request.metrics, params=request.params, tags=request.tags
                )
            except MlflowException as exc:
                if exc.error_code != "INVALID_PARAMETER_VALUE":
                    raise
                # MLflow refused the whole request for one entity: find it, keep the others.
                self._send_one_by_one(request, plan)

        return send

    def _send_one_by_one(self, request: LogBatchRequest, plan: WritePlan) -> None:
        from mlflow.exceptions import MlflowException

        run_id, client = self._target()
        entities: list[tuple[str, dict[str, Any]]] = [
            *((f"param {p.key!r}", {"params": [p]}) for p in request.params),
            *((f"tag {t.key!r}", {"tags": [t]}) for t in request.tags),
            *((f"metric {m.key!r} step {m.step}", {"metrics": [m]}) for m in request.metrics),
        ]
        for what, entity in entities:
            try:
                client.log_batch(run_id, **entity)
            except MlflowException as exc:
                if exc.error_code != "INVALID_PARAMETER_VALUE":
                    raise
                plan.refused.append(f"MLflow refused {what}: {exc.message}")

    def _text_call(self, text: str, artifact_file: str) -> PlannedCall:
        run_id, client = self._target()
        return lambda: client.log_text(run_id, text, artifact_file)

    def _bytes_call(self, data: bytes, artifact_file: str) -> PlannedCall:
        run_id, client = self._target()
        folder, _, filename = artifact_file.rpartition("/")

        def upload() -> None:
            with tempfile.TemporaryDirectory(prefix="tracelet-mlflow-") as tmp:
                path = Path(tmp, filename)
                path.write_bytes(data)
                client.log_artifact(run_id, str(path), artifact_path=folder or None)

        return upload

    def _artifact_call(self, artifact: Artifact) -> PlannedCall:
        run_id, client = self._target()
        dest = self._renaming(
            "artifact name", artifact.name, artifact_path(artifact.name, keep_extension=True)
        )

        def upload() -> None:
            source = artifact_source(artifact)
            if artifact.is_dir:
                client.log_artifacts(run_id, str(source), artifact_path=dest)
                typed = typed_manifest(artifact)
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

    # -- typed artifacts, read back ----------------------------------------------------------

    def list_artifacts(self, name: str | None = None) -> list[ArtifactInfo]:
        """Every typed artifact version stored in the run (only those called ``name`` if
        given), read from its ``manifest.json`` files (``<type>/<name>/v<N>/``) with a client
        of its own (safe while a batch is written).

        Raises:
            MlflowException: The tracking server could not be read.
        """
        from mlflow import MlflowClient

        if self.tracking_uri is None or self.run_id is None:
            return []
        client, run_id = MlflowClient(tracking_uri=self.tracking_uri), self.run_id
        found = []
        for type_dir in client.list_artifacts(run_id):
            if not type_dir.is_dir:
                continue
            for name_dir in client.list_artifacts(run_id, type_dir.path):
                if not name_dir.is_dir or (
                    name is not None and name_dir.path.rsplit("/")[-1] != name
                ):
                    continue
                for version_dir in client.list_artifacts(run_id, name_dir.path):
                    info = self._read_manifest(client, run_id, version_dir.path)
                    if info is not None:
                        found.append(info)
        return sorted(found, key=lambda a: (a.name, a.version))

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        """One typed artifact version of the run (see :meth:`list_artifacts`), or ``None``."""
        return select_version(self.list_artifacts(name), name, version)

    def _read_manifest(self, client: MlflowClient, run_id: str, folder: str) -> ArtifactInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            with tempfile.TemporaryDirectory(prefix="tracelet-mlflow-") as tmp:
                local = client.download_artifacts(run_id, f"{folder}/{MANIFEST_FILE}", tmp)
                data = json.loads(Path(local).read_text(encoding="utf-8"))
            return parse_manifest(data, backend="mlflow", uri=f"runs:/{run_id}/{folder}")
        except (OSError, ValueError, KeyError, TypeError, MlflowException):
            return None

    def _media_call(self, media: Media) -> PlannedCall:
        run_id, client = self._target()
        if isinstance(media, Text):
            return self._text_call(
                media.text, self._step_file("text", media.name, media.step, ".txt")
            )
        if isinstance(media, Image):
            image, key = media, self._renaming("image name", media.name, image_key(media.name))

            def log_image() -> None:
                client.log_image(
                    run_id,
                    pil_image(image.png),
                    key=key,
                    step=image.step,
                    timestamp=_millis(image.timestamp),
                )

            return log_image
        if isinstance(media, Histogram):
            data = {"edges": list(media.edges), "counts": list(media.counts), "step": media.step}
            return self._text_call(
                json.dumps(data), self._step_file("histograms", media.name, media.step, ".json")
            )
        assert isinstance(media, Figure)
        if media.png is not None:
            return self._bytes_call(
                media.png, self._step_file("figures", media.name, media.step, ".png")
            )
        assert media.plotly_json is not None
        return self._text_call(
            plotly_html(media.plotly_json),
            self._step_file("figures", media.name, media.step, ".html"),
        )


def check_server(uri: str, timeout: float) -> None:
    """Fail fast when the tracking server at ``uri`` is down or refuses the credentials.

    One request, no retries, ``timeout`` seconds to connect and to answer; MLflow's own retries
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``) apply to every later call.

    Raises:
        BackendStartError: naming the server, the cause and the fix.
    """
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    fix = (
        "start it (mlflow server --host 127.0.0.1 --port 5000) or point mlflow.tracking_uri "
        "(MLFLOW_TRACKING_URI) at a running one; mlflow.start_timeout sets how long to wait"
    )
    try:
        response = http_request(  # type: ignore[no-untyped-call]
            get_default_host_creds(uri),  # type: ignore[no-untyped-call]
            "/api/2.0/mlflow/experiments/get-by-name",
            "GET",
            params={"experiment_name": "tracelet-connection-check"},
            max_retries=0,
            backoff_factor=0,
            timeout=timeout,
            raise_on_status=False,
        )
    except Exception as exc:
        raise BackendStartError(
            f"the MLflow tracking server at {uri} {_unreachable(exc, timeout)}; {fix}"
        ) from exc
    if response.status_code in (401, 403):
        raise BackendStartError(
            f"the MLflow tracking server at {uri} refused the credentials (HTTP "
            f"{response.status_code}); set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
        )
    if response.status_code >= 500 or (response.status_code == 404 and not _is_mlflow(response)):
        raise BackendStartError(
            f"{uri} answered HTTP {response.status_code}, not like an MLflow tracking server; {fix}"
        )


def _unreachable(exc: BaseException, timeout: float) -> str:
    """What went wrong when the check request failed, in words: refused, unknown host, or
    silent (MLflow wraps the network error in an ``MlflowException`` message)."""
    text = str(exc)
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "refused the connection (nothing listens on that host and port)"
    if any(
        marker in text
        for marker in ("Name or service not known", "NameResolutionError", "getaddrinfo failed")
    ):
        return "cannot be reached: its host name does not resolve"
    if "timed out" in text.lower() or "Timeout" in text:
        return f"did not answer within {timeout:g} s"
    return f"could not be reached ({text})"


def _is_mlflow(response: Any) -> bool:
    """Whether a 404 is MLflow's "no such experiment" (and not a server without the API)."""
    try:
        return bool(response.json().get("error_code") == "RESOURCE_DOES_NOT_EXIST")
    except ValueError:
        return False


def identity_uri(uri: str) -> str:
    """The store as saved in a run folder's delivery state: absolute, without credentials."""
    return strip_uri_credentials(absolute_store_uri(uri))


def absolute_store_uri(uri: str) -> str:
    """A relative ``sqlite:///file.db`` made absolute (``mlflow ui`` may run elsewhere)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri
