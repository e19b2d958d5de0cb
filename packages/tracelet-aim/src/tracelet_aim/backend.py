"""The ``aim`` backend: one AIM run in a local repo or on an aim server.

Names and contexts. AIM groups a metric's series by name and tells them apart by context, so
Tracelet splits a name at its first ``/``: ``train/loss`` is tracked as name ``loss`` with
context ``{"subset": "train"}``, next to ``val/loss`` (``{"subset": "val"}``) in one chart;
``a/b/c`` is name ``b/c``, subset ``a``; a name without ``/`` has an empty context
(:func:`name_context`). Media follow the same rule.

Steps. AIM keeps one value per step of a series: tracking a step again overwrites it. So a
point whose step is not above the last one of its series (a loop resumed from a checkpoint, a
step logged twice) starts the next revision of the series: the same name with ``revision: 1``
(then 2, ...) added to the context, a second line in AIM's chart; no point is lost.

Where records go: metrics → ``run.track(value, name, step, context)``; params → the run's
``hparams`` (flattened names as given: ``run.hparams["optimizer/name"]``); tags → AIM tags
``name:value`` (query: ``"team:ml" in run.tags``); artifacts → ``run.log_artifact`` under the
artifacts URI (a typed artifact's folder as ``<type>/<name>/v<N>``, plus the run param
``tracelet_artifacts.<name>.v<N>``: its type, version, description and manifest); images →
``aim.Image``; histograms → ``aim.Distribution`` (Tracelet's bins); text → ``aim.Text``;
figures → ``aim.Image`` (matplotlib) or ``aim.Figure`` (plotly, when plotly is installed). AIM's
own system tracking, terminal capture and system params are off unless the settings turn them
on.
"""

from __future__ import annotations

import gc
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from tracelet.artifacts.manifest import ArtifactInfo, parse_manifest, select_version
from tracelet.artifacts.store import typed_manifest
from tracelet.backend import BaseBackend, RunInfo, RunLink
from tracelet.backend_kit import BatchWriter, PlannedCall, ResumableLoop, artifact_source, pil_image
from tracelet.errors import BackendStartError, RejectedError
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
    Tag,
    Text,
)
from tracelet.resumable import WritePlan
from tracelet_aim.settings import AimSettings

if TYPE_CHECKING:
    from aim.sdk.run import Run as AimRun

logger = logging.getLogger("tracelet.aim")

#: The param holding Tracelet's run id.
RUN_ID_PARAM = "tracelet_run_id"
#: The run param holding the group's name, for a run of a group.
GROUP_PARAM = "tracelet_group"


@dataclass(slots=True)
class _Series:
    """Where a metric's points are tracked: AIM name, context, last step, revision."""

    name: str
    context: dict[str, str]
    last_step: int
    revision: int


def name_context(name: str) -> tuple[str, dict[str, str]]:
    """AIM's (name, context) for a Tracelet name: ``train/loss`` → (``loss``, subset train)."""
    subset, _, rest = name.partition("/")
    if subset and rest:
        return rest, {"subset": subset}
    return name, {}


#: The run param under which typed artifact versions are described.
ARTIFACTS_PARAM = "tracelet_artifacts"


