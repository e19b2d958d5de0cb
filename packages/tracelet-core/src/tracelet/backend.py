"""The contract between the dispatcher and a backend.

A backend is created by the factory its plugin registered, started once, then fed batches from
one dedicated worker thread: ``start`` → ``write``\\* (with ``flush`` in between) → ``close``. The
calls never overlap, so a backend needs no locking of its own. A backend never sees a record
kind it did not declare in :attr:`Backend.capabilities`.

Errors:
    * ``start`` raising makes :func:`tracelet.start_logging` fail with
      :class:`~tracelet.errors.BackendStartError` (the user selected this backend). It must not
      hang: bound its network calls.
    * ``write`` raising :class:`~tracelet.errors.RejectedError` means "the rest is written,
      these records never can be". Any other exception is judged by the backend's optional
      ``permanent_error(exc) -> bool`` (default: :func:`is_permanent_error`). A transient one
      (connection, timeout, a server error, a locked database) means "nothing was written,
      retry": the dispatcher retries the same batch with backoff, so a backend must not
      half-write a batch and then raise, or must tolerate the batch arriving again. A permanent
      one (the content is refused) makes the dispatcher split the batch in halves and write
      each, until the records that cause it are alone; those are counted as failed with the
      error, and the rest is delivered.
    * ``flush`` and ``close`` errors are logged and counted; they never reach the user's loop.

Optional methods, found by name:
    * ``permanent_error(exc) -> bool``: see above.
    * ``link -> RunLink | None`` (a property): the run's id, page, folder and command in this
      backend, for code (:attr:`tracelet.Run.links`). Without it, the link is made from
      :attr:`Backend.location` (an ``http(s)`` URL or an existing path).
    * ``track_progress(callback)``: called once, before the first write, when the run has a
      journal. During a ``write``, the backend calls ``callback(k)`` once the first ``k``
      records of the batch are stored, in the journal's order (params, tags, metrics,
      artifacts, media); a process stopped in the middle of a batch then resumes after them
      instead of storing them twice. A :class:`~tracelet.resumable.ResumableWriter` does it for
      plans built with :meth:`~tracelet.resumable.WritePlan.add` once its ``progress`` is set
      to ``callback``.
    * ``list_artifacts() -> list[ArtifactInfo]`` and ``get_artifact(name, version) ->
      ArtifactInfo | None`` (``version``: ``"latest"`` or a number): the typed artifact versions
      (:mod:`tracelet.artifacts`) the backend stored for this run, read back from the backend
      (``Run.list_artifacts(backend=...)``, ``Run.get_artifact(..., backend=...)``). They are
      called on the user's thread, possibly while a ``write`` runs on the worker's: read with
      what ``start`` fixed (ids, a client of their own), not with the writing client's state.
      Without them, those calls raise ``NotImplementedError`` for the backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

from tracelet.records import Batch, Capability, RunStatus


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a backend is told about the run it starts.

    Attributes:
        id: Tracelet's id for the run, unique and sortable by start time.
        name: The run's name (Tracelet's experiment name).
        project: The Tracelet project; backends use it where their own setting is unset.
        start_time: Wall-clock start, seconds since the epoch.
        backends: The backends the run was started with, in order.
        resume: The backend's own identity of this run, as its :attr:`Backend.identity`
            returned it in an earlier process (``tracelet sync`` passes it): resume that run
            rather than create one. ``None``: create the run. A backend that cannot resume
            what it is given (another server, a deleted run) creates a new run; the caller sees
            it from the changed ``identity`` and delivers everything again.
        group: The group the run belongs to (the trials of one sweep), or ``None``. Backends
            map it to their own grouping (an MLflow parent run, a W&B group).
    """

    id: str
    name: str
    project: str
    start_time: float
    backends: tuple[str, ...] = ()
    resume: Mapping[str, Any] | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class RunLink:
    """Where one backend keeps a run, for code (:attr:`tracelet.Run.links`); every field is
    ``None`` where the backend has no such thing. Passwords in URLs and commands are masked.

    Attributes:
        id: The backend's own id of the run: an MLflow run id, a W&B run id, a ClearML task
            id, an AIM run hash, the local folder's run id.
        url: The run's web page, when a server shows it.
        path: The folder (or file) on this machine that holds the run.
        command: A shell command that shows the run (``mlflow ui ...``, ``aim up ...``,
            ``tracelet show ...``) or, for an offline run, uploads it (``wandb sync ...``).
    """

    id: str | None = None
    url: str | None = None
    path: str | None = None
    command: str | None = None


