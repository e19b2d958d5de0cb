"""The ``wandb`` backend: one W&B run, created with ``reinit="create_new"``.

The run is the backend's own: ``wandb.run`` and ``wandb.log`` are left to the user's code, and a
run the user started with ``wandb.init`` is neither used nor finished.

Steps. W&B keeps one history whose step (``_step``) may only grow; a ``wandb.log(step=...)``
that goes backwards is dropped ("Step must only increase"). Tracelet therefore never passes
``step=``: each history row carries the Tracelet step in the column ``tracelet/step``, declared
with ``define_metric("*", step_metric="tracelet/step")`` so that charts use it as their x axis,
and ``_step`` simply counts rows. A step that goes backwards, or a collector sampling on its own
clock, is one more row: nothing is dropped.

Rows. Points are grouped into rows in logging order: a point joins the current row when it has
the same step, its name is not in the row yet and it was logged within a millisecond of the
row's first point, so ``log_metrics({...}, step=s)`` or a loop logging loss, accuracy and lr at
step ``s`` gives one row. Each row's ``_timestamp`` (W&B's wall time) is the logging time, not
the delivery time. Media go into rows of their own.

Where records go: params → ``run.config`` (flattened names as given, a changed value updates
it); tags → run tags ``"name:value"`` (W&B tags are labels of at most 64 characters; longer ones
are cut, with one warning); artifacts → one W&B Artifact per ``log_artifact`` (type ``file`` or
``directory``; a typed artifact's version → a W&B Artifact of its name and type, with its
description, metadata, files, references and the aliases ``latest`` and ``tracelet-v<N>``);
images → ``wandb.Image``; histograms → ``wandb.Histogram`` (Tracelet's bins); text → a
``wandb.Table`` with columns ``step`` and ``text``; figures → ``wandb.Image`` (matplotlib) or
``wandb.Html`` (plotly). The exit code is 0 (finished), 1 (failed) or 130 (killed).

Resuming (``tracelet sync``). An offline run is one ``.wandb`` log that W&B writes in 32 KiB
blocks from its own service process, so a process killed mid-run leaves a log that ends at an
unknown point and cannot be appended to. Its identity is the run id and folder; when
``tracelet sync`` resumes it, the unfinished folder is set aside (renamed ``superseded-…``, its
log ``….wandb.superseded`` so that ``wandb sync`` skips it) and a new offline run with the same
id receives the whole run. An online run has no identity here: ``--new-run`` delivers it again.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tracelet.artifacts.manifest import ArtifactInfo
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
from tracelet.resumable import WritePlan
from tracelet_wandb.offline_log import wait_for_exit
from tracelet_wandb.settings import WandbSettings

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run as WandbRun

logger = logging.getLogger("tracelet.wandb")

#: The history column holding the Tracelet step, the x axis of every chart.
STEP_METRIC = "tracelet/step"
#: The run's exit code for each Tracelet status (130: interrupted, as after Ctrl-C).
EXIT_CODES: dict[RunStatus, int] = {"finished": 0, "failed": 1, "killed": 130}
#: Points of one step logged further apart than this (seconds) go to separate rows, so that
#: each row's ``_timestamp`` is within this of every point's logging time.
ROW_WINDOW = 0.001
#: The longest tag W&B accepts.
MAX_TAG_LENGTH = 64
#: The config key holding Tracelet's run id (W&B hides config keys starting with "_").
RUN_ID_CONFIG = "_tracelet_run_id"
#: The prefix of an unfinished offline run folder that ``tracelet sync`` replaced.
SUPERSEDED = "superseded-"

_NOT_ARTIFACT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def artifact_name(name: str) -> str:
    """The W&B artifact name of a Tracelet artifact: ``models/best.pt`` → ``models-best.pt``."""
    return _NOT_ARTIFACT_NAME.sub("-", name).strip("-.")[:128] or "artifact"


class WandbBackend(BaseBackend):
    """Logs one Tracelet run as one W&B run (see the module docstring)."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self, settings: WandbSettings | None = None) -> None:
        self.settings = settings or WandbSettings()
        self._run: WandbRun | None = None
        self._tags: dict[str, str] = {}  # Tracelet tag name -> W&B tag
        self._writer = BatchWriter(self._plan)
        self._warn_once = WarnOnce(
            logger,
            prefix="tracelet: wandb: ",
            suffix=" (warned once per run)",
            repeat_level=logging.DEBUG,
        )
        self._started = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, run: RunInfo) -> None:
        """Start the W&B run (or resume ``id``) without touching ``wandb.run``.

        Raises:
            BackendStartError: Online without credentials (never an interactive login
                prompt), W&B not answering within ``start_timeout``, or any ``wandb.init``
                error, with the fix.
        """
        import wandb

        s = self.settings
        if s.mode == "online":
            check_credentials(s)
        # W&B fixes its default folder at its first use in the process; pass today's.
        run_dir = Path(s.dir if s.dir is not None else os.getcwd())
        run_dir.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {
            "console": "wrap" if s.console_capture else "off",
            "silent": s.quiet,
            "x_disable_stats": not s.system_metrics,
            "init_timeout": s.start_timeout,
            "sync_tensorboard": False,
        }
        if s.api_key is not None:
            options["api_key"] = s.api_key.get_secret_value()
        if s.base_url is not None:
            options["base_url"] = s.base_url
        run_id = s.id
        if run_id is None and s.mode == "offline" and run.resume:
            run_id = supersede_offline_run(run.resume)
        try:
            wandb_run = wandb.init(
                project=s.project or run.project,
                entity=s.entity,
                name=s.name or run.name,
                tags=s.tags or None,
                group=s.group or run.group,
                notes=s.notes,
                job_type=s.job_type,
                config={**s.config, RUN_ID_CONFIG: run.id},
                id=run_id,
                resume=s.resume,
                mode=s.mode,
                dir=str(run_dir),
                reinit="create_new",
                settings=wandb.Settings(**options),
            )
        except Exception as exc:
            raise BackendStartError(
                f"wandb.init failed ({type(exc).__name__}: {exc}); with no network, set "
                "wandb.mode: offline (WANDB_MODE=offline) and upload later with `wandb sync`"
            ) from exc
        wandb_run.define_metric(STEP_METRIC)
        wandb_run.define_metric("*", step_metric=STEP_METRIC)
        self._run = wandb_run
        self._started = time.time()

    def write(self, batch: Batch) -> None:
        """Store the batch; a retry of a batch that failed part way resumes where it stopped."""
        self._writer.write(batch)

    def close(self, status: RunStatus) -> None:
        """Finish the run with the exit code of ``status``. Offline, return once W&B's service
        has written the run's exit record to the log (``finish`` may return before), within
        ``close_timeout`` seconds; past it, warn."""
        run = self._run
        if run is None:
            return
        run.finish(exit_code=EXIT_CODES[status])
        if self.settings.mode == "offline":
            log = Path(run.dir).parent / f"run-{run.id}.wandb"
            if not wait_for_exit(log, self.settings.close_timeout):
                logger.warning(
                    "tracelet: wandb: %s has no exit record %.0f s after finish(); W&B may "
                    "still be writing it",
                    log,
                    self.settings.close_timeout,
                )

    @property
    def location(self) -> str | None:
        """The run's page online; offline, its folder and the ``wandb sync`` command."""
        r = self._run
        if r is None or self.settings.mode == "disabled":
            return None
        if self.settings.mode == "offline":
            folder = os.path.dirname(r.dir)  # <dir>/wandb/offline-run-*/files -> the run folder
            return f"{folder}  (upload with: wandb sync {folder})"
        return r.url

    @property
    def link(self) -> RunLink | None:
        """The run id and its page online; offline, its folder and the ``wandb sync`` command
        that uploads it."""
        r = self._run
        if r is None or self.settings.mode == "disabled":
            return None
        if self.settings.mode == "offline":
            folder = os.path.dirname(r.dir)
            return RunLink(id=r.id, path=folder, command=f"wandb sync {shlex.quote(folder)}")
        return RunLink(id=r.id, url=r.url)

    @property
    def identity(self) -> dict[str, Any] | None:
        """Offline: the run id, its folder and when this process started it (see "Resuming"
        in the module docstring)."""
        r = self._run
        if r is None or self.settings.mode != "offline":
            return None
        folder = str(Path(r.dir).parent.resolve())
        # A replacement made in the same second has the same folder name: the start time tells
        # the two apart, so that tracelet sync sends the whole run to the new one.
        return {"mode": "offline", "run_id": r.id, "folder": folder, "started": self._started}

    # -- writing ---------------------------------------------------------------------------

    @property
    def run(self) -> WandbRun:
        assert self._run is not None, "used before start"
        return self._run

    def _plan(self, batch: Batch) -> WritePlan:
        """Turn a batch into W&B calls: config, tags, history rows, artifacts."""
        plan = WritePlan(batch)
        run = self.run
        if batch.params:
            config = {p.name: p.value for p in batch.params}
            update = run.config.update
            plan.calls.append(lambda: update(config, allow_val_change=True))  # type: ignore[no-untyped-call]
        if batch.tags:
            for t in batch.tags:
                text = t.label()
                if len(text) > MAX_TAG_LENGTH:
                    self._warn_once(
                        "tag", f"tag {text!r} is over W&B's {MAX_TAG_LENGTH} characters: cut"
                    )
                    text = text[:MAX_TAG_LENGTH]
                self._tags[t.name] = text
            tags = tuple(dict.fromkeys([*self.settings.tags, *self._tags.values()]))
            plan.calls.append(lambda: setattr(run, "tags", tags))
        plan.calls.extend(self._row_call(row) for row in history_rows(batch.metrics))
        plan.calls.extend(self._media_call(m) for m in batch.media)
        plan.calls.extend(self._artifact_call(a) for a in batch.artifacts)
        return plan

    def _row_call(self, row: dict[str, Any]) -> PlannedCall:
        log = self.run.log
        return lambda: log(row)

    def _media_call(self, media: Media) -> PlannedCall:
        """A history row of its own holding the record as a W&B media object."""
        row = {STEP_METRIC: media.step, "_timestamp": media.timestamp, media.name: _value(media)}
        return self._row_call(row)

    def _artifact_call(self, artifact: Artifact) -> PlannedCall:
        run = self.run

        def upload() -> None:
            import wandb

            source = artifact_source(artifact)
            typed = typed_manifest(artifact)
            if typed is not None:
                run.log_artifact(_typed_artifact(typed, source), aliases=typed_aliases(typed))
                return
            kind = "directory" if artifact.is_dir else "file"
            wandb_artifact = wandb.Artifact(artifact_name(artifact.name), type=kind)
            if artifact.is_dir:
                wandb_artifact.add_dir(str(source), name=artifact.name)
            else:
                wandb_artifact.add_file(str(source), name=artifact.name)
            run.log_artifact(wandb_artifact)

        return upload


