"""The non-blocking path from a logging call to every backend.

Three stages, modelled on OpenTelemetry's batch processor:

1. **The caller** (the training loop) appends a record to one shared, bounded ``deque``. That
   is all it does: no I/O, no lock. When the buffer reaches ``batch_size`` it wakes the router
   (once per batch, not once per call). When the buffer is ``max_queue_size`` full,
   ``overflow_policy`` applies: by default the caller waits (``block``), so nothing is lost.
2. **The router** thread wakes every ``flush_interval`` seconds or when woken, takes the
   records out of the buffer in order and turns them into :class:`~tracelet.records.Batch`
   objects of at most ``batch_size`` records. It appends each batch to the **journal** (the
   local run folder, :mod:`tracelet.journal`), which gives every record its ``seq``, and only
   then hands each backend's worker the part it declared it can store, with the batch's place
   in the journal.
3. **One worker per backend** (:mod:`tracelet.delivery`) writes batches in journal order,
   retrying a failed write with backoff, and saves its cursor after every acknowledged write.
   A worker that falls behind reads the journal instead of holding records in memory.

``flush`` and ``shutdown`` take a deadline: they return when every worker has written what was
logged before the call, or when the deadline passes, whichever comes first; a worker still
failing just before the shutdown deadline gives up and closes its backend, and what it had not
written is counted as undelivered (``tracelet sync`` delivers it from the journal). A write that
hangs is never interrupted.

With ``journal: false`` there is no run folder unless ``local`` is selected: the router hands
batches straight to the workers, whose queues apply ``overflow_policy``, and a record a backend
did not take before the end is lost.
The router (this module) and the flush/shutdown/abandon requests with the counts
(:mod:`tracelet.dispatch_control`) are the two halves of :class:`Dispatcher`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from itertools import repeat
from typing import TYPE_CHECKING, Any

from tracelet.delivery import (
    RETRY_INITIAL_BACKOFF,
    RETRY_MAX_BACKOFF,
    BackendStats,
    BackendWorker,
    JournalFeed,
    Routed,
)
from tracelet.dispatch_control import CLOSE_RESERVE, CloseAll, DispatchControl, FlushAll
from tracelet.errors import RejectedError
from tracelet.journal import JournalReader, Position
from tracelet.overflow import Overflow
from tracelet.records import Artifact, Batch, Param, Tag
from tracelet.threads import TraceletThread

if TYPE_CHECKING:
    from tracelet.backend import Backend
    from tracelet.backends.local import LocalBackend
    from tracelet.delivery_state import DeliveryState
    from tracelet.settings.model import OverflowPolicy

__all__ = ["CLOSE_RESERVE", "BackendStats", "Dispatcher"]

logger = logging.getLogger("tracelet.dispatch")

#: Most records a backend's worker holds in memory when there is a journal; further behind, it
#: reads the journal.
LIVE_QUEUE_LIMIT = 100_000


class Dispatcher(DispatchControl):
    """The shared buffer, the router thread, the journal and one worker per backend.

    The :class:`~tracelet.Run` appends to :attr:`buffer` directly and calls :meth:`pressure`
    when ``len(buffer) >= wake_at``.

    Args:
        backends: The started backends, by name (the journal's ``local`` backend not among them).
        journal: The started ``local`` backend that writes the run folder, or ``None``.
        states: With a journal, each backend's delivery state (its cursor is saved there).
        journal_name: The name the journal's counts appear under in :meth:`stats` (``"local"``
            when the user selected it), or ``None`` to leave them out.
    """

    def __init__(
        self,
        backends: dict[str, Backend],
        *,
        batch_size: int,
        flush_interval: float,
        max_queue_size: int,
        overflow_policy: OverflowPolicy,
        journal: LocalBackend | None = None,
        states: dict[str, DeliveryState] | None = None,
        journal_name: str | None = None,
    ) -> None:
        self.buffer: deque[Any] = deque()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        # A batch never holds more than a worker may queue: drop_newest would otherwise drop
        # a whole batch bound for an idle backend.
        self._batch_limit = max(1, min(batch_size, max_queue_size))
        #: Buffer length at which the caller calls :meth:`pressure`.
        self.wake_at = self._batch_limit
        self._overflow = Overflow("the logging buffer", max_queue_size, overflow_policy)
        self.journal = journal
        self.journal_name = journal_name
        self._journal_written = 0
        self._journal_failed = 0
        self._journal_retries = 0
        self._journal_error: str | None = None
        self._dropped_recorded = 0
        self.workers: dict[str, BackendWorker] = {}
        for name, backend in backends.items():
            feed = None
            if journal is not None and journal.run_dir is not None and states is not None:
                reader = JournalReader(journal.run_dir)
                feed = JournalFeed(reader, states[name], self._batch_limit)
            self.workers[name] = BackendWorker(
                name,
                backend,
                max_pending=min(max_queue_size, LIVE_QUEUE_LIMIT) if feed else max_queue_size,
                overflow_policy=overflow_policy,
                feed=feed,
            )
        self._wake = threading.Event()
        self._drained = threading.Event()
        self._requests: deque[FlushAll | CloseAll] = deque()
        self._control = threading.Lock()  # orders flush requests against the close request
        self._closing = False  # shutdown was called: no more flush requests
        self._close_message: CloseAll | None = None
        self._closed = False  # the router has routed its last records
        self._give_up_at: float | None = None
        self._thread = TraceletThread(target=self._run, name="tracelet-router")

    @property
    def dropped(self) -> int:
        """Records dropped from the shared buffer (for every backend) or by ``nan_policy``."""
        return self._overflow.dropped

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
        if self._overflow.policy == "block":
            self._overflow.warn()
            while len(buffer) > self.max_queue_size and not self._closed:
                self._drained.clear()
                self._wake.set()
                self._drained.wait(0.05)
            return
        # log_metrics appends several records before it calls here: drop down to the bound.
        self._overflow.shed(buffer, len(buffer) - self.max_queue_size)
        self._wake.set()

    def count_dropped(self, count: int = 1) -> None:
        """Count records the run discarded before queueing (``nan_policy="drop"``)."""
        self._overflow.dropped += count

    # -- the router thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.wake_at = self._batch_limit
            self._safe_route()
            while self._requests:
                message = self._requests.popleft()
                # Route again: records logged just before this request must go out before it.
                self._safe_route()
                if isinstance(message, FlushAll):
                    self._flush_journal()
                    for name, worker in self.workers.items():
                        worker.request(message.requests[name])
                    message.routed.set()
                else:
                    self._closed = True
                    self._close_journal(message)
                    for name, worker in self.workers.items():
                        worker.request(message.requests[name])
                    message.routed.set()
                    return

    def _flush_journal(self) -> None:
        if self.journal is None:
            return
        try:
            self.journal.flush()
        except Exception as exc:
            self._journal_error = f"{type(exc).__name__}: {exc}"
            logger.warning("tracelet: flushing the journal failed: %s", self._journal_error)

    def _close_journal(self, message: CloseAll) -> None:
        if self.journal is None:
            return
        try:
            self.journal.close(message.status)
        except Exception as exc:
            self._journal_error = f"{type(exc).__name__}: {exc}"
            logger.warning("tracelet: closing the journal failed: %s", self._journal_error)

    def _safe_route(self) -> None:
        try:
            self._route()
            dropped = self.dropped
            if self.journal is not None and dropped != self._dropped_recorded:
                self.journal.record_dropped(dropped)  # rare: a drop_* or nan_policy drop
                self._dropped_recorded = dropped
        except Exception:  # never let the router die: the run would stop delivering
            logger.exception("tracelet: internal error while routing records")
        self._drained.set()

    def _route(self) -> None:
        buffer = self.buffer
        popleft = buffer.popleft
        limit = self._batch_limit
        while buffer:
            # Only this thread takes from the left, and a drop policy never sheds the buffer
            # below max_queue_size >= limit: the n records are there.
            n = min(limit, len(buffer))
            records = [popleft() for _ in repeat(None, n)]
            if set(map(type, records)) == {tuple}:  # metric points only: the usual batch
                self._send(Batch(metrics=records))
                continue
            batch = Batch()
            for record in records:
                if type(record) is tuple:
                    batch.metrics.append(record)
                elif isinstance(record, Param):
                    batch.params.append(record)
                elif isinstance(record, Tag):
                    batch.tags.append(record)
                elif isinstance(record, Artifact):
                    batch.artifacts.append(record)
                else:
                    batch.media.append(record)
            self._send(batch)

    def _send(self, batch: Batch) -> None:
        start, end = self._write_journal(batch)
        kinds = batch.kinds()
        for worker in self.workers.values():
            caps = worker.capabilities
            part = batch
            if not kinds <= caps:
                part = batch.restricted_to(caps)
                worker.count_unsupported(kinds - caps, len(batch) - len(part))
            if len(part) or self.journal is not None:  # an empty part still moves the cursor
                worker.put(Routed(part, start, end))

    def _write_journal(self, batch: Batch) -> tuple[Position, Position]:
        """Append the batch to the journal, retrying until it is written; its range."""
        journal = self.journal
        if journal is None:
            return Position(), Position()
        start = journal.position
        backoff = RETRY_INITIAL_BACKOFF
        while True:
            try:
                journal.write(batch)
            except RejectedError as exc:
                self._journal_error = f"RejectedError: {exc}"
                self._journal_failed += exc.count
                self._journal_written += len(batch) - exc.count
                logger.warning("tracelet: journal: %s", exc)
            except Exception as exc:
                self._journal_error = f"{type(exc).__name__}: {exc}"
                give_up_at = self._give_up_at
                if give_up_at is not None and time.monotonic() >= give_up_at:
                    self._journal_failed += len(batch)
                    logger.error(
                        "tracelet: the journal could not be written at the shutdown deadline; "
                        "%d record(s) lost: %s",
                        len(batch),
                        self._journal_error,
                    )
                    return start, start
                self._journal_retries += 1
                logger.warning(
                    "tracelet: writing the journal failed (%s); retrying in %.2gs (the "
                    "training loop waits once the buffer is full)",
                    self._journal_error,
                    backoff,
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_BACKOFF)
                continue
            else:
                self._journal_written += len(batch)
            return start, journal.position
