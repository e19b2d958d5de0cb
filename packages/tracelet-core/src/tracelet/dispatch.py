"""The non-blocking path from a logging call to every backend.

Three stages, modelled on OpenTelemetry's batch processor:

1. **The caller** (the training loop) appends a record to one shared, bounded ``deque``. That
   is all it does: no I/O, no lock. When the buffer reaches ``batch_size`` it wakes the router
   (once per batch, not once per call).
2. **The router** thread wakes every ``flush_interval`` seconds or when woken, takes the
   records out of the buffer in order, turns them into :class:`~tracelet.records.Batch`
   objects of at most ``batch_size`` records and hands each backend's worker the part it
   declared it can store.
3. **One worker per backend** writes batches, retrying a failed write with exponential backoff
   while keeping the batch, so a slow, failing or hung backend delays nobody but itself. Each
   worker's queue is bounded too; ``overflow_policy`` decides what happens when it is full,
   and every drop is counted.

``flush`` and ``shutdown`` take a deadline: they return when every worker has written what was
logged before the call, or when the deadline passes, whichever comes first; a worker still
failing just before the shutdown deadline gives up, counts the rest as failed and closes its
backend. A write that hangs is never interrupted: its records stay counted as pending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracelet.errors import RejectedError
from tracelet.records import (
    Artifact,
    Batch,
    Capability,
    Param,
    RunStatus,
    Tag,
)

if TYPE_CHECKING:
    from tracelet.backend import Backend
    from tracelet.settings.model import OverflowPolicy

logger = logging.getLogger("tracelet.dispatch")

#: First wait before retrying a failed write, in seconds; doubles up to RETRY_MAX_BACKOFF.
RETRY_INITIAL_BACKOFF = 0.25
#: Longest wait between two attempts at the same batch, in seconds.
RETRY_MAX_BACKOFF = 10.0
#: At shutdown, failing writes are given up this long (or 10% of the timeout, if less) before
#: the deadline, so that every backend can still be closed in time.
CLOSE_RESERVE = 1.0


@dataclass(frozen=True, slots=True)
class BackendStats:
    """Delivery counts of one backend, in records (a metric point is one record).

    Attributes:
        delivered: Written by the backend.
        pending: Logged but not yet written (queued, or in a write being retried).
        dropped: Discarded by ``overflow_policy`` because a queue was full, or NaN/inf
            metrics discarded by ``nan_policy="drop"``.
        failed: Refused by the backend, or still unwritten when the run's shutdown deadline
            passed.
        unsupported: Not sent because the backend does not store that kind of record.
        retries: Failed write attempts that were retried.
        last_error: The last error the backend raised, if any.
    """

    delivered: int
    pending: int
    dropped: int
    failed: int
    unsupported: int
    retries: int
    last_error: str | None


class _Marker:
    """A point in a worker's queue; set once the worker has done everything before it."""

    __slots__ = ("event", "ok")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = True


class _Close(_Marker):
    __slots__ = ("status",)

    def __init__(self, status: RunStatus) -> None:
        super().__init__()
        self.status = status


