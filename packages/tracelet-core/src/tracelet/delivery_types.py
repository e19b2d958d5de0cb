"""What the router and the delivery workers exchange, and what a worker reports.

The router (:mod:`tracelet.dispatch`) sends each :class:`~tracelet.delivery.BackendWorker`
:class:`Routed` batches and :class:`FlushRequest` / :class:`CloseRequest` messages; a worker
that catches up from the journal gets a :class:`JournalFeed`; a worker's counts are read as
:class:`BackendStats`. Plain frozen or slotted dataclasses: no behaviour here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracelet.delivery_state import DeliveryState
    from tracelet.journal import JournalReader, Position
    from tracelet.records import Batch, RunStatus


@dataclass(frozen=True, slots=True)
class BackendStats:
    """Delivery counts of one backend, in records (a metric point is one record).

    At any moment each record logged is in exactly one of these counts.

    Attributes:
        delivered: Written by the backend.
        pending: Logged but not yet written (queued, in the journal waiting for a backend that
            is behind, or in a write being retried).
        dropped: Discarded by ``overflow_policy`` because a queue was full, or NaN/inf
            metrics discarded by ``nan_policy="drop"``.
        failed: Refused by the backend (it can never store them).
        unsupported: Not sent because the backend does not store that kind of record.
        undelivered: Still unwritten when the run stopped; they are in the journal, and
            ``tracelet sync`` delivers them.
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
    undelivered: int = 0


@dataclass(frozen=True, slots=True)
class Routed:
    """A batch for one backend (already cut to its capabilities) and the journal range it
    covers: every record from ``start`` to ``end`` that the backend stores is in ``batch``."""

    batch: Batch
    start: Position
    end: Position


@dataclass(slots=True)
class FlushRequest:
    """Flush the backend once everything queued before this is written; then set ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = True


@dataclass(slots=True)
class CloseRequest:
    """Write what is left, close the backend with ``status``, end the worker; then ``done``."""

    status: RunStatus
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = True


Message = Routed | FlushRequest | CloseRequest


@dataclass(frozen=True, slots=True)
class JournalFeed:
    """What a worker needs to catch up from the journal."""

    reader: JournalReader
    state: DeliveryState
    batch_size: int
