"""A collector that samples on its own thread every ``interval`` seconds (system, GPU).

Each sample is logged with :meth:`tracelet.Run.log_metrics` at step 0, 1, 2, ... (the sample's
number; the record's timestamp is the wall time). Samples follow a fixed schedule from the
start, so a slow reading does not make the interval drift. The first sample is taken one
interval after the start; a run shorter than the interval has none.

``stop`` wakes the thread at once (it waits on an event, never sleeps) and joins it.

The thread reads the time and waits through a :class:`Clock`: by default the monotonic clock
and the stop event's own ``wait`` (bound once, so the default costs nothing extra). A test
passes a clock it moves by hand and gets exactly one sample per interval it lets pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from tracelet.threads import TraceletThread

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors")

#: Reads one sample: metric name (without the prefix) → value.
Reader = Callable[[], Mapping[str, float]]


class Clock(Protocol):
    """Where the sampling thread reads the time and waits for the next sample."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences between two readings count)."""

    def wait(self, stopping: threading.Event, seconds: float) -> bool:
        """Wait until ``seconds`` have passed on this clock or ``stopping`` is set, whichever
        comes first; return whether ``stopping`` is set (as :meth:`threading.Event.wait`)."""


class PeriodicCollector:
    """Logs ``read()`` under ``prefix`` every ``interval`` seconds until stopped.

    Args:
        name: The collector's name; its thread is ``tracelet-<name>``.
        interval: Seconds between two samples (> 0).
        read: Takes one sample. An exception is logged once (as a warning) and that sample
            is skipped; the next ones are still taken.
        prefix: Put before every name (``"system/"``).
        prepare: Called once on the thread before the first wait (a baseline for rates).
        close: Called once after the thread has ended (release a library handle).
        clock: Reads the time and waits between samples; default: :func:`time.monotonic`
            and the stop event's ``wait``.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        read: Reader,
        prefix: str,
        *,
        prepare: Callable[[], None] | None = None,
        close: Callable[[], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"{name}: interval must be > 0 seconds; got {interval!r}")
        self.name = name
        self.interval = interval
        self.read = read
        self.prefix = prefix
        self._prepare = prepare
        self._close = close
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    def start(self, run: Run) -> None:
        self._thread = TraceletThread(target=self._loop, args=(run,), name=f"tracelet-{self.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self._close is not None:
            self._close()

    def _loop(self, run: Run) -> None:
        if self._prepare is not None:
            try:
                self._prepare()
            except Exception:
                logger.warning("tracelet: %s metrics not collected", self.name, exc_info=True)
                return
        now, wait = self._timing()
        interval = self.interval
        started = now()
        step = 0
        # Sample `step` is due at started + (step + 1) * interval: on a fixed schedule, so a
        # slow reading does not make the interval drift; when behind, at once.
        while not wait(max(0.0, started + (step + 1) * interval - now())):
            try:
                readings = self.read()
            except Exception:
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "tracelet: %s metrics: a sample failed (further failures not logged)",
                        self.name,
                        exc_info=True,
                    )
                step += 1
                continue
            if readings:
                prefix = self.prefix
                run.log_metrics({prefix + k: v for k, v in readings.items()}, step=step)
            step += 1

    def _timing(self) -> tuple[Callable[[], float], Callable[[float], bool]]:
        """The thread's ``now()`` and ``wait(seconds) -> stopping``, from the clock."""
        clock, stopping = self._clock, self._stopping
        if clock is None:
            return time.monotonic, stopping.wait

        def wait(seconds: float) -> bool:
            return clock.wait(stopping, seconds)

        return clock.now, wait
