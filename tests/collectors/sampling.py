"""Driving the sampling collectors (system, GPU) in tests without sleeping.

:class:`ManualClock` is a :class:`~tracelet_collectors.periodic.Clock` that moves only when the
test moves it. The collector's thread stays real; only its waits are driven by hand.
:meth:`ManualClock.tick` lets one interval pass and returns once the sample it made due has been
logged and the thread waits again, so a test that ticks N times gets exactly N samples.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from support.collector_runs import ALL_OFF

import tracelet
from tracelet.backends import memory
from tracelet_collectors.periodic import PeriodicCollector

#: A deadline for the sampling thread's progress (not a speed claim): how long ``tick`` and
#: ``advance`` wait for it to take its samples and wait again.
PROGRESS_SECONDS = 30.0
#: How often a waiting thread looks at its stop event (an event cannot wake a condition).
_STOP_POLL = 0.005


class ManualClock:
    """The time starts at ``start`` and moves by :meth:`advance`, :meth:`tick` or :meth:`move`.

    Attributes:
        waits: The seconds the thread asked for in each ``wait``, in order.
        samples_at: The time at each ``wait`` that ended with a sample due (not a stop).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._deadline: float | None = None  # the thread's, while it waits
        self._ended = False
        self._changed = threading.Condition()
        self.waits: list[float] = []
        self.samples_at: list[float] = []

    # -- the sampling thread's side ---------------------------------------------------------------

    def now(self) -> float:
        with self._changed:
            return self._now

    def wait(self, stopping: threading.Event, seconds: float) -> bool:
        with self._changed:
            self.waits.append(seconds)
            self._deadline = deadline = self._now + seconds
            self._changed.notify_all()
            while self._now < deadline and not stopping.is_set():
                self._changed.wait(_STOP_POLL)
            self._deadline = None
            if stopping.is_set():
                self._ended = True
                self._changed.notify_all()
                return True
            self.samples_at.append(self._now)
            return False

    # -- the test's side --------------------------------------------------------------------------

    def move(self, seconds: float) -> None:
        """Move the time without waiting for the thread (from a reading, on the thread)."""
        with self._changed:
            self._now += seconds
            self._changed.notify_all()

    def advance(self, seconds: float) -> None:
        """Move the time; return once the thread has taken every sample now due and waits for
        a later one.

        Raises:
            AssertionError: The thread did not get there within :data:`PROGRESS_SECONDS`.
        """
        with self._changed:
            self._settle()
            self._now += seconds
            self._changed.notify_all()
            self._settle()

    def tick(self, count: int = 1) -> None:
        """``count`` times: move to the time the thread waits for, and let it take the sample."""
        for _ in range(count):
            with self._changed:
                self._settle()
                assert self._deadline is not None
                self._now = self._deadline
                self._changed.notify_all()
                self._settle()

    def _settle(self) -> None:
        """Wait (holding the condition) until the thread waits for a time still to come."""
        give_up = time.monotonic() + PROGRESS_SECONDS
        while not self._ended and (self._deadline is None or self._deadline <= self._now):
            left = give_up - time.monotonic()
            assert left > 0, "the sampling thread did not wait again in time"
            self._changed.wait(left)


@contextlib.contextmanager
def collecting(collector: PeriodicCollector, **config: Any) -> Iterator[tracelet.Run]:
    """A ``memory`` run (``config``; every collector of the settings off) with ``collector``
    started on it; the collector is stopped, then the run."""
    run = tracelet.start_logging(
        exp_name="manual-clock", backend="memory", config={**ALL_OFF, **config}
    )
    collector.start(run)
    try:
        yield run
    finally:
        collector.stop()
        assert run.stop()


def wait_for_sample(run: tracelet.Run, name: str) -> None:
    """Flush ``run`` until a sample of ``name`` is stored (a collector on the real clock).

    Raises:
        AssertionError: None within :data:`PROGRESS_SECONDS`.
    """
    deadline = time.monotonic() + PROGRESS_SECONDS
    while not memory.stored(run).steps(name):
        assert time.monotonic() < deadline, f"no sample of {name} in time"
        assert run.flush(timeout=PROGRESS_SECONDS)
