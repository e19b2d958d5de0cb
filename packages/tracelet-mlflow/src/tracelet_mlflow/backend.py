"""The ``mlflow`` backend: one MLflow run, written through ``MlflowClient``.

The backend never touches MLflow's global ("fluent") state: it keeps its own client and run id,
so a ``mlflow.start_run()`` of the user's in the same process is neither used nor disturbed
(``nested: true`` only reads which run is active, to make it the parent).

Where records go:

* metrics, params and tags: ``log_batch`` requests split at MLflow's limits
  (:mod:`tracelet_mlflow.batching`), each point with its step and its timestamp in ms;
* artifacts: ``log_artifact`` / ``log_artifacts`` under their name; a typed artifact's folder
  goes to ``<type>/<name>/v<N>/`` (``manifest.json`` in it), a ``model`` version is also a
  LoggedModel of the run (:mod:`tracelet_mlflow.models`), and the latest version is the tag
  ``tracelet.artifact.<name>`` (JSON: type, version, path); :meth:`MlflowBackend.list_artifacts`
  and :meth:`MlflowBackend.get_artifact` read them back from the manifests
  (:mod:`tracelet_mlflow.artifacts`);
* images, text, figures and histograms: :mod:`tracelet_mlflow.media` (stepped images; the others
  as artifact files ``<kind>/<name>/step_<step>.<ext>``).

Names MLflow would refuse are rewritten to distinct keys (:mod:`tracelet_mlflow.names`), with
one warning per renamed name naming the original and its key; values too long are cut, with one
warning per kind. A param logged again with a different value (MLflow keeps the first one) is
refused alone, counted as failed in ``run.stats()``.

A write that fails part way (the server went down) is retried by the dispatcher; the backend
remembers how many of the batch's requests went through and carries on from the first one that
did not, so nothing is sent twice.

The rest lives beside it: finding the experiment and parent run (:mod:`tracelet_mlflow.runs`),
checking the server and naming the store (:mod:`tracelet_mlflow.server`).
"""

from __future__ import annotations

import logging
import shlex
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from tracelet.artifacts.manifest import ArtifactInfo, select_version
from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.backend_kit import BatchWriter, PlannedCall, WarnOnce
from tracelet.records import ALL_CAPABILITIES, Artifact, Batch, Capability, Media, RunStatus
from tracelet.redact import redact_uri_credentials
from tracelet.resumable import WritePlan
from tracelet_mlflow.artifacts import (
    TYPED_ARTIFACT_TAG,
    artifact_call,
    list_typed_artifacts,
    typed_artifact_tag,
)
from tracelet_mlflow.batching import LogBatchRequest, split_requests
from tracelet_mlflow.groups import group_parent
from tracelet_mlflow.media import media_call, text_call
from tracelet_mlflow.names import artifact_path, mlflow_key, truncate
from tracelet_mlflow.runs import (
    RUN_ID_TAG,
    experiment_id,
    find_run,
    get_run,
    millis,
    parent_run,
    run_tags,
)
from tracelet_mlflow.server import absolute_store_uri, check_server, identity_uri
from tracelet_mlflow.settings import MlflowSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Param, RunTag

logger = logging.getLogger("tracelet.mlflow")

#: MLflow's run status for each of Tracelet's.
STATUS: dict[RunStatus, str] = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}
#: Where the full value of a param too long for MLflow is stored.
LONG_PARAMS_FOLDER = "tracelet/params"

#: Imported from here by tests and scripts, including names that moved to the modules beside
#: this one when it was split (kept importable from here).
__all__ = [
    "LONG_PARAMS_FOLDER",
    "RUN_ID_TAG",
    "STATUS",
    "TYPED_ARTIFACT_TAG",
    "MlflowBackend",
    "absolute_store_uri",
    "check_server",
    "identity_uri",
    "typed_artifact_tag",
]


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
            self._resume(s.run_id, get_run(client, s.run_id, "run_id", uri))
            return
        if resume.get("run_id") and identity_uri(uri) == resume.get("tracking_uri"):
            existing = find_run(client, str(resume["run_id"]))
            if existing is not None:  # else deleted since: a new run gets everything again
                self._resume(str(resume["run_id"]), existing)
                return
        parent = parent_run(client, s, uri)
        parent_experiment = parent.info.experiment_id if parent else None
        experiment = experiment_id(client, s, run, parent_experiment, uri)
        parent_id = parent.info.run_id if parent else None
        if parent_id is None and run.group is not None:
            parent_id = group_parent(client, experiment, run.group)
        created = client.create_run(
            experiment,
            start_time=millis(run.start_time),
            tags=run_tags(s, run, parent_id, self._key),
            run_name=s.run_name or run.name,
        )
        self.run_id, self.experiment_id = created.info.run_id, experiment

    def _resume(self, run_id: str, existing: Any) -> None:
        """Log into an existing run: set it RUNNING again and remember its params."""
        self._params = dict(existing.data.params)
        self.client.update_run(run_id, status="RUNNING", name=self.settings.run_name)
        self.run_id, self.experiment_id = run_id, existing.info.experiment_id

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
        end_time = millis(time.time())
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

    # -- the client ------------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        assert self._client is not None, "used before start"
        return self._client

    def _target(self) -> tuple[str, MlflowClient]:
        """The run id and the client, once started."""
        assert self.run_id is not None, "write before start"
        return self.run_id, self.client

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

    def _plan(self, batch: Batch) -> WritePlan:
        """Turn a batch into MLflow calls, deciding now what each record becomes."""
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH

        run_id, client = self._target()
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
                full = f"{LONG_PARAMS_FOLDER}/{artifact_path(key)}.txt"
                self._warn_once(
                    "param value",
                    f"param {p.name!r} is {len(text)} characters, over MLflow's "
                    f"{MAX_PARAM_VAL_LENGTH}: stored cut short, full value in the artifact {full}",
                )
                long_values.append(text_call(client, run_id, text, full))
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

    def _artifact_call(self, artifact: Artifact) -> PlannedCall:
        run_id, client = self._target()
        dest = self._renaming(
            "artifact name", artifact.name, artifact_path(artifact.name, keep_extension=True)
        )
        assert self.experiment_id is not None, "write before start"
        return artifact_call(
            client, run_id, artifact, dest, experiment_id=self.experiment_id, warn=self._warn_once
        )

    def _media_call(self, media: Media) -> PlannedCall:
        run_id, client = self._target()
        return media_call(client, run_id, media, self._renaming)

    # -- typed artifacts, read back ----------------------------------------------------------

    def list_artifacts(self, name: str | None = None) -> list[ArtifactInfo]:
        """Every typed artifact version stored in the run (only those called ``name`` if
        given), read from its ``manifest.json`` files (``<type>/<name>/v<N>/``) with a client
        of its own (safe while a batch is written); ``[]`` before the run started.

        Raises:
            MlflowException: The tracking server could not be read.
        """
        if self.tracking_uri is None or self.run_id is None:
            return []
        return list_typed_artifacts(
            self.tracking_uri, self.run_id, name, experiment_id=self.experiment_id
        )

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        """One typed artifact version of the run (see :meth:`list_artifacts`), or ``None``."""
        return select_version(self.list_artifacts(name), name, version)
