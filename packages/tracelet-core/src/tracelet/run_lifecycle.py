"""The life cycle of a :class:`~tracelet.run.Run`: flush, stop, abandon, statistics, and what
happens to a run that no longer accepts calls.

``stop`` stops the collectors, then asks the dispatcher to deliver what is queued and close
every backend within one time budget; what a backend did not receive is logged per backend with
the ``tracelet sync`` command that delivers it from the journal. A run that is stopped, belongs
to a non-zero rank or is the copy left in a forked child ignores logging calls, with one
warning (none for a non-zero rank). :class:`InertDispatcher` stands in for the dispatcher of a
run that sends nothing. :class:`RunLifecycle` is a base class of :class:`~tracelet.run.Run`
and holds no state of its own.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from pathlib import Path

    from tracelet.collector import Collector
    from tracelet.dispatch import BackendStats, Dispatcher
    from tracelet.records import RunStatus
    from tracelet.run import Run
    from tracelet.settings import ResolvedSettings

logger = logging.getLogger("tracelet")


class RunLifecycle:
    """Stopping, flushing and reporting of a :class:`~tracelet.run.Run`."""

    if TYPE_CHECKING:
        # Provided by tracelet.run.Run (the attributes are its slots).
        _abandoned: bool
        _accepting: bool
        _buffer: deque[Any]
        _collectors: list[Collector]
        _dispatcher: Dispatcher | InertDispatcher
        _inert_reason: str | None
        _journal_path: Path | None
        _lock: threading.RLock
        _on_stop: Callable[[Run], None] | None
        _pid: int
        _resolved: ResolvedSettings | None
        _status: str
        _stop_result: bool
        _warned: set[str]

        @property
        def name(self) -> str: ...
    else:
        # No __dict__ either: hidden from mypy, which would otherwise refuse assignments to
        # Run's slots in this class.
        __slots__ = ()

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
            self._on_stop(cast("Run", self))
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