class BackendWorker:
    """Writes batches to one backend from its own daemon thread."""

    def __init__(
        self, name: str, backend: Backend, *, max_pending: int, overflow_policy: OverflowPolicy
    ) -> None:
        self.name = name
        self.backend = backend
        self.capabilities: frozenset[Capability] = frozenset(backend.capabilities)
        self.max_pending = max_pending
        self.overflow_policy = overflow_policy
        self._inbox: deque[Batch | _Marker] = deque()
        self._cond = threading.Condition()
        self._hurry = threading.Event()  # cuts a retry backoff short at shutdown
        self._deadline: float | None = None  # once closing: give up retrying after this
        self._given_up = False  # the backend still failed at the deadline: fail the rest
        self.pending = 0
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self.unsupported = 0
        self.retries = 0
        self.last_error: str | None = None
        self._warned_unsupported: set[str] = set()
        self._warned_overflow = False
        self._thread = threading.Thread(
            target=self._run, name=f"tracelet-backend-{name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    # -- called by the router ------------------------------------------------------------------

    def put(self, batch: Batch) -> None:
        """Queue a batch, applying the overflow policy when the worker is ``max_pending`` full."""
        size = len(batch)
        with self._cond:
            if self.overflow_policy == "block":
                # Once the run is closing nothing new can be logged, so the queue cannot grow
                # without bound: stop waiting and let everything go out before the deadline.
                while (
                    self.pending + size > self.max_pending
                    and self.pending > 0
                    and self._deadline is None
                ):
                    self._cond.wait(0.1)
            elif self.pending + size > self.max_pending:
                self._overflow(size)
                if self.overflow_policy == "drop_newest":
                    self.dropped += size
                    self._cond.notify_all()
                    return
            self._inbox.append(batch)
            self.pending += size
            self._cond.notify_all()

    def _overflow(self, incoming: int) -> None:
        if not self._warned_overflow:
            self._warned_overflow = True
            logger.warning(
                "backend %r is not keeping up: more than %d records waiting; applying "
                "overflow_policy=%s (drops are counted in run.stats())",
                self.name,
                self.max_pending,
                self.overflow_policy,
            )
        if self.overflow_policy != "drop_oldest":
            return
        while self.pending + incoming > self.max_pending:
            oldest = next((i for i in self._inbox if isinstance(i, Batch)), None)
            if oldest is None:
                return
            self._inbox.remove(oldest)
            self.pending -= len(oldest)
            self.dropped += len(oldest)

    def put_marker(self, marker: _Marker) -> None:
        with self._cond:
            self._inbox.append(marker)
            self._cond.notify_all()

    def count_unsupported(self, kinds: frozenset[Capability], count: int) -> None:
        self.unsupported += count
        for kind in sorted(kinds - self._warned_unsupported):
            self._warned_unsupported.add(kind)
            logger.warning(
                "backend %r does not store %s; those records are not sent to it "
                "(reported once; counted in run.stats()['%s'].unsupported)",
                self.name,
                kind,
                self.name,
            )

    def begin_close(self, deadline: float) -> None:
        """Shutdown started: stop blocking the router, cut a retry wait short, set the deadline."""
        with self._cond:
            self._deadline = deadline
            self._cond.notify_all()
        self._hurry.set()

    def join(self, deadline: float) -> bool:
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    def stats(self, buffered: int) -> BackendStats:
        with self._cond:  # a consistent snapshot: _settle moves pending to delivered/failed
            return BackendStats(
                delivered=self.delivered,
                pending=self.pending + buffered,
                dropped=self.dropped,
                failed=self.failed,
                unsupported=self.unsupported,
                retries=self.retries,
                last_error=self.last_error,
            )

    # -- the worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._inbox:
                    self._cond.wait()
                item = self._inbox.popleft()
                self._cond.notify_all()
            if isinstance(item, Batch):
                if self._given_up:
                    self._settle(len(item), delivered=0, failed=len(item))
                else:
                    self._write(item)
            elif isinstance(item, _Close):
                self._close(item)
                return
            else:
                self._flush(item)

    def _write(self, batch: Batch) -> None:
        size = len(batch)
        backoff = RETRY_INITIAL_BACKOFF
        while True:
            try:
                self.backend.write(batch)
            except RejectedError as exc:
                refused = min(max(exc.count, 0), size)
                self._settle(size, delivered=size - refused, failed=refused)
                self.last_error = f"RejectedError: {exc}"
                logger.warning("backend %r refused %d record(s): %s", self.name, refused, exc)
                return
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                deadline = self._deadline
                if deadline is not None and time.monotonic() >= deadline:
                    self._given_up = True
                    self._settle(size, delivered=0, failed=size)
                    logger.error(
                        "backend %r: giving up at the shutdown deadline; %d record(s) and "
                        "everything still queued are counted as failed: %s",
                        self.name,
                        size,
                        self.last_error,
                    )
                    return
                self.retries += 1
                level = (
                    logging.WARNING
                    if self.retries == 1 or backoff >= RETRY_MAX_BACKOFF
                    else logging.DEBUG
                )
                logger.log(
                    level,
                    "backend %r: write of %d record(s) failed (%s); retrying in %.2gs",
                    self.name,
                    size,
                    self.last_error,
                    backoff,
                )
                self._pause(backoff)
                backoff = min(backoff * 2, RETRY_MAX_BACKOFF)
                continue
            self._settle(size, delivered=size, failed=0)
            return

    def _pause(self, seconds: float) -> None:
        """Wait before retrying: the start of shutdown cuts the wait short (once), and while
        closing no wait runs past the deadline."""
        deadline = self._deadline
        if deadline is None:
            self._hurry.wait(seconds)
            return
        # Not the hurry event: it stays set once closing, and waiting on it would turn the
        # backoff into a busy loop hammering a backend that is down until the deadline.
        time.sleep(max(0.0, min(seconds, deadline - time.monotonic())))

    def _settle(self, size: int, *, delivered: int, failed: int) -> None:
        with self._cond:
            self.pending -= size
            self.delivered += delivered
            self.failed += failed
            self._cond.notify_all()

    def _flush(self, marker: _Marker) -> None:
        try:
            self.backend.flush()
        except Exception as exc:
            marker.ok = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("backend %r: flush failed: %s", self.name, self.last_error)
        marker.event.set()

    def _close(self, marker: _Close) -> None:
        try:
            self.backend.close(marker.status)
        except Exception as exc:
            marker.ok = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("backend %r: close failed: %s", self.name, self.last_error)
        marker.event.set()


class Dispatcher:
    """The shared buffer, the router thread and one :class:`BackendWorker` per backend.

    The :class:`~tracelet.Run` appends to :attr:`buffer` directly and calls :meth:`pressure`
    when ``len(buffer) >= wake_at``.
    """

    def __init__(
        self,
        backends: dict[str, Backend],
        *,
        batch_size: int,
        flush_interval: float,
        max_queue_size: int,
        overflow_policy: OverflowPolicy,
    ) -> None:
        self.buffer: deque[Any] = deque()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.overflow_policy = overflow_policy
        # A batch never holds more than a worker may queue: drop_newest would otherwise drop
        # a whole batch bound for an idle backend.
        self._batch_limit = max(1, min(batch_size, max_queue_size))
        #: Buffer length at which the caller calls :meth:`pressure`.
        self.wake_at = self._batch_limit
        self.dropped = 0  # records dropped from the shared buffer (all backends)
        self.workers = {
            name: BackendWorker(
                name, backend, max_pending=max_queue_size, overflow_policy=overflow_policy
            )
            for name, backend in backends.items()
        }
        self._wake = threading.Event()
        self._drained = threading.Event()
        self._requests: deque[tuple[str, Any]] = deque()
        self._control = threading.Lock()  # orders flush requests against the close request
        self._closing = False  # shutdown was called: no more flush requests
        self._closed = False  # the router has routed its last records
        self._warned_overflow = False
        self._thread = threading.Thread(target=self._run, name="tracelet-router", daemon=True)

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()
        self._thread.start()

    # -- called from the logging thread --------------------------------------------------------

    def pressure(self) -> None:
        """The buffer reached ``wake_at``: wake the router, or apply the overflow policy."""
        buffer = self.buffer
        if len(buffer) <= self.max_queue_size:
            self.wake_at = self.max_queue_size + 1  # until the router drains: no more wakes
            self._wake.set()
            return
        if not self._warned_overflow:
            self._warned_overflow = True
            logger.warning(
                "tracelet: more than %d records are waiting to be routed; applying "
                "overflow_policy=%s (drops are counted in run.stats())",
                self.max_queue_size,
                self.overflow_policy,
            )
        if self.overflow_policy == "block":
            while len(buffer) > self.max_queue_size and not self._closed:
                self._drained.clear()
                self._wake.set()
                self._drained.wait(0.05)
            return
        # log_metrics appends several records before it calls here: drop down to the bound.
        pop = buffer.popleft if self.overflow_policy == "drop_oldest" else buffer.pop
        while len(buffer) > self.max_queue_size:
            try:
                pop()
            except IndexError:  # the router emptied it meanwhile
                break
            self.dropped += 1
        self._wake.set()

    def count_dropped(self, count: int = 1) -> None:
        """Count records the run discarded before queueing (``nan_policy="drop"``)."""
        self.dropped += count

    # -- control -------------------------------------------------------------------------------

    def flush(self, timeout: float | None) -> bool:
        """Wait until every backend has written and flushed what was logged before the call.

        Returns:
            True if all did within ``timeout`` seconds (``None``: wait as long as it takes).
            Once :meth:`shutdown` was called: whether nothing is pending any more.
        """
        markers = {name: _Marker() for name in self.workers}
        done = threading.Event()
        with self._control:
            if self._closing:  # the router will not take requests any more
                return all(w.pending == 0 for w in self.workers.values())
            self._requests.append(("flush", (markers, done)))
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        if not done.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
            return False
        for marker in markers.values():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not marker.event.wait(remaining):
                return False
        return all(m.ok for m in markers.values())

    def shutdown(self, status: RunStatus, timeout: float) -> bool:
        """Drain everything to the backends, close them with ``status``, stop the threads.

        A backend whose writes still fail stops being retried at 90% of ``timeout`` (at most
        :data:`CLOSE_RESERVE` seconds before the end), which leaves it the time to close and
        to count what it could not write as failed before this returns.

        Returns:
            True if every backend received everything and closed within ``timeout`` seconds.
        """
        now = time.monotonic()
        deadline = now + timeout
        give_up_at = deadline - min(CLOSE_RESERVE, 0.1 * timeout)
        closes = {name: _Close(status) for name in self.workers}
        routed = threading.Event()
        with self._control:
            again = self._closing
            self._closing = True
            if not again:
                self._requests.append(("close", (closes, routed)))
        if again:  # a second call only waits for the first one's threads
            return all(w.join(deadline) for w in self.workers.values()) and all(
                w.pending == 0 and w.failed == 0 for w in self.workers.values()
            )
        # Set the deadline now rather than when the router gets to the request: a router
        # blocked on a full queue (overflow_policy="block") must stop waiting first.
        for worker in self.workers.values():
            worker.begin_close(give_up_at)
        self._wake.set()
        routed.wait(max(0.0, deadline - time.monotonic()))
        ok = routed.is_set()
        for name, worker in self.workers.items():
            ok = worker.join(deadline) and ok
            ok = closes[name].ok and ok
        return ok and all(w.pending == 0 and w.failed == 0 for w in self.workers.values())

    def stats(self) -> dict[str, BackendStats]:
        buffered = len(self.buffer)
        out = {}
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
            )
        return out

    # -- the router thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.wake_at = self._batch_limit
            self._safe_route()
            while self._requests:
                kind, payload = self._requests.popleft()
                # Route again: records logged just before this request must go out before it.
                self._safe_route()
                if kind == "flush":
                    markers, done = payload
                    for name, worker in self.workers.items():
                        worker.put_marker(markers[name])
                    done.set()
                else:
                    closes, routed = payload
                    self._closed = True
                    for name, worker in self.workers.items():
                        worker.put_marker(closes[name])
                    routed.set()
                    return

    def _safe_route(self) -> None:
        try:
            self._route()
        except Exception:  # never let the router die: the run would stop delivering
            logger.exception("tracelet: internal error while routing records")
        self._drained.set()

    def _route(self) -> None:
        buffer = self.buffer
        popleft = buffer.popleft
        limit = self._batch_limit
        while buffer:
            batch = Batch()
            metrics, n = batch.metrics, 0
            while n < limit:
                try:
                    record = popleft()
                except IndexError:
                    break
                n += 1
                if type(record) is tuple:
                    metrics.append(record)
                elif isinstance(record, Param):
                    batch.params.append(record)
                elif isinstance(record, Tag):
                    batch.tags.append(record)
                elif isinstance(record, Artifact):
                    batch.artifacts.append(record)
                else:
                    batch.media.append(record)
            if n:
                self._send(batch)

    def _send(self, batch: Batch) -> None:
        kinds = batch.kinds()
        for worker in self.workers.values():
            caps = worker.capabilities
            if kinds <= caps:
                worker.put(batch)
                continue
            part = batch.restricted_to(caps)
            worker.count_unsupported(kinds - caps, len(batch) - len(part))
            if len(part):
                worker.put(part)
