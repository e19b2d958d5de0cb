"""The dispatcher: isolation of failing, slow and hung backends, retries, overflow, routing.

The misbehaving backends below are real backend implementations registered as plugin objects
on a fresh plugin host, next to the real ``memory`` backend. Each test checks exact counts in
``run.stats()`` against what the backends received.

No test bounds how long a call takes: "does not wait for a backend" is shown by the call
returning while that backend's write is still blocked on a gate the test holds closed. A
timeout is checked from below only (the call gave the backend its time), which holds however
loaded the machine is. Speed targets live in ``benchmarks/bench_core.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tracelet.backend import Backend, BaseBackend, RunInfo
from tracelet.backends import memory
from tracelet.errors import RejectedError
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import ALL_CAPABILITIES, Batch, Capability, RunStatus
from tracelet.run import Run
from tracelet.session import start_run

pytestmark = pytest.mark.usefixtures("no_leftover_threads")

#: A deadline for progress the test waits for (a thread reaching a point), not a speed claim:
#: generous, so a loaded machine does not fail the test.
PROGRESS = 30.0


# -- backends --------------------------------------------------------------------------------------


class Recorder(BaseBackend):
    """Stores every metric point it is given and the size of every batch."""

    capabilities: ClassVar[frozenset[Capability]] = ALL_CAPABILITIES

    def __init__(self) -> None:
        self.points: list[tuple[str, float, int]] = []
        self.batches: list[Batch] = []
        self.attempts: list[Batch] = []
        self.kinds: set[str] = set()
        self.status: RunStatus | None = None
        self.flushes = 0

    def start(self, run: RunInfo) -> None:
        pass

    def write(self, batch: Batch) -> None:
        self.attempts.append(batch)
        self.fail(batch)
        self.batches.append(batch)
        self.kinds.update(batch.kinds())
        self.points.extend((name, value, step) for name, value, step, _ in batch.metrics)

    def fail(self, batch: Batch) -> None:
        """Raise here to fail the write before anything is stored."""

    def flush(self) -> None:
        self.flushes += 1

    def close(self, status: RunStatus) -> None:
        self.status = status


class AlwaysFailing(Recorder):
    def fail(self, batch: Batch) -> None:
        raise ConnectionError("server unreachable")


class FailsFirst(Recorder):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def fail(self, batch: Batch) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise TimeoutError(f"transient, {self.failures} more to come")


class Rejecting(Recorder):
    """Refuses the params named ``bad*`` (it writes the rest of the batch)."""

    def write(self, batch: Batch) -> None:
        bad = [p for p in batch.params if p.name.startswith("bad")]
        super().write(batch)
        if bad:
            raise RejectedError(f"cannot store {[p.name for p in bad]}", count=len(bad))


class Gated(Recorder):
    """A write that hangs until the test opens the gate.

    A watchdog opens the gate after :data:`PROGRESS` seconds: a call that wrongly waits for
    the write then returns, with the gate open, and the test fails instead of hanging.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        threading.Thread(target=self._watchdog, name="gate-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        if not self.gate.wait(PROGRESS):
            self.gate.set()

    def fail(self, batch: Batch) -> None:
        self.entered.set()
        self.gate.wait()


class GatedFailing(Gated):
    """A write that hangs until the test opens the gate, then fails (and every later one)."""

    def fail(self, batch: Batch) -> None:
        super().fail(batch)
        raise ConnectionError("server unreachable")


class MetricsOnly(Recorder):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"metrics"})


class _Plugin:
    """A plugin object that registers ready-made backend instances under given names."""

    def __init__(self, backends: dict[str, Backend]) -> None:
        self.backends = backends

    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        for name, backend in self.backends.items():
            register(name, lambda settings, b=backend: b)


def start(host: PluginHost, backends: dict[str, Backend], *names: str, **config: Any) -> Run:
    """A run on the given backends (plugin objects) plus the built-ins listed in ``names``."""
    info = host.register(_Plugin(backends), name="test-backends")
    assert info.status == "loaded", info.error
    return start_run(
        "dispatch",
        "tests",
        [*backends, *names],
        {"flush_interval": 0.05, **config},
        host=host,
    )


