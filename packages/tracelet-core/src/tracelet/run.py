"""The :class:`Run`: what the training loop calls.

The logging methods only validate and append to the dispatcher's buffer; they never block on
I/O (unless ``overflow_policy="block"`` and a backend is far behind). They never raise because
of a backend: delivery problems show up in :meth:`Run.stats` and the ``tracelet`` logger. They
do raise, at once, for a programming error in the call itself (a string where a number is
expected, a missing file), so it is caught on the first step rather than silently lost.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from itertools import count
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tracelet.values import STEP_MAX, STEP_MIN, check_name, metric_value, step_value

# The record types, media encoders and pathlib load on first use of the calls that need them:
# the metric hot path needs none of them, and `import tracelet` stays cheap.
if TYPE_CHECKING:
    from pathlib import Path

    from tracelet.backend import Backend, RunInfo, RunLink
    from tracelet.collector import Collector
    from tracelet.dispatch import BackendStats, Dispatcher
    from tracelet.records import RunStatus
    from tracelet.settings import ResolvedSettings

logger = logging.getLogger("tracelet")

_time = time.time
_STEP_MIN, _STEP_MAX = STEP_MIN, STEP_MAX
_DEFAULT_HISTOGRAM_BINS = 64


class Run:
    """A run being logged to one or more backends. Create it with :func:`tracelet.start_logging`.

    A run is also a context manager: leaving the ``with`` block stops it, with status
    ``"failed"`` if an exception escaped (``"killed"`` for ``KeyboardInterrupt``;
    ``"finished"`` for ``sys.exit(0)``).
    """

    __slots__ = (
        "__weakref__",
        "_abandoned",
        "_accepting",
        "_auto_steps",
        "_backends",
        "_buffer",
        "_collectors",
        "_dispatcher",
        "_inert_reason",
        "_info",
        "_journal_path",
        "_lock",
        "_nan_policy",
        "_on_stop",
        "_pid",
        "_plugins",
        "_resolved",
        "_status",
        "_stop_result",
        "_warned",
    )

    def __init__(
        self,
        info: RunInfo,
        *,
        dispatcher: Dispatcher | None,
        backends: Mapping[str, Backend],
        resolved: ResolvedSettings | None,
        nan_policy: str = "keep",
        inert_reason: str | None = None,
        plugins: Mapping[str, str] | None = None,
        journal_path: Path | None = None,
        on_stop: Callable[[Run], None] | None = None,
    ) -> None:
        self._info = info
        self._dispatcher: Dispatcher | InertDispatcher = dispatcher or InertDispatcher()
        self._backends = dict(backends)
        self._resolved = resolved
        self._nan_policy = nan_policy
        self._buffer = self._dispatcher.buffer
        self._collectors: list[Collector] = []
        # Automatic steps: one counter per metric name (or (kind, name) for media). next() on
        # an itertools.count is a single C call, so threads logging to one name under the GIL
        # each get a distinct step, with no lock on the hot path.
        self._auto_steps: dict[object, Iterator[int]] = {}
        self._status: str = "running"
        self._inert_reason = inert_reason
        self._accepting = dispatcher is not None and inert_reason is None
        self._warned: set[str] = set()
        # Re-entrant: a SIGTERM handler on this thread may stop the run inside stop().
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._plugins = dict(plugins or {})
        self._journal_path = journal_path
        self._on_stop = on_stop
        self._stop_result = True
        self._abandoned = False

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """Tracelet's id for this run (sortable by start time)."""
        return self._info.id

    @property
    def name(self) -> str:
        """The run's name (the experiment name given to ``start_logging``)."""
        return self._info.name

    @property
    def project(self) -> str:
        """The project the run belongs to."""
        return self._info.project

    @property
    def group(self) -> str | None:
        """The group the run belongs to (``start_logging(group=...)``), or ``None``."""
        return self._info.group

    @property
    def backends(self) -> tuple[str, ...]:
        """Names of the backends this run logs to, in the order selected."""
        return tuple(self._backends)

    @property
    def status(self) -> str:
        """``"running"`` until stopped, then ``"finished"``, ``"failed"`` or ``"killed"``."""
        return self._status

    @property
    def settings(self) -> ResolvedSettings | None:
        """The resolved settings, with the source of every value (``None`` for a no-op run)."""
        return self._resolved

    @property
    def is_noop(self) -> bool:
        """True when this run ignores every call (non-zero distributed rank, forked child)."""
        return self._inert_reason is not None

    @property
    def journal_path(self) -> Path | None:
        """The run folder every record is written to first (``None`` with ``journal: false``,
        or for a no-op run). ``tracelet sync <journal_path>`` delivers what a backend missed."""
        return self._journal_path

    @property
    def plugins(self) -> dict[str, str]:
        """The Tracelet plugins loaded when the run started: name → ``"<distribution> <version>"``
        (``"builtin"`` is the core's own ``memory`` and ``local`` backends)."""
        return dict(self._plugins)

    def capabilities(self) -> dict[str, frozenset[str]]:
        """What each backend stores (``"metrics"``, ``"params"``, ``"images"``, ...).

        A record of a kind a backend lacks is not sent to it; it is counted as ``unsupported``
        in :meth:`stats` and reported once in the log.
        """
        return {name: frozenset(b.capabilities) for name, b in self._backends.items()}

    def locations(self) -> dict[str, str | None]:
        """Where to look at the run, per backend (a path, a URL or a command); a password in a
        URI is masked."""
        from tracelet.redact import redact_uri_credentials

        out: dict[str, str | None] = {}
        for name, backend in self._backends.items():
            try:
                location = backend.location
            except Exception as exc:
                location = f"<unknown: {exc}>"
            out[name] = None if location is None else redact_uri_credentials(location)
        return out

    @property
    def links(self) -> dict[str, RunLink]:
        """Where each backend keeps the run, for code: its id there, its web page, its folder
        and the command that shows it (:class:`~tracelet.backend.RunLink`; ``None`` where a
        backend has no such thing). :meth:`locations` says the same in one line, for people.
        """
        from tracelet.backend import run_link

        return {name: run_link(backend) for name, backend in self._backends.items()}

    # -- metrics: the hot path -----------------------------------------------------------------

    def log_metric(
        self, name: str, value: float, step: int | None = None, iteration: int | None = None
    ) -> None:
        """Log one point of a metric.

        Args:
            name: Metric name; ``/`` groups metrics in most UIs (``"train/loss"``).
            value: A number: Python, NumPy scalar or one-element array or tensor.
            step: The training step. ``None`` takes the next automatic step of this name
                (0, 1, 2, ... counted per name, independent of explicit steps; threads
                logging to one name each take distinct steps). A step that goes backwards is
                accepted and passed on as given.
            iteration: The earlier name of ``step``, for scripts written for earlier Tracelet
                releases (``log_metric(name, value, iteration=10)``); pass it by keyword.

        Raises:
            TypeError: ``name`` is not a non-empty string, ``value`` is not a number,
                ``step`` is not a whole number, or both ``step`` and ``iteration`` are given.
            ValueError: ``value`` is NaN or infinite and ``nan_policy`` is ``"error"`` (the
                message names the metric and the step), or an integer too large for a float.
        """
        if not self._accepting:
            self._ignored("log_metric")
            return
        if type(name) is not str or not name:
            name = check_name(name)
        if type(value) is not float:
            value = metric_value(value, name)
        # The step is resolved before the NaN check so that a dropped or refused point still
        # takes its automatic step (the next points stay aligned) and the error can name it.
        # `iteration` is not keyword-only on purpose: CPython 3.11 does not specialize calls to
        # a function with keyword-only parameters (measured: +30 ns a call; this way, +5 to 10).
        if step is None:
            if iteration is None:
                try:
                    step = next(self._auto_steps[name])
                except KeyError:
                    step = self._next_auto_step(name)
            else:
                step = step_value(iteration, f"metric {name!r}")
        elif iteration is not None:
            raise _step_and_iteration("log_metric")
        elif type(step) is not int or not _STEP_MIN <= step <= _STEP_MAX:
            step = step_value(step, f"metric {name!r}")
        # NaN or ±inf, in one comparison; the policy check only runs for those.
        if value - value != 0.0 and self._nan_policy != "keep":
            self._non_finite(name, value, step)
            return
        buffer = self._buffer
        buffer.append((name, value, step, _time()))
        dispatcher = self._dispatcher
        if len(buffer) >= dispatcher.wake_at:
            dispatcher.pressure()

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        iteration: int | None = None,
    ) -> None:
        """Log several metrics at the same step and timestamp.

        Args:
            metrics: Name → value, as for :meth:`log_metric`.
            step: Shared step; ``None`` gives each name its next automatic step.
            iteration: The earlier name of ``step``, as for :meth:`log_metric`.

        Raises:
            TypeError, ValueError: As :meth:`log_metric`; nothing of the mapping is logged then
                (and no automatic step is taken).
        """
        if not self._accepting:
            self._ignored("log_metrics")
            return
        try:
            items = metrics.items()
        except AttributeError:
            raise TypeError(
                f"log_metrics takes a mapping of name to value, got {type(metrics).__name__}"
            ) from None
        if iteration is not None:
            if step is not None:
                raise _step_and_iteration("log_metrics")
            step = iteration
        if step is not None and (type(step) is not int or not _STEP_MIN <= step <= _STEP_MAX):
            step = step_value(step, "log_metrics")
        points = []
        non_finite = False
        for raw_name, raw_value in items:
            name = raw_name if type(raw_name) is str and raw_name else check_name(raw_name)
            value = raw_value if type(raw_value) is float else metric_value(raw_value, name)
            if value - value != 0.0:
                non_finite = True
            points.append((name, value))
        steps = self._auto_steps
        policy = self._nan_policy
        if non_finite and policy == "error":
            # Refuse before anything is queued or any automatic step is taken.
            for name, value in points:
                if value - value != 0.0:
                    at = self._peek_auto_step(name) if step is None else step
                    self._non_finite(name, value, at)
        drop = non_finite and policy == "drop"
        now = _time()
        buffer = self._buffer
        append = buffer.append
        for name, value in points:
            if step is None:
                try:
                    point_step = next(steps[name])
                except KeyError:
                    point_step = self._next_auto_step(name)
            else:
                point_step = step
            if drop and value - value != 0.0:
                self._non_finite(name, value, point_step)
                continue
            append((name, value, point_step, now))
        dispatcher = self._dispatcher
        if len(buffer) >= dispatcher.wake_at:
            dispatcher.pressure()

    def _next_auto_step(self, key: object) -> int:
        """Take the next automatic step of ``key``, creating its counter on first use.

        ``setdefault`` is atomic, so two threads that both miss the counter share one.
        """
        return next(self._auto_steps.setdefault(key, count()))

    def _peek_auto_step(self, key: object) -> int:
        """The automatic step ``key`` would take next, without taking it (error messages)."""
        counter = self._auto_steps.get(key)
        # An itertools.count shows its next value only in its repr: "count(5)".
        return 0 if counter is None else int(repr(counter)[len("count(") : -1])

    def _non_finite(self, name: str, value: float, step: int) -> None:
        """Apply ``nan_policy`` ``"drop"`` or ``"error"`` to a NaN or infinite value.

        Raises:
            ValueError: The policy is ``"error"``.
        """
        if self._nan_policy == "error":
            raise ValueError(
                f"metric {name!r} at step {step}: value is {value}; nan_policy is 'error' "
                "(set nan_policy to 'keep' or 'drop' to log on)"
            )
        self._dispatcher.count_dropped()
        self._warn_once(
            "nan-drop",
            "tracelet: metric %r at step %s is %s: dropped (nan_policy='drop'; reported once, "
            "counted in run.stats())",
            name,
            step,
            value,
        )

    # -- everything else -----------------------------------------------------------------------

    def log_param(self, name: str, value: Any) -> None:
        """Log a parameter. A mapping value is flattened under ``name`` (``name/key``).

        Values are kept as str, int, float, bool or None; numpy scalars become Python ones and
        other objects their JSON or ``str()`` form.

        Raises:
            TypeError: ``name`` (or a nested key) is not a non-empty string.
        """
        if not self._accepting:
            self._ignored("log_param")
            return
        if isinstance(value, Mapping):
            self.log_params({name: value})
            return
        from tracelet.records import Param
        from tracelet.values import param_value

        self._enqueue(Param(check_name(name, "param"), param_value(value)))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several parameters; nested mappings become ``outer/inner`` names, and an empty
        one the value ``"{}"``.

        Raises:
            TypeError: ``params`` is not a mapping, or a key is not a non-empty string (nothing
                is logged then).
        """
        if not self._accepting:
            self._ignored("log_params")
            return
        if not isinstance(params, Mapping):
            raise TypeError(f"log_params takes a mapping, got {type(params).__name__}")
        from tracelet.values import flatten_params

        for record in flatten_params(params):
            self._enqueue(record)

    def set_tag(self, name: str, value: Any) -> None:
        """Set a tag on the run (values are stored as strings).

        Raises:
            TypeError: ``name`` is not a non-empty string.
        """
        if not self._accepting:
            self._ignored("set_tag")
            return
        from tracelet.records import Tag

        self._enqueue(Tag(check_name(name, "tag"), str(value)))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags.

        Raises:
            TypeError: ``tags`` is not a mapping or a name is not a non-empty string (nothing
                is set then).
        """
        if not self._accepting:
            self._ignored("set_tags")
            return
        if not isinstance(tags, Mapping):
            raise TypeError(f"set_tags takes a mapping, got {type(tags).__name__}")
        from tracelet.records import Tag

        records = [Tag(check_name(name, "tag"), str(value)) for name, value in tags.items()]
        for record in records:
            self._enqueue(record)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        """Store a file or a directory with the run.

        The file is read when the backend writes it (shortly after, on another thread): do
        not change or delete it until :meth:`flush` returns if its exact content matters. A
        file deleted before that is counted as failed in :meth:`stats`.

        Args:
            path: The file or directory.
            name: Its destination in the run's artifacts (``"models/best.pt"``); default:
                the file's name, or for a directory its contents go under its name.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: ``name`` is empty or contains ``..``.
        """
        if not self._accepting:
            self._ignored("log_artifact")
            return
        from pathlib import Path

        from tracelet.records import Artifact

        resolved = Path(path).expanduser().resolve()
        if not resolved.exists():
            raise FileNotFoundError(f"log_artifact: {os.fspath(path)!r} does not exist")
        dest = (name or resolved.name).strip("/")
        if not dest or ".." in Path(dest).parts:
            raise ValueError(f"log_artifact: invalid artifact name {name!r}")
        self._enqueue(Artifact(resolved, dest, resolved.is_dir()))

    def log_text(self, name: str, text: str, step: int | None = None) -> None:
        """Log a piece of text at a step (default: this name's next automatic step).

        Raises:
            TypeError: ``text`` is not a str, ``name`` not a non-empty string, or ``step`` not
                a whole number.
        """
        if not self._accepting:
            self._ignored("log_text")
            return
        if not isinstance(text, str):
            raise TypeError(f"log_text {name!r}: text must be a str, got {type(text).__name__}")
        name = check_name(name, "text")
        from tracelet.records import Text

        self._enqueue(Text(name, text, self._media_step("text", name, step), _time()))

    def log_image(
        self, name: str, image: Any, step: int | None = None, caption: str | None = None
    ) -> None:
        """Log an image at a step.

        Args:
            image: An array or tensor (``HW``, ``HWC`` or ``CHW``; uint8, or floats in 0..1),
                a PIL image, PNG bytes or a path to a PNG file. It is encoded now, so it may
                change after the call.

        Raises:
            TypeError, ValueError: The image cannot be read (see :func:`tracelet.media.image_png`).
        """
        if not self._accepting:
            self._ignored("log_image")
            return
        name = check_name(name, "image")
        from tracelet import media
        from tracelet.records import Image

        png, width, height = media.image_png(image)
        self._enqueue(
            Image(name, png, width, height, self._media_step("image", name, step), _time(), caption)
        )

    def log_histogram(
        self, name: str, values: Any, step: int | None = None, bins: int = _DEFAULT_HISTOGRAM_BINS
    ) -> None:
        """Log the distribution of ``values`` (a sequence, array or tensor) at a step.

        NaN and infinite values are left out of the bins.

        Raises:
            TypeError, ValueError: See :func:`tracelet.media.histogram`.
        """
        if not self._accepting:
            self._ignored("log_histogram")
            return
        name = check_name(name, "histogram")
        from tracelet import media
        from tracelet.records import Histogram

        edges, counts, finite = media.histogram(values, bins)
        self._enqueue(
            Histogram(
                name, edges, counts, self._media_step("histogram", name, step), _time(), finite
            )
        )

    def log_figure(self, name: str, figure: Any, step: int | None = None) -> None:
        """Log a matplotlib figure (rendered to PNG now) or a plotly figure (as JSON).

        Raises:
            TypeError: ``figure`` is neither.
        """
        if not self._accepting:
            self._ignored("log_figure")
            return
        name = check_name(name, "figure")
        from tracelet import media
        from tracelet.records import Figure

        png, plotly_json = media.figure_payload(figure)
        self._enqueue(
            Figure(name, self._media_step("figure", name, step), _time(), png, plotly_json)
        )

    def _media_step(self, kind: str, name: str, step: int | None) -> int:
        """The step of a media record: as given, or this name's next automatic media step."""
        if step is None:
            # Media steps are counted apart from metric steps of the same name.
            return self._next_auto_step(f"\x00media:{name}")
        return step_value(step, f"{kind} {name!r}")

    def _enqueue(self, record: Any) -> None:
        buffer = self._buffer
        buffer.append(record)
        dispatcher = self._dispatcher
        if len(buffer) >= dispatcher.wake_at:
            dispatcher.pressure()

    # -- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every backend has written (and flushed) everything logged so far.

        Args:
            timeout: Seconds to wait at most; ``None`` waits until done.

        Returns:
            True if every backend confirmed in time (and always for a stopped or no-op run,
            which has nothing left to flush); False otherwise (the records stay queued; see
            :meth:`stats`).
        """
        if self._status != "running" or not self._owned():
            return True
        return self._dispatcher.flush(timeout)

    def stop(self, status: RunStatus = "finished", timeout: float | None = None) -> bool:
        """Stop collectors, deliver what is queued, close every backend with ``status``.

        Calling it again does nothing. In a forked child process it only detaches the copy.

        Args:
            status: ``"finished"``, ``"failed"`` or ``"killed"``.
            timeout: Seconds for the whole stop; default: the ``shutdown_timeout`` setting.

        Returns:
            True if every backend received everything and closed in time. Otherwise what was
            left is counted in :meth:`stats` and logged as a warning.

        Raises:
            ValueError: ``status`` is not one of the three.
        """
        from tracelet.records import RUN_STATUSES

        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}; got {status!r}")
        with self._lock:
            if self._status != "running":
                return self._stop_result
            self._status = status
        if self._on_stop is not None:
            self._on_stop(self)
        if not self._owned() or self._inert_reason is not None:
            self._accepting = False
            return True
        try:
            for collector in self._collectors:
                try:
                    collector.stop()
                except Exception:
                    logger.exception("tracelet: a collector failed to stop")
            self._accepting = False
            if timeout is None:
                timeout = self._resolved.model.shutdown_timeout if self._resolved else 30.0
            ok = self._dispatcher.shutdown(status, timeout)
        except KeyboardInterrupt:
            self._abandon(status)
            raise
        if not ok:
            self._report_gaps()
        self._stop_result = ok
        return ok

    def _abandon(self, status: RunStatus) -> None:
        """Ctrl-C while stopping: stop waiting, close what can be closed (the journal first of
        all), say what is left. Done once, however many times it is asked."""
        if self._abandoned:
            return
        self._abandoned = True
        with self._lock:
            if self._status == "running":  # interrupted before stop got going
                self._status = status
        self._accepting = False
        self._stop_result = False
        self._dispatcher.abandon(status)
        self._report_gaps()

    def pending(self) -> dict[str, int]:
        """Records each backend has not received yet (queued or being retried)."""
        return {name: s.pending for name, s in self.stats().items() if s.pending}

    def _report_gaps(self) -> None:
        """Warn, per backend, about what it did not receive, and how to deliver it later."""
        later = False
        for name, s in self.stats().items():
            if s.pending or s.failed or s.dropped or s.undelivered:
                later = later or s.undelivered > 0 or s.pending > 0
                logger.warning(
                    "tracelet: backend %r did not receive everything: %d delivered, "
                    "%d undelivered, %d pending, %d failed, %d dropped; last error: %s",
                    name,
                    s.delivered,
                    s.undelivered,
                    s.pending,
                    s.failed,
                    s.dropped,
                    s.last_error,
                )
        if later and self._journal_path is not None:
            import shlex

            logger.warning(
                "tracelet: the journal holds every record; deliver the rest with: tracelet sync %s",
                shlex.quote(str(self._journal_path)),
            )

    def stats(self) -> dict[str, BackendStats]:
        """Delivery counts per backend (see :class:`tracelet.dispatch.BackendStats`).

        Empty for a no-op run, including the copy of a run in a forked child process.
        """
        return self._dispatcher.stats()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or (
            issubclass(exc_type, SystemExit) and getattr(exc, "code", 1) in (None, 0)
        ):
            self.stop("finished")  # sys.exit() / sys.exit(0) is a normal end
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop("killed")
        else:
            self.stop("failed")

    def __repr__(self) -> str:
        return (
            f"<tracelet.Run {self.name!r} project={self.project!r} "
            f"backends={list(self.backends)} status={self._status}>"
        )

    # -- internals -----------------------------------------------------------------------------

    def _owned(self) -> bool:
        return os.getpid() == self._pid

    def _attach_collectors(self, collectors: list[Collector]) -> None:
        self._collectors = collectors

    def _detach_after_fork(self) -> None:
        """In a forked child: make this copy inert so nothing is sent twice.

        The copy drops its dispatcher: its threads do not exist in the child, and its locks
        may have been held by them at the fork.
        """
        self._inert_reason = "forked child"
        self._accepting = False
        self._lock = threading.RLock()
        self._buffer.clear()
        self._dispatcher = InertDispatcher()
        self._buffer = self._dispatcher.buffer

    def _ignored(self, call: str) -> None:
        if self._inert_reason == "non-zero rank":
            return
        if self._inert_reason == "forked child":
            self._warn_once(
                "fork",
                "tracelet: %s in a forked child process (pid %d) is ignored: the run "
                "belongs to its parent. Log from the parent, or start a run in the child.",
                call,
                os.getpid(),
            )
            return
        self._warn_once(
            "stopped",
            "tracelet: %s on run %r after it stopped (%s) is ignored",
            call,
            self.name,
            self._status,
        )

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)


def _step_and_iteration(call: str) -> TypeError:
    return TypeError(
        f"{call} takes step= or iteration= (its earlier name), not both; pass only step="
    )


class InertDispatcher:
    """The dispatcher of a run that sends nothing (a non-zero rank, the copy of a run in a
    forked child): every request succeeds at once and nothing is ever queued."""

    def __init__(self) -> None:
        self.buffer: deque[Any] = deque()
        self.wake_at = sys.maxsize

    def pressure(self) -> None:
        self.buffer.clear()

    def count_dropped(self, count: int = 1) -> None:
        """Nothing is counted: the run sends nothing."""

    def flush(self, timeout: float | None) -> bool:
        return True

    def shutdown(self, status: RunStatus, timeout: float) -> bool:
        return True

    def abandon(self, status: RunStatus, grace: float = 2.0) -> None:
        """Nothing to stop waiting for."""

    def stats(self) -> dict[str, BackendStats]:
        return {}