@runtime_checkable
class Backend(Protocol):
    """What the dispatcher drives. Subclass :class:`BaseBackend` for the defaults."""

    #: The record kinds this backend stores.
    capabilities: ClassVar[frozenset[Capability]]

    def start(self, run: RunInfo) -> None:
        """Open (or resume) the run on the backend. Called once, on the caller's thread."""

    def write(self, batch: Batch) -> None:
        """Store a batch. See the module docstring for what raising means."""

    def flush(self) -> None:
        """Make everything written so far durable or visible (called by ``Run.flush``)."""

    def close(self, status: RunStatus) -> None:
        """Finish the run with this status and release resources. Called once, last."""

    @property
    def location(self) -> str | None:
        """Where a person can look at the run (a path, a URL or a command), if known."""

    @property
    def identity(self) -> dict[str, Any] | None:
        """After ``start``: what identifies this run in the backend, as JSON-able values (an
        MLflow run id and tracking URI, a W&B run id and folder), saved in the journal so that
        ``tracelet sync`` can resume the run (``RunInfo.resume``). ``None``: the backend cannot
        resume a run, so ``tracelet sync`` delivers to it only a run it never started."""


class BaseBackend:
    """Convenient defaults for a backend: no-op ``flush``, no ``location``.

    Subclasses set :attr:`capabilities` and implement ``start``, ``write`` and ``close``.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def start(self, run: RunInfo) -> None:
        raise NotImplementedError

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Nothing to do by default."""

    def close(self, status: RunStatus) -> None:
        raise NotImplementedError

    @property
    def location(self) -> str | None:
        return None

    @property
    def identity(self) -> dict[str, Any] | None:
        return None


def run_link(backend: Backend) -> RunLink:
    """The backend's :class:`RunLink` with passwords masked: its own ``link`` if it has one,
    else one made from its ``location`` (an ``http(s)`` URL, or a path that exists). A backend
    whose ``link`` or ``location`` raises gets an empty link: showing where a run is never
    fails the caller."""
    from tracelet.redact import redact_uri_credentials

    try:
        link = getattr(backend, "link", None)
        if link is None:
            location = backend.location
            if location is None:
                return RunLink()
            if location.startswith(("http://", "https://")):
                link = RunLink(url=location)
            elif os.path.exists(location):
                link = RunLink(path=location)
            else:
                return RunLink()
    except Exception:
        return RunLink()

    def masked(text: str | None) -> str | None:
        return None if text is None else redact_uri_credentials(text)

    return replace(link, url=masked(link.url), command=masked(link.command))


def is_permanent_error(exc: BaseException) -> bool:
    """Whether retrying cannot help: the content was refused (``TypeError``, ``ValueError``,
    ``OverflowError``, ``KeyError``). Network and I/O errors (``OSError``, which includes
    ``ConnectionError`` and ``TimeoutError``) and anything else are transient."""
    if isinstance(exc, OSError):
        return False
    return isinstance(exc, (TypeError, ValueError, OverflowError, KeyError))


#: What a plugin registers: called with the backend's settings section (an instance of the
#: model it registered, or ``None`` if it registered none) and returns an unstarted backend.
#: Import the backend's SDK inside the factory, not at plugin import, so that discovering
#: plugins stays cheap.
BackendFactory = Callable[[Any], Backend]