def wait_for(condition: Callable[[], bool], timeout: float = PROGRESS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def accounted(run: Run, name: str) -> int:
    s = run.stats()[name]
    return s.delivered + s.pending + s.dropped + s.failed + s.unsupported + s.undelivered


# -- failures --------------------------------------------------------------------------------------


def test_failing_backend_never_blocks_the_loop_and_others_get_everything(
    host: PluginHost, gates: list[Gated]
) -> None:
    failing = GatedFailing()
    gates.append(failing)
    run = start(host, {"failing": failing}, "memory", batch_size=100)
    run.log_metric("x", 0.0, step=0)
    assert failing.entered.wait(PROGRESS)
    # The loop ends while the backend's first write is still held: it never waited for it.
    for step in range(1, 3000):
        run.log_metric("x", float(step), step=step)
    wait_for(lambda: run.stats()["memory"].delivered == 3000)
    assert not failing.gate.is_set()
    assert len(failing.attempts) == 1, "still in its first write"
    failing.gate.set()  # from now on every write fails at once
    wait_for(lambda: run.stats()["failing"].retries >= 1)
    assert run.flush(timeout=0.5) is False, "the failing backend cannot confirm"
    wait_for(lambda: run.stats()["memory"].delivered == 3000)
    stats = run.stats()["failing"]
    assert (stats.delivered, stats.pending, stats.failed, stats.dropped) == (0, 3000, 0, 0)
    assert stats.retries >= 1
    assert stats.last_error == "ConnectionError: server unreachable"
    assert stats.retries <= len(failing.attempts) <= stats.retries + 1
    assert all(b is failing.attempts[0] for b in failing.attempts), "one batch, tried again"

    assert run.stop(timeout=0.5) is False
    stats = run.stats()["failing"]
    # Given up at the deadline: in the journal, for `tracelet sync` (not failed, not pending).
    assert (stats.delivered, stats.pending, stats.failed, stats.undelivered) == (0, 0, 0, 3000)
    # While closing, retries keep their backoff (no busy loop hammering the server).
    assert stats.retries < 15, stats.retries
    wait_for(lambda: failing.status == "finished")
    store = memory.stored(run)
    assert store.values("x") == [float(s) for s in range(3000)]
    assert store.status == "finished"
    assert run.stats()["memory"].failed == 0


def test_transient_failures_are_retried_with_the_same_batch(host: PluginHost) -> None:
    flaky = FailsFirst(failures=2)
    run = start(host, {"flaky": flaky}, batch_size=10, flush_interval=60)
    for step in range(25):
        run.log_metric("x", float(step), step=step)
    run.log_param("lr", 0.1)
    assert run.flush(timeout=10)
    assert flaky.attempts[0] is flaky.attempts[1] is flaky.attempts[2], "retry keeps the batch"
    assert run.stop(timeout=10)
    assert flaky.points == [("x", float(s), s) for s in range(25)], "each point exactly once"
    stats = run.stats()["flaky"]
    assert (stats.delivered, stats.failed, stats.pending, stats.retries) == (26, 0, 0, 2)
    assert stats.last_error == "TimeoutError: transient, 0 more to come"
    assert flaky.status == "finished"


def test_an_outage_is_warned_once_and_its_end_once(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FailsFirst(failures=4)  # 0.25 + 0.5 + 1 + 2 s of backoff
    run = start(host, {"flaky": flaky}, batch_size=10, flush_interval=0.05)
    with caplog.at_level(logging.DEBUG, logger="tracelet"):
        for step in range(30):
            run.log_metric("x", float(step), step=step)
        assert run.stop(timeout=30)
    failures = [r for r in caplog.records if "failed (TimeoutError" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING] + [logging.DEBUG] * 3
    ends = [r.getMessage() for r in caplog.records if "go through again" in r.getMessage()]
    assert len(ends) == 1
    assert "after 4 failed attempt(s) over " in ends[0]
    assert flaky.points == [("x", float(s), s) for s in range(30)]


def test_rejected_records_are_counted_as_failed_without_retry(host: PluginHost) -> None:
    rejecting = Rejecting()
    run = start(host, {"rejecting": rejecting}, "memory", flush_interval=60)
    run.log_params({"good": 1, "bad_a": 2, "bad_b": 3})
    run.log_metric("x", 1.0, step=0)
    assert run.flush(timeout=10)
    run.log_params({"bad_c": 4})
    run.log_metric("x", 2.0, step=1)
    assert run.stop(timeout=10) is False, "refused records make the delivery incomplete"
    stats = run.stats()["rejecting"]
    assert (stats.delivered, stats.failed, stats.pending, stats.retries) == (3, 3, 0, 0)
    assert stats.last_error == "RejectedError: cannot store ['bad_c']"
    assert len(rejecting.attempts) == 2
    assert rejecting.points == [("x", 1.0, 0), ("x", 2.0, 1)]
    mem = run.stats()["memory"]
    assert (mem.delivered, mem.failed) == (6, 0)


def test_flush_and_close_errors_are_reported_not_raised(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    class BadFlush(Recorder):
        def flush(self) -> None:
            raise OSError("disk gone")

        def close(self, status: RunStatus) -> None:
            raise OSError("cannot close")

    backend = BadFlush()
    run = start(host, {"bad": backend}, "memory")
    run.log_metric("x", 1.0, step=0)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        assert run.flush(timeout=10) is False
        assert run.stop(timeout=10) is False
    assert backend.points == [("x", 1.0, 0)]
    stats = run.stats()["bad"]
    assert (stats.delivered, stats.failed) == (1, 0)
    assert stats.last_error == "OSError: cannot close"
    messages = [r.getMessage() for r in caplog.records]
    assert any("flush failed: OSError: disk gone" in m for m in messages)
    assert any("close failed: OSError: cannot close" in m for m in messages)
    assert memory.stored(run).status == "finished"


# -- slow and hung backends ------------------------------------------------------------------------


def test_hung_backend_delays_nobody_and_flush_stop_respect_their_timeouts(
    host: PluginHost, gates: list[Gated]
) -> None:
    hung = Gated()
    gates.append(hung)
    run = start(host, {"hung": hung}, "memory", "local", batch_size=50)
    for step in range(500):
        run.log_metric("x", float(step), step=step)
    assert hung.entered.wait(PROGRESS)
    wait_for(lambda: run.stats()["memory"].delivered == 500)
    wait_for(lambda: run.stats()["local"].delivered == 500)

    # Each call returns while the hung write is still held, and not before its timeout
    # (checked from below, with a margin for the clock's resolution).
    began = time.monotonic()
    assert run.flush(timeout=0.3) is False
    took = time.monotonic() - began
    assert took >= 0.25, f"flush(0.3) gave up after {took:.2f}s"
    assert (hung.gate.is_set(), hung.points) == (False, [])

    began = time.monotonic()
    assert run.stop(timeout=0.5) is False
    took = time.monotonic() - began
    assert took >= 0.4, f"stop(0.5) gave up after {took:.2f}s"
    assert (hung.gate.is_set(), hung.points) == (False, [])
    assert memory.stored(run).status == "finished", "the others were closed on time"
    stats = run.stats()["hung"]
    assert (stats.delivered, stats.pending, stats.undelivered) == (0, 0, 500)

    hung.gate.set()  # the write returns at last: the worker finishes and closes
    wait_for(lambda: hung.status == "finished")
    assert hung.points == [("x", float(s), s) for s in range(500)]
    stats = run.stats()["hung"]
    assert (stats.delivered, stats.pending, stats.undelivered) == (500, 0, 0), "late, not lost"


def test_flush_returns_true_once_everything_is_written(host: PluginHost) -> None:
    recorder = Recorder()
    run = start(host, {"rec": recorder}, "local", flush_interval=60)
    for step in range(1234):
        run.log_metric("x", float(step), step=step)
    assert recorder.points == [], "nothing routed before the flush (long interval)"
    assert run.flush(timeout=10) is True
    assert len(recorder.points) == 1234
    assert recorder.flushes == 1
    assert {n: (s.delivered, s.pending) for n, s in run.stats().items()} == {
        "rec": (1234, 0),
        "local": (1234, 0),
    }
    assert run.flush() is True  # nothing new: still confirms
    assert recorder.flushes == 2
    assert run.stop()


# -- routing ---------------------------------------------------------------------------------------


def test_backend_gets_only_the_kinds_it_declares(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    only = MetricsOnly()
    run = start(host, {"only": only}, "memory", flush_interval=60)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        run.log_params({"a": 1, "b": 2})
        run.set_tag("t", "v")
        run.log_metric("x", 1.0, step=0)
        run.log_text("note", "hello")
        assert run.flush(timeout=10)
        run.log_params({"c": 3})  # a second batch with params: no second warning
        run.log_metric("x", 2.0, step=1)
        assert run.stop(timeout=10)
    assert only.kinds == {"metrics"}
    assert only.points == [("x", 1.0, 0), ("x", 2.0, 1)]
    stats = run.stats()["only"]
    assert (stats.delivered, stats.unsupported, stats.failed) == (2, 5, 0)
    mem = run.stats()["memory"]
    assert (mem.delivered, mem.unsupported) == (7, 0)
    warned = [r.getMessage() for r in caplog.records if "does not store" in r.getMessage()]
    assert sorted(warned) == [
        f"backend 'only' does not store {kind}; those records are not sent to it "
        f"(reported once; counted in run.stats()['only'].unsupported)"
        for kind in ("params", "tags", "text")
    ]


def test_batch_size_is_respected(host: PluginHost) -> None:
    recorder = Recorder()
    run = start(host, {"rec": recorder}, batch_size=7, flush_interval=60)
    for step in range(100):
        run.log_metric("x", float(step), step=step)
    run.log_metrics({f"m{i}": float(i) for i in range(20)}, step=0)
    assert run.stop(timeout=10)
    sizes = [len(b) for b in recorder.batches]
    assert sum(sizes) == 120
    assert max(sizes) == 7
    assert len(sizes) >= 120 // 7 + 1
    assert recorder.points[:100] == [("x", float(s), s) for s in range(100)]


# -- overflow --------------------------------------------------------------------------------------


def _paced(run: Run, gated: Gated, count: int) -> None:
    """Log ``count`` points, each routed before the next (so only the worker queue overflows).

    The gated backend is listed first, so once ``memory`` has a record the router has already
    handed it to the gated backend's worker.
    """
    for step in range(count):
        run.log_metric("x", float(step), step=step)
        wait_for(lambda n=step + 1: run.stats()["memory"].delivered == n)
        if step == 0:
            assert gated.entered.wait(PROGRESS)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        ("drop_newest", [0, 1, 2, 3, 4]),  # in flight + the 4 queued first
        ("drop_oldest", [0, 26, 27, 28, 29]),  # in flight (cannot be taken back) + the newest
    ],
)
def test_drop_policies_on_a_slow_backend_count_exactly(
    host: PluginHost, gates: list[Gated], policy: str, kept: list[int]
) -> None:
    slow = Gated()
    gates.append(slow)
    run = start(
        host,
        {"slow": slow},
        "memory",
        batch_size=1,
        max_queue_size=5,
        overflow_policy=policy,
        journal=False,  # with a journal nothing is dropped (see test_journal.py)
    )
    _paced(run, slow, 30)
    stats = run.stats()["slow"]
    assert (stats.pending, stats.dropped, stats.delivered) == (5, 25, 0)
    slow.gate.set()
    assert run.stop(timeout=10)
    stats = run.stats()["slow"]
    assert (stats.delivered, stats.dropped, stats.pending, stats.failed) == (5, 25, 0, 0)
    assert [s for _, _, s in slow.points] == kept
    assert run.stats()["memory"].dropped == 0
    assert memory.stored(run).steps("x") == list(range(30))


def test_block_policy_blocks_the_caller_until_there_is_room(
    host: PluginHost, gates: list[Gated]
) -> None:
    slow = Gated()
    gates.append(slow)
    run = start(
        host,
        {"slow": slow},
        "memory",
        batch_size=1,
        max_queue_size=5,
        overflow_policy="block",
        journal=False,  # with a journal the slow backend reads it and nobody waits
    )
    returned: list[int] = []

    def loop() -> None:
        for step in range(40):
            run.log_metric("x", float(step), step=step)
            returned.append(step)

    logger_thread = threading.Thread(target=loop)
    logger_thread.start()
    try:
        assert slow.entered.wait(PROGRESS)
        # Blocked: the count of returned calls stops growing well short of 40.
        last = -1
        while len(returned) != last:
            last = len(returned)
            time.sleep(0.3)
        assert logger_thread.is_alive()
        assert last < 40
        assert run.stats()["slow"].dropped == 0
    finally:
        slow.gate.set()
        logger_thread.join(PROGRESS)
    assert returned == list(range(40))
    assert run.stop(timeout=10)
    assert [s for _, _, s in slow.points] == list(range(40))
    assert memory.stored(run).steps("x") == list(range(40))
    for name in ("slow", "memory"):
        stats = run.stats()[name]
        assert (stats.delivered, stats.dropped, stats.pending) == (40, 0, 0), name


def test_block_policy_stop_does_not_wait_on_a_hung_backend(
    host: PluginHost, gates: list[Gated]
) -> None:
    hung = Gated()
    gates.append(hung)
    run = start(
        host, {"hung": hung}, "memory", batch_size=1, max_queue_size=5, overflow_policy="block"
    )
    for step in range(9):  # 5 at the hung backend, 1 held by the router, 3 in the buffer
        run.log_metric("x", float(step), step=step)
    assert hung.entered.wait(PROGRESS)
    # stop returns while the hung write is still held: it did not wait for it.
    assert run.stop(timeout=0.5) is False
    assert (hung.gate.is_set(), hung.points) == (False, [])
    assert memory.stored(run).steps("x") == list(range(9)), "the router was not stuck"
    assert memory.stored(run).status == "finished"
    hung.gate.set()
    wait_for(lambda: hung.status == "finished")
    assert [s for _, _, s in hung.points] == list(range(9))


def overflowing(host: PluginHost, policy: str) -> Run:
    """A run whose buffer holds 5 records, with the router asleep (a flush interval of a
    minute) until a logging call that overflows it wakes it."""
    return start_run(
        "dispatch",
        "tests",
        "memory",
        {"flush_interval": 60, "max_queue_size": 5, "overflow_policy": policy},
        host=host,
    )


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        ("drop_newest", ["m0", "m1", "m2", "m3", "m4"]),
        ("drop_oldest", ["m15", "m16", "m17", "m18", "m19"]),
    ],
)
def test_shared_buffer_overflow_drops_down_to_the_bound(
    host: PluginHost, policy: str, kept: list[str]
) -> None:
    run = overflowing(host, policy)  # all 20 points in the buffer at once, 15 over the bound
    run.log_metrics({f"m{i}": float(i) for i in range(20)}, step=3)
    assert run.stop(timeout=10)
    assert sorted(memory.stored(run).metrics, key=lambda n: int(n[1:])) == kept
    stats = run.stats()["memory"]
    assert (stats.delivered, stats.dropped, stats.pending) == (5, 15, 0)
    assert accounted(run, "memory") == 20


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_overflow_never_drops_an_artifact(host: PluginHost, tmp_path: Path, policy: str) -> None:
    # A typed artifact's version is in the run folder as soon as it is logged: dropping its
    # record would leave it there with no journal line, out of reach of tracelet sync.
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = overflowing(host, policy)
    run.log_artifact(run.create_artifact("model", "model").add_file(tmp_path / "model.pt"))
    run.log_metrics({f"m{i}": float(i) for i in range(20)}, step=3)  # 21 records, bound 5
    assert run.stop(timeout=10)
    stored = memory.stored(run)
    assert stored.artifacts["model/model/v0/model.pt"] == b"weights"
    assert len(stored.metrics) == 4  # the excess of 16 came out of the metrics
    stats = run.stats()["memory"]
    assert (stats.delivered, stats.dropped) == (5, 16)


