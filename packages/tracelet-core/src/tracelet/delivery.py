"""One delivery worker per backend: writes batches in journal order and remembers how far it got.

A worker is fed by the router (:mod:`tracelet.dispatch`) with :class:`Routed` batches, each
already in the journal, and with :class:`FlushRequest` / :class:`CloseRequest` messages. It
writes from its own daemon thread, retrying a failed write with exponential backoff while keeping
the batch, so a slow, failing or hung backend delays nobody but itself.

With a journal (the default), the in-memory queue is only a shortcut: when a backend falls more
than ``max_pending`` records behind, the router stops queueing batches for it and the worker
catches up by reading the journal from its cursor. Memory stays bounded however long an outage
lasts, and nothing is dropped for the backend: it is only late. After every acknowledged write
the cursor is saved in ``delivery/<backend>.json`` (:class:`DeliveryState`), so that
``tracelet sync`` can deliver the rest after the process is gone.

Without a journal (``journal: false``), a full queue applies ``overflow_policy`` and counts what
it drops.

The messages and counts the router and a worker exchange are in :mod:`tracelet.delivery_types`;
how one batch is written (retries, backoff, permanent errors) is in
:mod:`tracelet.delivery_retry`. Both are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from tracelet.delivery_retry import RETRY_INITIAL_BACKOFF, RETRY_MAX_BACKOFF, RetryingWrites
from tracelet.delivery_state import DeliveryState
from tracelet.delivery_types import (
    BackendStats,
    CloseRequest,
    FlushRequest,
    JournalFeed,
    Message,
    Routed,
)
from tracelet.journal import Position
from tracelet.overflow import Overflow
from tracelet.records import Batch, Capability, RunStatus
from tracelet.threads import TraceletThread

if TYPE_CHECKING:
    from tracelet.backend import Backend
    from tracelet.settings.model import OverflowPolicy

__all__ = [
    "RETRY_INITIAL_BACKOFF",
    "RETRY_MAX_BACKOFF",
    "BackendStats",
    "BackendWorker",
    "CloseRequest",
    "DeliveryState",
    "FlushRequest",
    "JournalFeed",
    "Message",
    "Routed",
]

logger = logging.getLogger("tracelet.dispatch")


class BackendWorker(RetryingWrites):
    """Writes batches to one backend from its own daemon thread (see the module docstring)."""

    def __init__(
        self,
        name: str,
        backend: Backend,
        *,
        max_pending: int,
        overflow_policy: OverflowPolicy,
        feed: JournalFeed | None = None,
    ) -> None:
        self.name = name
        self.backend = backend
        self.capabilities: frozenset[Capability] = frozenset(backend.capabilities)
        self.max_pending = max_pending
        self.feed = feed
        self._overflow = Overflow(f"backend {name!r}", max_pending, overflow_policy)
        self._inbox: deque[Message] = deque()
        self._cond = threading.Condition()
        self._hurry = threading.Event()  # cuts a retry backoff short at shutdown
        self._deadline: float | None = None  # once closing: give up retrying after this
        self._given_up = threading.Event()  # still failing at the deadline: stop writing
        self._behind = False  # the inbox lacks batches: read them from the journal
        self._routed_end = feed.state.cursor if feed else Position()
        self.cursor = self._routed_end
        self.pending = 0
        self.delivered = 0
        self.failed = 0
        self.undelivered = 0
        self._abandoned = 0  # records counted undelivered/failed by give_up_pending
        self.unsupported = 0
        self.retries = 0
        self._outage_since: float | None = None  # the first failure of the current outage
        self._outage_failures = 0
        self.last_error: str | None = None
        self._warned_unsupported: set[str] = set()
        self._thread = TraceletThread(target=self._run, name=f"tracelet-backend-{name}")
        # Progress inside a batch, for backends that report it: only for a batch holding every
        # record of its journal range (the count is then a count of journal lines).
        self._in_progress: tuple[Position, int] | None = None  # (start, size)
        track = getattr(backend, "track_progress", None)
        if feed is not None and callable(track):
            track(self._progress)

    @property
    def dropped(self) -> int:
        return self._overflow.dropped

    def start(self) -> None:
        self._thread.start()

    # -- called by the router ------------------------------------------------------------------

    def put(self, routed: Routed) -> None:
        """Queue a batch. A worker ``max_pending`` behind reads from the journal instead; without
        a journal, ``overflow_policy`` applies."""
        size = len(routed.batch)
        with self._cond:
            self._routed_end = routed.end
            if self.feed is not None:
                self.pending += size
                if not self._behind and self.pending > self.max_pending:
                    self._behind = True  # the journal has them all: free the memory
                    self._inbox = deque(m for m in self._inbox if not isinstance(m, Routed))
                if not self._behind:
                    self._inbox.append(routed)
                self._cond.notify_all()
                return
            if self._overflow.policy == "block":
                # Once closing nothing new can be logged, so the queue cannot grow without
                # bound: stop waiting and let everything go out before the deadline.
                while (
                    self.pending + size > self.max_pending
                    and self.pending > 0
                    and self._deadline is None
                ):
                    self._cond.wait(0.1)
            elif self.pending + size > self.max_pending:
                if self._overflow.policy == "drop_newest":
                    self._overflow.dropped += size
                    self._overflow.warn()
                    return
                excess = self.pending + size - self.max_pending
                self.pending -= self._overflow.shed(
                    self._inbox, excess, lambda m: len(m.batch) if isinstance(m, Routed) else None
                )
            self._inbox.append(routed)
            self.pending += size
            self._cond.notify_all()

    def request(self, message: FlushRequest | CloseRequest) -> None:
        with self._cond:
            self._inbox.append(message)
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

    def stop_writing(self) -> None:
        """Start no other write: what is not written yet is counted as undelivered."""
        self._given_up.set()
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
                undelivered=self.undelivered,
            )

    def give_up_pending(self) -> None:
        """After a shutdown that timed out: count what is still pending as undelivered (or, with
        no journal, failed). A write still hanging may finish later: its records then move on
        to delivered."""
        with self._cond:
            self._settle_locked_rest()

    def _settle_locked_rest(self) -> None:
        if self.feed is not None:
            self.undelivered += self.pending
        else:
            self.failed += self.pending
        self._abandoned += self.pending
        self.pending = 0

    # -- the worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._inbox and not self._behind:
                    self._cond.wait()
                item = None if self._behind else self._inbox.popleft()
                self._cond.notify_all()
            if item is None:
                self._catch_up()
            elif isinstance(item, Routed):
                self._deliver(item.batch, item.start, item.end)
            elif isinstance(item, CloseRequest):
                self._close(item)
                return
            else:
                self._flush(item)

    def _catch_up(self, on_batch: Callable[[int, Batch], None] | None = None) -> None:
        """Deliver from the journal, from the cursor to the last batch routed to this worker.

        ``on_batch(records read, part delivered)`` follows each batch (``tracelet sync``'s
        progress)."""
        feed = self.feed
        assert feed is not None
        while True:
            with self._cond:
                limit = self._routed_end
                if self.cursor.seq >= limit.seq or self._given_up.is_set():
                    self._behind = False
                    return
            skip, feed.state.skip = feed.state.skip, 0  # stored by a process that stopped
            reads = feed.reader.batches(
                self.cursor, size=feed.batch_size, end_seq=limit.seq, skip=skip
            )
            for read in reads:
                part = read.batch.restricted_to(self.capabilities)
                self._deliver(part, read.start, read.end)
                if on_batch is not None:
                    on_batch(read.end.seq - read.start.seq, part)
                if self._given_up.is_set():
                    break

    def deliver_backlog(
        self, end: Position, *, give_up_at: float, on_batch: Callable[[int, Batch], None]
    ) -> bool:
        """Deliver the journal from the cursor to ``end`` on this thread (``tracelet sync``).

        Writes that still fail at ``give_up_at`` (a monotonic time) end it. Returns whether
        everything up to ``end`` was handled (delivered or refused).
        """
        with self._cond:
            self._routed_end = end
            self._deadline = give_up_at
            self.pending = end.seq - self.cursor.seq  # an upper bound: unsupported kinds too
        self._catch_up(on_batch)
        with self._cond:
            self.pending = 0
        return not self._given_up.is_set() and self.cursor.seq >= end.seq

    def close_backend(self, status: RunStatus) -> bool:
        """Close the backend on this thread (``tracelet sync``); whether that worked."""
        request = CloseRequest(status)
        self._close(request)
        return request.ok

    def _deliver(self, batch: Batch, start: Position, end: Position) -> None:
        size = len(batch)
        if self._given_up.is_set():
            self._settle(size, end, undelivered=size)
        elif size == 0:
            self._settle(0, end)
        else:
            self._write(batch, start, end)

    def _write(self, batch: Batch, start: Position, end: Position) -> None:
        size = len(batch)
        whole = self.feed is not None and size == end.seq - start.seq
        self._in_progress = (start, size) if whole else None
        outcome = self._store(batch)
        self._in_progress = None
        if outcome is None:  # given up at the shutdown deadline
            self._settle(size, end, undelivered=size)
            return
        refused, reason = outcome
        self._settle(size, end, failed=refused, reason=(start.seq, reason) if refused else None)

    def _settle(
        self,
        size: int,
        end: Position,
        *,
        failed: int = 0,
        undelivered: int = 0,
        reason: tuple[int, str] | None = None,
    ) -> None:
        delivered = size - failed - undelivered
        if undelivered and self.feed is None:  # no journal: nothing can deliver them later
            failed, undelivered = failed + undelivered, 0
        with self._cond:
            late = min(self._abandoned, size)  # given up on at the deadline, done after all
            if late:
                self._abandoned -= late
                if self.feed is not None:
                    self.undelivered -= late
                else:
                    self.failed -= late
            self.pending -= size - late
            self.delivered += delivered
            self.failed += failed
            self.undelivered += undelivered
            if not undelivered:
                self.cursor = end
            self._cond.notify_all()
        feed = self.feed
        if feed is not None and not undelivered:
            state = feed.state
            state.cursor = end
            state.skip = 0
            state.delivered += delivered
            try:
                if failed and reason is not None:  # rare: the reasons go in the JSON file
                    state.add_failure(reason[0], failed, reason[1])
                    state.save()
                state.record_progress()
            except OSError as exc:
                logger.warning("backend %r: could not save delivery state: %s", self.name, exc)

    def _progress(self, stored: int) -> None:
        """The backend stored the first ``stored`` records of the batch being written: save
        that, so a process that stops now resumes after them (``track_progress``)."""
        current = self._in_progress
        feed = self.feed
        if current is None or feed is None or not 0 < stored < current[1]:
            return
        state = feed.state
        state.cursor, state.skip = current[0], stored
        try:
            state.record_progress()
        except OSError as exc:
            logger.warning("backend %r: could not save delivery state: %s", self.name, exc)

    def _flush(self, request: FlushRequest) -> None:
        try:
            self.backend.flush()
            if self.feed is not None:
                self.feed.state.save(fsync=True)
        except Exception as exc:
            request.ok = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("backend %r: flush failed: %s", self.name, self.last_error)
        request.done.set()

    def _close(self, request: CloseRequest) -> None:
        try:
            self.backend.close(request.status)
        except Exception as exc:
            request.ok = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("backend %r: close failed: %s", self.name, self.last_error)
        with self._cond:  # given up: what was never read from the journal stays there
            self._settle_locked_rest()
        feed = self.feed
        if feed is not None:
            feed.state.closed = request.ok and not self._given_up.is_set()
            try:
                feed.state.save(fsync=True)
                feed.state.release()
            except OSError as exc:
                logger.warning("backend %r: could not save delivery state: %s", self.name, exc)
        request.done.set()
