"""The system collector, sampling this machine for real through psutil."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import psutil
import pytest
from support.collector_runs import start_only

import tracelet
from tracelet.backends import memory
from tracelet_collectors.naming import system_prefix

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
#: What a child process holds in memory and how long it keeps a core busy.
CHILD_MB = 200
CHILD_SECONDS = 1.0


def start(**config: Any) -> tracelet.Run:
    """A run with only the system collector's records."""
    return start_only("collect_system_metrics", **config)


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


def test_every_metric_in_sane_ranges_at_the_interval() -> None:
    interval = 0.25
    total_mb = psutil.virtual_memory().total / 1e6
    # A child that holds memory and keeps a core busy: counted in the process's own figures.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time; b = bytearray({CHILD_MB} * 10**6); t = time.time()\n"
            f"while time.time() - t < {CHILD_SECONDS}: pass\n"
            "time.sleep(30)",
        ]
    )
    try:
        run = start(system_metrics_interval=interval)
        time.sleep(0.1)  # the collector takes its baseline first
        send_over_loopback(50)
        time.sleep(1.6)
        assert run.stop()
    finally:
        child.kill()
        child.wait()
    stored = memory.stored(run)
    assert set(stored.metrics) == {f"system/{n}" for n in NAMES}
    samples = len(stored.metrics["system/cpu_percent"])
    assert 4 <= samples <= 7, f"{samples} samples at {interval} s in about 1.7 s"
    for name in NAMES:
        points = stored.metrics[f"system/{name}"]
        assert [p.step for p in points] == list(range(samples)), name
        assert all(p.value >= 0 for p in points), name
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(points)]
    assert all(0.5 * interval < g < 2.5 * interval for g in gaps), gaps

    def values(name: str) -> list[float]:
        return stored.values(f"system/{name}")

    assert all(
        v <= 100 for n in ("cpu_percent", "memory_percent", "swap_percent") for v in values(n)
    )
    assert all(0 < v < total_mb for v in values("memory_used_mb"))
    assert all(0 < v < total_mb for v in values("memory_available_mb"))
    # The child's memory and CPU are the process's own: RSS above the child's bytearray, and
    # at least half a core busy in some sample.
    assert max(values("process_rss_mb")) > CHILD_MB
    assert max(values("process_cpu_percent")) > 50
    # The 50 MB sent over loopback show up in the network rates (sent and received).
    sent = sum(v * interval for v in values("network_sent_mb_per_s"))
    received = sum(v * interval for v in values("network_received_mb_per_s"))
    assert sent > 40, sent
    assert received > 40, received


def test_the_interval_changes_the_rate() -> None:
    counts = {}
    for interval in (0.1, 0.4):
        run = start(system_metrics_interval=interval)
        time.sleep(1.3)
        assert run.stop()
        counts[interval] = len(memory.stored(run).values("system/cpu_percent"))
    assert counts[0.1] >= 10, counts
    assert 2 <= counts[0.4] <= 4, counts


def test_stop_does_not_wait_for_the_next_sample() -> None:
    run = start(system_metrics_interval=60)
    time.sleep(0.2)
    began = time.monotonic()
    assert run.stop()
    assert time.monotonic() - began < 1.0
    assert memory.stored(run).metrics == {}  # the first sample was 60 s away


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