def typed_artifact_param(typed: ArtifactInfo) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The run param of a typed artifact version: its key ``(tracelet_artifacts, <name>,
    v<N>)`` and value (type, version, description, the manifest as JSON)."""
    import json

    value = {
        "type": typed.type.value,
        "version": typed.version,
        "description": typed.description or "",
        "manifest": json.dumps(typed.manifest(), sort_keys=True),
    }
    return (ARTIFACTS_PARAM, typed.name, f"v{typed.version}"), value


def typed_artifacts_of(params: Any) -> list[ArtifactInfo]:
    """The typed artifact versions described by the run param :data:`ARTIFACTS_PARAM`."""
    import json

    found = []
    for versions in (params or {}).values():
        for value in (versions or {}).values():
            try:
                found.append(parse_manifest(json.loads(value["manifest"]), backend="aim"))
            except (ValueError, KeyError, TypeError):
                continue
    return sorted(found, key=lambda a: (a.name, a.version))


class AimBackend(BaseBackend):
    """Logs one Tracelet run as one AIM run (see the module docstring)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: AimSettings | None = None) -> None:
        self.settings = settings or AimSettings()
        self._run: AimRun | None = None
        self._repo: str | None = None
        self._hash: str | None = None
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}  # Tracelet tag name -> AIM tag
        self._series: dict[str, _Series] = {}  # Tracelet metric name -> where it is tracked
        self._writer = BatchWriter(self._plan)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, run: RunInfo) -> None:
        """Open the run (or resume ``run_hash``, or the run ``run.resume`` names in the same
        repo) in the repo, creating a local repo if missing.

        Raises:
            BackendStartError: The aim server did not answer within ``start_timeout``.
        """
        from aim.sdk.repo import Repo
        from aim.sdk.run import Run as AimRun

        s = self.settings
        if s.remote_uri is not None:
            check_server(s.remote_uri, s.start_timeout)
            repo = s.remote_uri
        else:
            path = Path(s.repo_path).expanduser().resolve()
            path.mkdir(parents=True, exist_ok=True)
            Repo.from_path(str(path), init=True)
            repo = str(path)
        self._repo = repo
        run_hash = s.run_hash
        resume = run.resume or {}
        resumed = run_hash is None and bool(resume.get("run_hash")) and resume.get("repo") == repo
        if resumed:
            run_hash = str(resume["run_hash"])
        try:
            aim_run = AimRun(
                run_hash=run_hash,
                repo=repo,
                experiment=s.experiment_name or run.project,
                system_tracking_interval=s.system_tracking_interval,
                log_system_params=s.log_system_params,
                capture_terminal_logs=s.capture_terminal_logs,
            )
        except Exception as exc:
            raise BackendStartError(f"aim.Run failed ({type(exc).__name__}: {exc})") from exc
        if run_hash is None or s.run_name is not None:
            aim_run.name = s.run_name or run.name
        if run_hash is not None:  # a resumed run keeps the params it has
            self._params = dict(aim_run.get("hparams") or {})
        aim_run[RUN_ID_PARAM] = run.id
        if run.group is not None:
            aim_run[GROUP_PARAM] = run.group  # query: run.tracelet_group == "lr-sweep"
        for tag in self._initial_tags(run):
            aim_run.add_tag(tag)
        artifacts = s.artifacts_uri
        if artifacts is None and s.remote_uri is None:
            artifacts = (Path(repo) / ".aim" / "artifacts").as_uri()
        if artifacts is not None:
            aim_run.set_artifacts_uri(artifacts)
        self._run = aim_run

    def write(self, batch: Batch) -> None:
        """Store the batch; a retry of a batch that failed part way resumes where it stopped."""
        self._writer.write(batch)

    def close(self, status: RunStatus) -> None:
        """Close the run (AIM has no run status; it is kept as the param ``tracelet_status``).

        For an aim server, the run's objects are released and the connection closed now,
        while the server is there: AIM would otherwise release them at interpreter exit and
        print tracebacks if the server had gone by then.
        """
        run = self._run
        if run is None:
            return
        run["tracelet_status"] = status
        run.close()
        self._hash = str(run.hash)
        if self.settings.remote_uri is not None:
            repo = run.repo
            self._run = None
            del run
            gc.collect()  # AIM releases a run's server-side resources when its objects go
            repo.close()

    @property
    def location(self) -> str | None:
        """The repo and run hash, and the ``aim up`` command for a local repo."""
        run_hash = self.run_hash
        if run_hash is None or self._repo is None:
            return None
        if self.settings.remote_uri is not None:
            return f"{self._repo} run {run_hash}"
        return f"aim up --repo {self._repo}  (run {run_hash})"

    @property
    def link(self) -> RunLink | None:
        """The run hash; for a local repo, its folder and the ``aim up`` command."""
        run_hash = self.run_hash
        if run_hash is None or self._repo is None:
            return None
        if self.settings.remote_uri is not None:
            return RunLink(id=run_hash)
        return RunLink(id=run_hash, path=self._repo, command=f"aim up --repo {quote(self._repo)}")

    @property
    def identity(self) -> dict[str, Any] | None:
        """The repo (a folder or ``aim://host:port``) and the run hash."""
        if self._repo is None or self.run_hash is None:
            return None
        return {"repo": self._repo, "run_hash": self.run_hash}

    @property
    def run_hash(self) -> str | None:
        """The AIM run's hash, once started."""
        if self._run is not None:
            return str(self._run.hash)
        return self._hash

    def _initial_tags(self, run: RunInfo) -> list[str]:
        """The settings' tags, and ``group:<name>`` for a run of a group."""
        tags = self.settings.tags
        labels = (
            [Tag(k, str(v)).label() for k, v in tags.items()]
            if isinstance(tags, dict)
            else list(tags)
        )
        if run.group is not None:
            labels.append(Tag("group", run.group).label())
        return labels

    # -- writing ---------------------------------------------------------------------------

    @property
    def run(self) -> AimRun:
        assert self._run is not None, "used before start"
        return self._run

    def _plan(self, batch: Batch) -> WritePlan:
        plan = WritePlan(batch)
        run = self.run
        if batch.params:
            self._params.update((p.name, p.value) for p in batch.params)
            params = dict(self._params)
            plan.calls.append(lambda: run.__setitem__("hparams", params))
        for t in batch.tags:
            plan.calls.append(self._tag_call(t.name, t.label()))
        if batch.metrics:
            points = ResumableLoop(batch.metrics)  # a retry resumes after the points tracked
            plan.calls.append(lambda: self._track_points(points))
        plan.calls.extend(self._artifact_call(a) for a in batch.artifacts)
        plan.calls.extend(self._media_call(m) for m in batch.media)
        return plan

    def _track_points(self, points: ResumableLoop[tuple[str, float, int, float]]) -> None:
        """Track the points not tracked yet; a step at or below the last one of its series
        (a resumed loop, a repeated step) starts the next revision of the series, because AIM
        keeps one value per step per series and would overwrite the earlier point. A series'
        state changes only once a point is tracked, so a retried batch neither repeats a point
        nor takes its own points for a step going back."""
        track = self.run.track
        series = self._series
        for name, value, step, _ts in points:
            state = series.get(name)
            if state is None:
                aim_name, context = name_context(name)
                track(value, name=aim_name, step=step, context=context)
                series[name] = _Series(aim_name, context, step, 0)
            elif step <= state.last_step:
                revision = state.revision + 1
                context = {**state.context, "revision": str(revision)}
                track(value, name=state.name, step=step, context=context)
                state.revision, state.context, state.last_step = revision, context, step
            else:
                track(value, name=state.name, step=step, context=state.context)
                state.last_step = step

    def _tag_call(self, name: str, text: str) -> PlannedCall:
        run = self.run

        def set_tag() -> None:
            old = self._tags.get(name)
            if old == text:
                return
            if old is not None:
                run.remove_tag(old)
            run.add_tag(text)
            self._tags[name] = text

        return set_tag

    def _artifact_call(self, artifact: Artifact) -> PlannedCall:
        run = self.run

        def upload() -> None:
            if run.artifacts_uri is None:
                raise RejectedError(
                    f"artifact {artifact.name!r}: no aim.artifacts_uri for the remote repo"
                )
            source = str(artifact_source(artifact))
            if artifact.is_dir:
                run.log_artifacts(source, name=artifact.name, block=True)
                typed = typed_manifest(artifact)
                if typed is not None:  # after the files: the param names a complete version
                    key, value = typed_artifact_param(typed)
                    run.set(key, value, strict=False)
            else:
                run.log_artifact(source, name=artifact.name, block=True)

        return upload

    def list_artifacts(self) -> list[ArtifactInfo]:
        """Every typed artifact version logged to the run (from its param
        :data:`ARTIFACTS_PARAM`)."""
        run = self._run
        if run is None:
            return []
        return typed_artifacts_of(run.get(ARTIFACTS_PARAM))

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        """One typed artifact version of the run (see :meth:`list_artifacts`), or ``None``."""
        return select_version(self.list_artifacts(), name, version)

    def _media_call(self, media: Media) -> PlannedCall:
        from aim.sdk.objects.distribution import Distribution
        from aim.sdk.objects.image import Image as AimImage
        from aim.sdk.objects.text import Text as AimText

        run = self.run
        name, context = name_context(media.name)
        value: Any
        if isinstance(media, Text):
            value = AimText(media.text)
        elif isinstance(media, Image):
            value = AimImage(pil_image(media.png), caption=media.caption or "")
        elif isinstance(media, Histogram):
            value = Distribution(
                hist=list(media.counts), bin_range=(media.edges[0], media.edges[-1])
            )
        else:
            assert isinstance(media, Figure)
            if media.png is not None:
                value = AimImage(pil_image(media.png))
            else:
                assert media.plotly_json is not None
                value = _plotly_figure(media.plotly_json)
        step = media.step

        def track() -> None:
            if value is None:
                raise RejectedError(f"figure {media.name!r}: aim.Figure needs plotly installed")
            run.track(value, name=name, step=step, context=context)

        return track


def _plotly_figure(figure_json: str) -> Any:
    try:
        import plotly.io
    except ImportError:
        return None
    from aim.sdk.objects.figure import Figure as AimFigure

    return AimFigure(plotly.io.from_json(figure_json))


def check_server(remote_uri: str, timeout: float) -> None:
    """Fail within ``timeout`` when nothing answers at the aim server's address.

    Raises:
        BackendStartError: naming the server and the fix.
    """
    address = urlparse(remote_uri)
    host, port = address.hostname or "", address.port or 53800
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise BackendStartError(
            f"the aim server at {remote_uri} did not answer within {timeout:g} s ({exc}); "
            "start it (aim server --repo <path> --host 0.0.0.0 --port 53800) or point "
            "aim.remote_uri at a running one; aim.start_timeout sets how long to wait"
        ) from exc
