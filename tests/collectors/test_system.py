"""The system collector, sampling this machine for real through psutil.

The sampling thread is real; its clock is a :class:`~collectors.sampling.ManualClock`, so a
test lets exactly N intervals pass and gets exactly N samples, without sleeping. One test runs
the real clock through the settings, for what needs no timing: samples arrive, stop is prompt.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from support.collector_runs import ALL_OFF, start_only

import tracelet
from collectors.sampling import PROGRESS_SECONDS, ManualClock, collecting, wait_for_sample
from tracelet.backends import memory
from tracelet_collectors import system
from tracelet_collectors.naming import system_prefix
from tracelet_collectors.periodic import PeriodicCollector

pytestmark = pytest.mark.usefixtures("no_leftover_threads")

NAMES = (
    "cpu_percent",
    "memory_used_mb",
    "memory_available_mb",
    "memory_percent",
    "swap_used_mb",
    "swap_percent",
    "disk_read_mb_per_s",
    "disk_write_mb_per_s",
    "network_sent_mb_per_s",
    "network_received_mb_per_s",
    "process_cpu_percent",
    "process_rss_mb",
)
#: What a child process holds in memory, and the CPU seconds it burns when told to.
CHILD_MB = 200
CHILD_CPU_SECONDS = 0.3
#: Seconds between samples on the manual clock (a power of two: the schedule is exact).
INTERVAL = 0.25
#: Where the manual clock starts.
T0 = 1000.0


def start(**config: Any) -> tracelet.Run:
    """A run with only the system collector's records (its real clock)."""
    return start_only("collect_system_metrics", **config)


def system_collector(clock: ManualClock, interval: float = INTERVAL) -> PeriodicCollector:
    """The system collector from its factory, on ``clock``."""
    settings = SimpleNamespace(collect_system_metrics=True, system_metrics_interval=interval)
    collector = system.create(settings, clock=clock)
    assert collector is not None
    return collector


def counting(clock: ManualClock, took: float = 0.0) -> tuple[list[float], PeriodicCollector]:
    """A collector whose reading ``x`` is the clock's time; each reading takes ``took``
    seconds of the clock. Returns the times read and the collector."""
    read_at: list[float] = []

    def read() -> Mapping[str, float]:
        read_at.append(clock.now())
        clock.move(took)
        return {"x": read_at[-1]}

    return read_at, PeriodicCollector("count", INTERVAL, read, "c/", clock=clock)


def stop_within_progress(collector: PeriodicCollector) -> None:
    """Stop ``collector`` on another thread; fail if it is still stopping after the progress
    deadline (a stop that waited for the next sample never returns on a manual clock)."""
    stopper = threading.Thread(target=collector.stop)
    stopper.start()
    stopper.join(PROGRESS_SECONDS)
    assert not stopper.is_alive(), "stop() waited for the next sample"