def typed_aliases(typed: ArtifactInfo) -> list[str]:
    """The aliases a typed artifact version gets in W&B: ``latest`` and ``tracelet-v<N>`` (its
    version in the Tracelet run; W&B's own ``v<N>`` counts every run of the project)."""
    return ["latest", f"tracelet-v{typed.version}"]


def _typed_artifact(typed: ArtifactInfo, source: Path) -> Any:
    """The W&B Artifact of a typed artifact: its type, description and metadata (with the
    Tracelet version), its folder's files (``manifest.json`` too) and its references."""
    import wandb

    metadata = {
        **typed.metadata,
        "tracelet_version": typed.version,
        "tracelet_run_id": typed.run_id,
    }
    art = wandb.Artifact(
        typed.name, type=typed.type.value, description=typed.description, metadata=metadata
    )
    art.add_dir(str(source))
    for ref in typed.references:
        # No checksum: W&B would otherwise fetch the object (an HTTP or S3 request per batch).
        art.add_reference(ref.uri, name=ref.name, checksum=False)
    return art


def _value(record: Media) -> Any:
    """The W&B media object of a record."""
    import wandb

    if isinstance(record, Image):
        return wandb.Image(pil_image(record.png), caption=record.caption)
    if isinstance(record, Histogram):
        # Plain lists are what W&B stores (it calls .tolist() only when there is one).
        bins: Any = (list(record.counts), list(record.edges))
        return wandb.Histogram(np_histogram=bins)
    if isinstance(record, Text):
        return wandb.Table(columns=["step", "text"], data=[[record.step, record.text]])
    assert isinstance(record, Figure)
    if record.png is not None:
        return wandb.Image(pil_image(record.png))
    assert record.plotly_json is not None
    return wandb.Html(plotly_html(record.plotly_json), inject=False)


