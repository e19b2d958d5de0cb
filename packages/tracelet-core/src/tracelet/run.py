"""The :class:`Run`: what the training loop calls.

The logging methods only validate and append to the dispatcher's buffer; they never block on
I/O (unless ``overflow_policy="block"`` and a backend is far behind). They never raise because
of a backend: delivery problems show up in :meth:`Run.stats` and the ``tracelet`` logger. They
do raise, at once, for a programming error in the call itself (a string where a number is
expected, a missing file), so it is caught on the first step rather than silently lost.

The class is assembled from three modules, one job each: this one holds the run's state, its
identity and the metric hot path (``log_metric``, ``log_metrics`` and their automatic steps);
:mod:`tracelet.run_records` the other logging calls (params, tags, artifacts, media);
:mod:`tracelet.run_lifecycle` flush, stop, statistics and the handling of a run that no longer
accepts calls (stopped, non-zero rank, forked child).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from itertools import count
from types import TracebackType
from typing import TYPE_CHECKING

from tracelet.run_lifecycle import InertDispatcher, RunLifecycle
from tracelet.run_records import RecordCalls
from tracelet.values import STEP_MAX, STEP_MIN, check_name, metric_value, step_value

# The record types, media encoders and pathlib load on first use of the calls that need them:
# the metric hot path needs none of them, and `import tracelet` stays cheap.
if TYPE_CHECKING:
    from pathlib import Path

    from tracelet.backend import Backend, RunInfo, RunLink
    from tracelet.collector import Collector
    from tracelet.dispatch import Dispatcher
    from tracelet.settings import ResolvedSettings

__all__ = ["InertDispatcher", "Run"]

_time = time.time
_STEP_MIN, _STEP_MAX = STEP_MIN, STEP_MAX


class Run(RecordCalls, RunLifecycle):
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

    # -- context manager -----------------------------------------------------------------------

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


def _step_and_iteration(call: str) -> TypeError:
    return TypeError(
        f"{call} takes step= or iteration= (its earlier name), not both; pass only step="
    )
