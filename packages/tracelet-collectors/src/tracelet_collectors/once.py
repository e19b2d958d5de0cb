"""A collector that records once, at run start, on its own thread (git, environment).

Reading the repository or the installed distributions takes tens to hundreds of milliseconds:
on a thread, ``start_logging`` does not wait for it. ``stop`` waits for it to finish, so what
it records is delivered with the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tracelet.threads import TraceletThread

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors")


class OnceCollector:
    """Calls ``record(run)`` once, on the thread ``tracelet-<name>``; an exception is logged as
    a warning and the run goes on."""

    def __init__(self, name: str, record: Callable[[Run], None]) -> None:
        self.name = name
        self.record = record
        self._thread: threading.Thread | None = None

    def start(self, run: Run) -> None:
        name = f"tracelet-{self.name}"
        self._thread = TraceletThread(target=self._record, args=(run,), name=name)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _record(self, run: Run) -> None:
        try:
            self.record(run)
        except Exception:
            logger.warning("tracelet: %s info not fully recorded", self.name, exc_info=True)