def test_every_record_is_accounted_for(host: PluginHost, gates: list[Gated]) -> None:
    slow, failing, only = Gated(), AlwaysFailing(), MetricsOnly()
    gates.append(slow)
    run = start(
        host,
        {"slow": slow, "failing": failing, "only": only},
        "memory",
        max_queue_size=50,
        batch_size=10,
        journal=False,
        overflow_policy="drop_oldest",
    )
    for step in range(300):
        run.log_metric("x", float(step), step=step)
        if step % 50 == 0:
            run.log_param(f"p{step}", step)
    logged = 306
    # memory is routed to last: once it accounts for everything, the router holds nothing.
    wait_for(lambda: accounted(run, "memory") == logged and run.stats()["memory"].pending == 0)
    for name in ("slow", "failing", "only", "memory"):
        assert accounted(run, name) == logged, (name, run.stats()[name])
    slow.gate.set()
    run.stop(timeout=0.5)
    wait_for(lambda: slow.status == "finished")
    for name in ("slow", "failing", "only", "memory"):
        stats = run.stats()[name]
        assert accounted(run, name) == logged, (name, stats)
    assert only.kinds <= {"metrics"}
    failed = run.stats()["failing"]
    assert (failed.delivered, failed.pending) == (0, 0)
    assert 0 < failed.failed <= 50, "what was still queued at the deadline, within the bound"
    assert failed.dropped == logged - failed.failed
