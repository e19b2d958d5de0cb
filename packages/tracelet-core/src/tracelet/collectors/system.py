"""``SystemMetricsCollector``: this machine's usage as a dict, as in earlier Tracelet releases.

It samples with the reader of the collector that logs ``system/*`` metrics into every run (see
:mod:`tracelet_collectors.system`, on with ``collect_system_metrics``, every
``system_metrics_interval`` seconds); use this class only to read the values yourself.
"""

from __future__ import annotations

from typing import Any

from tracelet.collectors import import_collectors_module


class SystemMetricsCollector:
    """Samples CPU, memory, swap, disk and network usage, and this process's own.

    :meth:`start` opens a measuring window; each :meth:`collect` returns the values now, with
    CPU percentages and disk and network rates over the time since the previous
    :meth:`collect` (or :meth:`start`). Nothing runs in the background: a run samples on its
    own when ``collect_system_metrics`` is on.

    Args:
        collect_interval: Seconds between samples in earlier releases; kept as an attribute.
            For a run, the ``system_metrics_interval`` setting paces its samples.

    Raises:
        ImportError: ``tracelet-collectors`` is not installed.
    """

    def __init__(self, collect_interval: float = 10.0) -> None:
        self._system = import_collectors_module(
            "system", "tracelet.collectors.system.SystemMetricsCollector"
        )
        self.collect_interval = collect_interval
        self._reader: Any = None

    def initialize(self) -> None:
        """The same as :meth:`start`."""
        self.start()

    def start(self) -> None:
        """Open a new measuring window (the baseline of the next :meth:`collect`)."""
        reader = self._system.SystemReader()
        reader.prepare()
        self._reader = reader

    def stop(self) -> None:
        """Close the window; a later :meth:`collect` opens a new one first."""
        self._reader = None

    def collect(self) -> dict[str, float]:
        """One sample: the names of the ``system/*`` metrics without the prefix
        (``cpu_percent``, ``memory_percent``, ``memory_used_mb``, ``process_rss_mb``, ...; see
        :mod:`tracelet_collectors.system`). Without :meth:`start` first, the window opens now
        and the rates cover almost no time."""
        if self._reader is None:
            self.start()
        return dict(self._reader.read())
