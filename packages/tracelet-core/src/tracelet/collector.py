"""The contract for collectors: things that log into a run on their own (system metrics, git).

A collector is created by its factory from the resolved settings when a run starts and is
given the :class:`~tracelet.Run`; it logs through the run's public methods, from its own thread
if it samples periodically. ``stop`` must return promptly (no sleeping through it); the run
stops collectors before it drains its backends, so a collector's last values are delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tracelet.run import Run


@runtime_checkable
class Collector(Protocol):
    """What a collector implements."""

    def start(self, run: Run) -> None:
        """Begin collecting into ``run``. Errors are logged; they never stop the run."""

    def stop(self) -> None:
        """Stop collecting and join any thread. Called once, before the run drains."""


#: What a plugin registers: called with the resolved settings (the core keys plus the
#: sections) and returns a collector, or ``None`` when the settings turn it off.
CollectorFactory = Callable[[Any], "Collector | None"]