def history_rows(points: list[tuple[str, float, int, float]]) -> list[dict[str, Any]]:
    """Metric points as history rows, in logging order: a point joins the current row when it
    has the row's step, its name is not in the row yet and it was logged within
    :data:`ROW_WINDOW` of the row's first point; otherwise it starts a new row. A row's
    ``_timestamp`` (W&B's wall time) is its first point's logging time."""
    rows: list[dict[str, Any]] = []
    row: dict[str, Any] = {}
    row_step: int | None = None
    row_ts = 0.0
    for name, value, step, ts in points:
        if step != row_step or name in row or ts - row_ts > ROW_WINDOW:
            row = {STEP_METRIC: step, "_timestamp": ts}
            rows.append(row)
            row_step, row_ts = step, ts
        row[name] = value
    return rows


def supersede_offline_run(identity: Mapping[str, Any]) -> str | None:
    """Set aside the unfinished offline run ``identity`` names, so that a new offline run with
    its id can receive the whole Tracelet run; return that id (``None``: not an offline run).

    Raises:
        BackendStartError: The folder was already uploaded with ``wandb sync``: a new offline
            run with its id would add its records a second time.
    """
    if identity.get("mode") != "offline" or not identity.get("run_id"):
        return None
    run_id = str(identity["run_id"])
    folder = Path(str(identity.get("folder", "")))
    logs = list(folder.glob("*.wandb")) if folder.is_dir() else []
    if any(log.with_suffix(".wandb.synced").exists() for log in logs):
        raise BackendStartError(
            f"the offline W&B run {run_id} in {folder} was uploaded with `wandb sync` before it "
            "was finished, and records cannot be added to it: `tracelet sync --new-run` sends "
            "the whole run to a new W&B run"
        )
    if logs:
        for log in logs:
            log.rename(log.with_suffix(".wandb.superseded"))
        aside = folder.with_name(SUPERSEDED + folder.name)
        folder.rename(aside)
        logger.info(
            "tracelet: wandb: the offline run %s was not finished; a new one with the same id "
            "receives the whole run (the unfinished one is kept in %s)",
            run_id,
            aside,
        )
    return run_id


def check_credentials(settings: WandbSettings) -> None:
    """Fail at once, without a login prompt, when online mode has no credentials.

    Raises:
        BackendStartError: No API key in the settings, WANDB_API_KEY or `wandb login`'s netrc.
    """
    if settings.api_key is not None:
        return
    import wandb
    from wandb.sdk.lib.wbauth import authenticate

    host = settings.base_url or wandb.Settings().base_url  # W&B's default server
    try:
        auth = authenticate.authenticate_session(
            host=host, source="tracelet", prompt=False, update_session=False
        )
    except Exception as exc:  # a key that is set but malformed
        raise BackendStartError(f"W&B credentials for {host} are invalid: {exc}") from exc
    if auth is None:
        raise BackendStartError(
            f"wandb.mode is online but no W&B API key is configured for {host}: set "
            "WANDB_API_KEY (or wandb.api_key), or run `wandb login`; or set wandb.mode: "
            "offline (WANDB_MODE=offline) to log locally and upload later with `wandb sync`"
        )
