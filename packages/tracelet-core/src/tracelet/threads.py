"""Telling Tracelet's own work apart from the user's, so that captures leave it alone.

A capture (TensorBoard's ``SummaryWriter``, Lightning's ``Trainer``) turns the user's calls into
records of the active run. A backend, a collector or the router may make the same calls for
their own reasons (a backend that writes TensorBoard event files with ``SummaryWriter``); were
those captured, each record would come back into the run, and again, without end. So every
thread Tracelet starts is a :class:`TraceletThread`, code Tracelet runs on the user's thread
(starting backends, ``tracelet.sync``) runs inside :func:`tracelet_work`, and captures check
:func:`in_tracelet` before they capture anything.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_local = threading.local()


def in_tracelet() -> bool:
    """Whether the calling thread is doing Tracelet's work (a Tracelet thread, or inside
    :func:`tracelet_work`): captures must then pass calls through without recording them."""
    return getattr(_local, "active", False)


@contextlib.contextmanager
def tracelet_work() -> Iterator[None]:
    """Mark the block, on this thread, as Tracelet's work (see :func:`in_tracelet`)."""
    was = in_tracelet()
    _local.active = True
    try:
        yield
    finally:
        _local.active = was


class TraceletThread(threading.Thread):
    """A daemon thread whose whole run is Tracelet's work (see :func:`in_tracelet`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("daemon", True)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def run(self) -> None:
        _local.active = True
        super().run()
