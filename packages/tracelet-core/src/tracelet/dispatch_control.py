"""The control side of the :class:`~tracelet.dispatch.Dispatcher`: flush, shutdown, abandon, stats.

These run on the caller's thread. ``flush`` and ``shutdown`` queue one message for the router
(:class:`FlushAll`, :class:`CloseAll`), which carries it out after routing everything logged
before it, and then wait on the events the router and the workers set, within one deadline.
``abandon`` (a second Ctrl-C while stopping) stops every worker from starting another write and
waits only for the journal to close. ``stats`` reads each worker's counts and adds the shared
buffer's. :class:`DispatchControl` is a base class of the Dispatcher and holds no state of its
own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracelet.delivery import BackendStats, CloseRequest, FlushRequest
from tracelet.records import RunStatus

if TYPE_CHECKING:
    from tracelet.delivery import BackendWorker

logger = logging.getLogger("tracelet.dispatch")

#: At shutdown, failing writes are given up this long (or 10% of the timeout, if less) before
#: the deadline, so that every backend can still be closed in time.
CLOSE_RESERVE = 1.0
#: Longest :meth:`Dispatcher.abandon` waits for the router to close the journal (seconds). It is
#: local and its writes give up once abandoned, so this is reached only on a stuck disk.
JOURNAL_CLOSE_WAIT = 30.0


@dataclass(slots=True)
class FlushAll:
    """Flush the journal and every backend once what was logged before is routed."""

    requests: dict[str, FlushRequest]
    routed: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class CloseAll:
    """Route what is left, close the journal and every backend with ``status``, end the
    router."""

    status: RunStatus
    requests: dict[str, CloseRequest]
    routed: threading.Event = field(default_factory=threading.Event)


class DispatchControl:
    """Flushing, stopping and counting a :class:`~tracelet.dispatch.Dispatcher`."""

    if TYPE_CHECKING:
        # Set by tracelet.dispatch.Dispatcher.
        buffer: deque[Any]
        workers: dict[str, BackendWorker]
        journal_name: str | None
        _requests: deque[FlushAll | CloseAll]
        _control: threading.Lock
        _closing: bool
        _close_message: CloseAll | None
        _give_up_at: float | None
        _wake: threading.Event
        _journal_written: int
        _journal_failed: int
        _journal_retries: int
        _journal_error: str | None

        @property
        def dropped(self) -> int: ...

    def flush(self, timeout: float | None) -> bool:
        """Wait until the journal and every backend have written and flushed what was logged
        before the call.

        Returns:
            True if all did within ``timeout`` seconds (``None``: wait as long as it takes).
            Once :meth:`shutdown` was called: whether nothing is pending any more.
        """
        message = FlushAll({name: FlushRequest() for name in self.workers})
        with self._control:
            if self._closing:  # the router will not take requests any more
                return all(w.pending == 0 for w in self.workers.values())
            self._requests.append(message)
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if not message.routed.wait(remaining()):
            return False
        for request in message.requests.values():
            if not request.done.wait(remaining()):
                return False
        return all(r.ok for r in message.requests.values())

    def shutdown(self, status: RunStatus, timeout: float) -> bool:
        """Drain everything to the backends, close them with ``status``, stop the threads.

        A backend whose writes still fail stops being retried at 90% of ``timeout`` (at most
        :data:`CLOSE_RESERVE` seconds before the end), which leaves it the time to close before
        this returns. What a backend did not get is then counted as undelivered (with a
        journal) or failed (without).

        Returns:
            True if every backend received everything and closed within ``timeout`` seconds.
        """
        now = time.monotonic()
        deadline = now + timeout
        message = self._request_close(status, deadline - min(CLOSE_RESERVE, 0.1 * timeout))
        if message is None:  # a second call only waits for the first one's threads
            for worker in self.workers.values():
                worker.join(deadline)
            return self._complete()
        message.routed.wait(max(0.0, deadline - time.monotonic()))
        ok = message.routed.is_set()
        for name, worker in self.workers.items():
            if not worker.join(deadline):
                ok = False
                worker.give_up_pending()
            ok = message.requests[name].ok and ok
        return ok and self._complete()

    def _request_close(self, status: RunStatus, give_up_at: float) -> CloseAll | None:
        """Queue the close request (``None`` if one is queued already) and set the time at
        which failing writes give up."""
        message = CloseAll(status, {name: CloseRequest(status) for name in self.workers})
        with self._control:
            if self._closing:
                return None
            self._closing = True
            self._close_message = message
            self._requests.append(message)
        # Set the deadline now rather than when the router gets to the request: a router
        # blocked on a full queue (overflow_policy="block") must stop waiting first.
        self._give_up_at = give_up_at
        for worker in self.workers.values():
            worker.begin_close(give_up_at)
        self._wake.set()
        return message

    def abandon(self, status: RunStatus, grace: float = 2.0) -> None:
        """Stop waiting (a second Ctrl-C while stopping): no worker starts another write, each
        backend gets ``grace`` seconds to finish the write it is in and close with ``status``
        (the close is requested now if :meth:`shutdown` had not got that far), and what is
        left counts as undelivered (failed without a journal)."""
        now = time.monotonic()
        for worker in self.workers.values():
            worker.stop_writing()
        self._request_close(status, now)
        self._give_up_at = now
        for worker in self.workers.values():
            worker.begin_close(now)
        # Whoever queued the close (shutdown, usually, which this interrupts), wait for the
        # router to carry it out: the journal is local, its writes give up from now on, and
        # a process that exits before the close leaves its run folder 'running'.
        close = self._close_message
        if close is not None and not close.routed.wait(JOURNAL_CLOSE_WAIT):
            logger.error(
                "tracelet: the journal was not closed within %gs; `tracelet sync` still "
                "delivers what it holds",
                JOURNAL_CLOSE_WAIT,
            )
        deadline = now + grace
        for worker in self.workers.values():
            if not worker.join(deadline):
                worker.give_up_pending()

    def _complete(self) -> bool:
        return self._journal_failed == 0 and all(
            w.pending == 0 and w.failed == 0 and w.undelivered == 0 for w in self.workers.values()
        )

    def stats(self) -> dict[str, BackendStats]:
        buffered = len(self.buffer)
        out = {}
        if self.journal_name is not None:
            out[self.journal_name] = BackendStats(
                delivered=self._journal_written,
                pending=buffered,
                dropped=self.dropped,
                failed=self._journal_failed,
                unsupported=0,
                retries=self._journal_retries,
                last_error=self._journal_error,
            )
        for name, worker in self.workers.items():
            s = worker.stats(buffered)
            out[name] = BackendStats(
                delivered=s.delivered,
                pending=s.pending,
                dropped=s.dropped + self.dropped,
                failed=s.failed,
                unsupported=s.unsupported,
                retries=s.retries,
                last_error=s.last_error,
                undelivered=s.undelivered,
            )
        return out
