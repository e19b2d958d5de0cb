"""The ``system`` collector: CPU, memory, swap, disk and network of the machine, and the training
process's own CPU and memory (its child processes included, such as DataLoader workers).

Every ``system_metrics_interval`` seconds, on its own thread (see
:class:`~tracelet_collectors.periodic.PeriodicCollector`), with ``collect_system_metrics`` on, it
logs under ``system/`` (see :mod:`tracelet_collectors.naming` for multi-process runs):

==============================  =============================================================
``cpu_percent``                 CPU use of the whole machine over the interval (0-100)
``memory_used_mb``              memory in use (MB = 10⁶ bytes)
``memory_available_mb``         memory available to new processes without swapping
``memory_percent``              memory in use, % of the total
``swap_used_mb``                swap in use
``swap_percent``                swap in use, % of the total
``disk_read_mb_per_s``          disk reads over the interval (all disks)
``disk_write_mb_per_s``         disk writes over the interval
``network_sent_mb_per_s``       bytes sent over the interval (all interfaces)
``network_received_mb_per_s``   bytes received over the interval
``process_cpu_percent``         CPU of this process and its children, % of one core (can
                                exceed 100 on several cores)
``process_rss_mb``              resident memory of this process and its children
==============================  =============================================================

Disk or network counters that the machine does not expose (some containers) are left out.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import psutil

from tracelet_collectors.naming import system_prefix
from tracelet_collectors.periodic import Clock, PeriodicCollector

logger = logging.getLogger("tracelet.collectors.system")

MB = 1e6


class _Counters(NamedTuple):
    at: float
    disk: Any  # psutil's sdiskio, or None
    net: Any  # psutil's snetio, or None


class SystemReader:
    """Takes the samples; rates and CPU percentages are over the time since the last one.

    Args:
        pid: The process whose own CPU and memory are read; default: this one.
        now: Times the disk and network rates (the collector's clock); default:
            :func:`time.monotonic`. CPU percentages are psutil's own, over real time.
    """

    def __init__(self, pid: int | None = None, now: Callable[[], float] = time.monotonic) -> None:
        self.process = psutil.Process(pid if pid is not None else os.getpid())
        self._now = now
        self._children: dict[int, psutil.Process] = {}
        self._last: _Counters | None = None

    def prepare(self) -> None:
        """The baseline for the first sample's CPU percentages and rates."""
        psutil.cpu_percent(interval=None)
        self.process.cpu_percent(interval=None)
        self._process_tree()
        self._last = self._counters()

    def read(self) -> dict[str, float]:
        """One sample (``prepare`` must have been called)."""
        out: dict[str, float] = {"cpu_percent": psutil.cpu_percent(interval=None)}
        memory = psutil.virtual_memory()
        out["memory_used_mb"] = memory.used / MB
        out["memory_available_mb"] = memory.available / MB
        out["memory_percent"] = memory.percent
        swap = psutil.swap_memory()
        out["swap_used_mb"] = swap.used / MB
        out["swap_percent"] = swap.percent
        now, last = self._counters(), self._last
        assert last is not None, "prepare() first"
        seconds = now.at - last.at
        if seconds > 0:
            if now.disk is not None and last.disk is not None:
                out["disk_read_mb_per_s"] = _rate(
                    now.disk.read_bytes, last.disk.read_bytes, seconds
                )
                out["disk_write_mb_per_s"] = _rate(
                    now.disk.write_bytes, last.disk.write_bytes, seconds
                )
            if now.net is not None and last.net is not None:
                out["network_sent_mb_per_s"] = _rate(
                    now.net.bytes_sent, last.net.bytes_sent, seconds
                )
                out["network_received_mb_per_s"] = _rate(
                    now.net.bytes_recv, last.net.bytes_recv, seconds
                )
        self._last = now
        cpu, rss = 0.0, 0
        for proc in self._process_tree():
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # a child that ended between the listing and the reading
        out["process_cpu_percent"] = cpu
        out["process_rss_mb"] = rss / MB
        return out

    def _process_tree(self) -> list[psutil.Process]:
        """This process and its living descendants; a child's first CPU reading is its
        baseline (0.0), so the same ``Process`` objects are kept from one sample to the next."""
        try:
            children = self.process.children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        known = self._children
        self._children = {c.pid: known.get(c.pid, c) for c in children}
        return [self.process, *self._children.values()]

    def _counters(self) -> _Counters:
        return _Counters(self._now(), psutil.disk_io_counters(), psutil.net_io_counters())


def _rate(now: int, before: int, seconds: float) -> float:
    """MB per second; a counter that went backwards (wrapped, or a device went away) gives 0."""
    return max(0, now - before) / MB / seconds


def create(settings: Any, clock: Clock | None = None) -> PeriodicCollector | None:
    """The factory: a collector when ``collect_system_metrics`` is on.

    Args:
        settings: The resolved settings.
        clock: The sampling thread's clock, which also times the rates; default: the real one.
    """
    if not settings.collect_system_metrics:
        return None
    reader = SystemReader() if clock is None else SystemReader(now=clock.now)
    return PeriodicCollector(
        "system",
        settings.system_metrics_interval,
        reader.read,
        system_prefix(),
        prepare=reader.prepare,
        clock=clock,
    )
