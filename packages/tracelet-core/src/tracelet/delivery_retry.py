"""How a delivery worker writes one batch: retries with backoff, permanent errors isolated.

A transient error (anything the backend does not judge permanent) is retried with exponential
backoff, from :data:`RETRY_INITIAL_BACKOFF` up to :data:`RETRY_MAX_BACKOFF`, keeping the batch;
the start of shutdown cuts a wait short, and once past the shutdown deadline the worker gives up
(its records then count as undelivered, or failed without a journal). A permanent error splits
the batch in halves until the records that cause it are alone, and those are refused; a
:class:`~tracelet.errors.RejectedError` refuses the records it counts at once. An outage is
warned about once when it starts and once when it ends. :class:`RetryingWrites` is a base class
of :class:`~tracelet.delivery.BackendWorker` and holds no state of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from tracelet.backend import is_permanent_error
from tracelet.errors import RejectedError

if TYPE_CHECKING:
    from tracelet.backend import Backend
    from tracelet.delivery_types import JournalFeed
    from tracelet.records import Batch

logger = logging.getLogger("tracelet.dispatch")

#: First wait before retrying a failed write, in seconds; doubles up to RETRY_MAX_BACKOFF.
RETRY_INITIAL_BACKOFF = 0.25
#: Longest wait between two attempts at the same batch, in seconds.
RETRY_MAX_BACKOFF = 10.0


class RetryingWrites:
    """Writing a batch to a backend until it is stored, refused or given up on."""

    if TYPE_CHECKING:
        # Set by tracelet.delivery.BackendWorker.
        name: str
        backend: Backend
        feed: JournalFeed | None
        retries: int
        last_error: str | None
        _deadline: float | None
        _given_up: threading.Event
        _hurry: threading.Event
        _outage_since: float | None
        _outage_failures: int

    def _store(self, batch: Batch) -> tuple[int, str] | None:
        """Write the batch, retrying transient errors with backoff; a permanent error splits it
        until the records that cause it are alone, and those are refused.

        Returns:
            How many records were refused and why (``(0, "")`` when all were written), or
            ``None`` when writes still failed at the shutdown deadline.
        """
        size = len(batch)
        backoff = RETRY_INITIAL_BACKOFF
        while True:
            try:
                self.backend.write(batch)
            except RejectedError as exc:
                refused = min(max(exc.count, 0), size)
                self.last_error = f"RejectedError: {exc}"
                logger.warning("backend %r refused %d record(s): %s", self.name, refused, exc)
                return refused, str(exc)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._permanent(exc):
                    return self._isolate(batch, self.last_error)
                deadline = self._deadline
                if deadline is not None and time.monotonic() >= deadline:
                    self._given_up.set()
                    lost = "undelivered (tracelet sync delivers them)" if self.feed else "failed"
                    logger.error(
                        "backend %r: giving up at the shutdown deadline; %d record(s) and "
                        "everything still queued are counted as %s: %s",
                        self.name,
                        size,
                        lost,
                        self.last_error,
                    )
                    return None
                self.retries += 1
                self._outage_failure(size, backoff)
                self._pause(backoff)
                backoff = min(backoff * 2, RETRY_MAX_BACKOFF)
                continue
            self._outage_over()
            return 0, ""

    def _outage_failure(self, size: int, backoff: float) -> None:
        """A transient write failure: warned once per outage, the rest at DEBUG."""
        self._outage_failures += 1
        first = self._outage_since is None
        if first:
            self._outage_since = time.monotonic()
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "backend %r: write of %d record(s) failed (%s); retrying with backoff%s",
            self.name,
            size,
            self.last_error,
            " (this outage's further failures are logged at DEBUG)"
            if first
            else f" ({backoff:.2g}s)",
        )

    def _outage_over(self) -> None:
        """A write went through: say once that an outage ended, and after how long."""
        if self._outage_since is None:
            return
        logger.warning(
            "backend %r: writes go through again after %d failed attempt(s) over %.1f s",
            self.name,
            self._outage_failures,
            time.monotonic() - self._outage_since,
        )
        self._outage_since, self._outage_failures = None, 0

    def _permanent(self, exc: Exception) -> bool:
        judge = getattr(self.backend, "permanent_error", None)
        try:
            return bool(judge(exc)) if callable(judge) else is_permanent_error(exc)
        except Exception:  # a broken judge: retrying is the safe side
            return False

    def _isolate(self, batch: Batch, error: str) -> tuple[int, str] | None:
        """A permanent error: refuse a lone record, else write each half on its own."""
        if len(batch) <= 1:
            logger.warning("backend %r refused a record: %s", self.name, error)
            return len(batch), error
        refused, reasons = 0, []
        for half in batch.halves():
            outcome = self._store(half)
            if outcome is None:
                return None
            refused += outcome[0]
            if outcome[1]:
                reasons.append(outcome[1])
        return refused, "; ".join(dict.fromkeys(reasons))

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