def send_over_loopback(megabytes: int) -> None:
    """Push ``megabytes`` through a TCP connection on 127.0.0.1 (counted by the network I/O
    counters of the loopback interface)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def drain() -> None:
            conn, _ = server.accept()
            with conn:
                while conn.recv(1 << 20):
                    pass

        reader = threading.Thread(target=drain)
        reader.start()
        with socket.create_connection(("127.0.0.1", port)) as client:
            chunk = b"x" * (1 << 20)
            for _ in range(megabytes):
                client.sendall(chunk)
        reader.join()


def test_every_metric_in_sane_ranges_at_each_tick() -> None:
    total_mb = psutil.virtual_memory().total / 1e6
    # A child that holds memory, and on a line on its stdin burns CPU and says so: both are
    # counted in the process's own figures.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            f"b = bytearray({CHILD_MB} * 10**6)\n"
            "print('ready', flush=True); sys.stdin.readline(); t = time.process_time()\n"
            f"while time.process_time() - t < {CHILD_CPU_SECONDS}: pass\n"
            "print('done', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    clock = ManualClock(T0)
    try:
        assert child.stdout.readline() == "ready\n"
        with collecting(system_collector(clock)) as run:
            began = time.monotonic()
            clock.tick()  # sample 0: the child's CPU baseline
            send_over_loopback(50)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "done\n"
            clock.tick()  # sample 1: the child's burn and the bytes sent
            wall = time.monotonic() - began
            clock.tick()
    finally:
        child.kill()
        child.wait()
    stored = memory.stored(run)
    assert set(stored.metrics) == {f"system/{n}" for n in NAMES}
    for name in NAMES:
        assert stored.steps(f"system/{name}") == [0, 1, 2], name
        assert all(v >= 0 for v in stored.values(f"system/{name}")), name
    # Each sample one interval after the one before, the first one interval after the start.
    assert clock.samples_at == [T0 + INTERVAL, T0 + 2 * INTERVAL, T0 + 3 * INTERVAL]
    assert clock.waits == [INTERVAL] * 4  # the fourth was cut short by the stop

    def values(name: str) -> list[float]:
        return stored.values(f"system/{name}")

    assert all(
        v <= 100 for n in ("cpu_percent", "memory_percent", "swap_percent") for v in values(n)
    )
    assert all(0 < v < total_mb for v in values("memory_used_mb"))
    assert all(0 < v < total_mb for v in values("memory_available_mb"))
    # The child's memory is the process's own in every sample.
    assert all(v > CHILD_MB for v in values("process_rss_mb")), values("process_rss_mb")
    # Its CPU too: between samples 0 and 1 (at most `wall` seconds apart) it burned
    # CHILD_CPU_SECONDS (less a clock tick of /proc, and psutil's rounding).
    least = 100 * (CHILD_CPU_SECONDS - 0.02) / wall
    assert values("process_cpu_percent")[1] >= least, (values("process_cpu_percent"), least)
    # The 50 MiB sent over loopback are in sample 1's rates, over one interval of the clock
    # (the same bytes are counted sent and received).
    sent_mb = 50 * (1 << 20) / 1e6
    assert values("network_sent_mb_per_s")[1] * INTERVAL >= sent_mb, values("network_sent_mb_per_s")
    assert values("network_received_mb_per_s")[1] * INTERVAL >= sent_mb


def test_one_sample_per_interval_of_the_clock() -> None:
    counts = {}
    for interval in (0.125, 0.5):
        clock = ManualClock(T0)
        with collecting(system_collector(clock, interval)) as run:
            for _ in range(32):
                clock.advance(0.0625)  # 2 s in all
        counts[interval] = memory.stored(run).steps("system/cpu_percent")
    assert counts == {0.125: list(range(16)), 0.5: list(range(4))}


def test_a_slow_reading_does_not_make_the_interval_drift() -> None:
    clock = ManualClock(T0)
    read_at, collector = counting(clock, took=0.125)
    with collecting(collector) as run:
        clock.tick(3)
    assert read_at == [T0 + INTERVAL, T0 + 2 * INTERVAL, T0 + 3 * INTERVAL]
    assert clock.waits == [INTERVAL, INTERVAL - 0.125, INTERVAL - 0.125, INTERVAL - 0.125]
    assert memory.stored(run).steps("c/x") == [0, 1, 2]
    assert memory.stored(run).values("c/x") == read_at


def test_a_late_thread_takes_the_missed_samples_at_once() -> None:
    clock = ManualClock(T0)
    read_at, collector = counting(clock)
    with collecting(collector) as run:
        clock.advance(3 * INTERVAL)
        clock.tick()
    assert read_at == [T0 + 3 * INTERVAL] * 3 + [T0 + 4 * INTERVAL]
    assert clock.waits == [INTERVAL, 0.0, 0.0, INTERVAL, INTERVAL]
    assert memory.stored(run).steps("c/x") == [0, 1, 2, 3]


def test_a_failed_reading_skips_its_step_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(T0)
    outcomes: list[Callable[[], Mapping[str, float]]] = []

    def read() -> Mapping[str, float]:
        return outcomes.pop(0)()

    def fail() -> Mapping[str, float]:
        raise OSError("counters gone")

    outcomes += [lambda: {"x": 1.0}, fail, fail, lambda: {"x": 4.0}]
    collector = PeriodicCollector("flaky", INTERVAL, read, "f/", clock=clock)
    with caplog.at_level("WARNING", logger="tracelet.collectors"), collecting(collector) as run:
        clock.tick(4)
    assert memory.stored(run).steps("f/x") == [0, 3]
    assert memory.stored(run).values("f/x") == [1.0, 4.0]
    warned = [r.getMessage() for r in caplog.records if r.name == "tracelet.collectors"]
    assert warned == ["tracelet: flaky metrics: a sample failed (further failures not logged)"]


def test_stop_does_not_wait_for_the_next_sample() -> None:
    clock = ManualClock(T0)
    run = tracelet.start_logging(exp_name="manual-clock", backend="memory", config=ALL_OFF)
    collector = system_collector(clock)
    collector.start(run)
    clock.advance(INTERVAL / 2)  # the thread waits for its first sample
    stop_within_progress(collector)
    assert run.stop()
    assert clock.waits == [INTERVAL]
    assert clock.samples_at == []
    assert memory.stored(run).metrics == {}


def test_the_real_clock_samples_and_stops_promptly() -> None:
    # Real time, so only what holds on any machine: a sample arrives, and a stop does not
    # wait out an hour-long interval.
    run = start(system_metrics_interval=0.05)
    wait_for_sample(run, "system/cpu_percent")
    assert run.stop()
    steps = memory.stored(run).steps("system/cpu_percent")
    assert steps == list(range(len(steps)))

    run = start(system_metrics_interval=3600)
    began = time.monotonic()
    assert run.stop()
    assert time.monotonic() - began < PROGRESS_SECONDS
    assert memory.stored(run).metrics == {}


def test_interval_must_be_positive() -> None:
    with pytest.raises(tracelet.ConfigError, match="system_metrics_interval"):
        start(system_metrics_interval=0)


@pytest.mark.parametrize(
    ("environ", "prefix"),
    [
        ({}, "system/"),
        ({"RANK": "0", "WORLD_SIZE": "1"}, "system/"),
        ({"RANK": "3", "WORLD_SIZE": "8"}, "system/rank.3/"),
        ({"RANK": "3", "WORLD_SIZE": "8", "GROUP_RANK": "1"}, "system/node.1.rank.3/"),
        ({"LOCAL_RANK": "1", "NODE_RANK": "2"}, "system/node.2.rank.1/"),
        ({"RANK": "5", "SLURM_NODEID": "0"}, "system/node.0.rank.5/"),
    ],
)
def test_the_prefix_names_the_node_and_rank(environ: dict[str, str], prefix: str) -> None:
    assert system_prefix(environ) == prefix
