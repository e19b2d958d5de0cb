"""The journal: every record in the run folder first, backends catching up from it, delivery
state on disk, and the core of ``tracelet sync`` on real backend implementations."""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_dispatch import AlwaysFailing, Gated, Recorder, start, wait_for

from tracelet.backend import RunInfo
from tracelet.backends.local import read_run
from tracelet.delivery import Routed
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.journal import JournalReader, Position
from tracelet.media import encode_png
from tracelet.plugins import PluginHost
from tracelet.records import Batch, Capability
from tracelet.run import Run
from tracelet.session import start_run
from tracelet.syncing import sync

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def delivery_file(run: Run, backend: str) -> dict[str, Any]:
    assert run.journal_path is not None
    return json.loads((run.journal_path / "delivery" / f"{backend}.json").read_text())  # type: ignore[no-any-return]


def queued_records(run: Run, backend: str) -> int:
    worker = run._dispatcher.workers[backend]  # type: ignore[union-attr]
    return sum(len(m.batch) for m in list(worker._inbox) if isinstance(m, Routed))


# -- catching up from the journal ------------------------------------------------------------------


def test_a_backend_far_behind_holds_little_in_memory_and_loses_nothing(
    host: PluginHost, gates: list[Gated]
) -> None:
    slow = Gated()
    gates.append(slow)
    run = start(host, {"slow": slow}, "memory", batch_size=10, max_queue_size=20)
    for step in range(1000):
        run.log_metric("x", float(step), step=step)
    assert slow.entered.wait(10)
    wait_for(lambda: run.stats()["memory"].delivered == 1000)
    assert queued_records(run, "slow") <= 20, "past the bound the journal holds the records"
    stats = run.stats()["slow"]
    assert (stats.delivered, stats.pending, stats.dropped) == (0, 1000, 0)
    slow.gate.set()
    assert run.stop(timeout=30), run.stats()
    assert slow.points == [("x", float(s), s) for s in range(1000)], "in order, each once"
    stats = run.stats()["slow"]
    assert (stats.delivered, stats.pending, stats.dropped, stats.undelivered) == (1000, 0, 0, 0)
    state = delivery_file(run, "slow")
    assert (state["seq"], state["delivered"], state["closed"]) == (1000, 1000, True)


def test_catching_up_keeps_only_the_kinds_a_backend_stores(
    host: PluginHost, gates: list[Gated]
) -> None:
    class GatedMetricsOnly(Gated):
        capabilities: ClassVar[frozenset[Capability]] = frozenset({"metrics"})

    slow = GatedMetricsOnly()
    gates.append(slow)
    run = start(host, {"slow": slow}, batch_size=5, max_queue_size=10)
    for step in range(200):
        run.log_metric("x", float(step), step=step)
        run.log_text("note", f"t{step}", step=step)
    assert slow.entered.wait(10)
    slow.gate.set()
    assert run.stop(timeout=30), run.stats()
    assert slow.kinds == {"metrics"}
    assert [s for _, _, s in slow.points] == list(range(200))
    stats = run.stats()["slow"]
    assert (stats.delivered, stats.unsupported, stats.pending) == (200, 200, 0)
    assert delivery_file(run, "slow")["seq"] == 400, "the cursor passes unsupported records"


def test_stop_twice_gives_the_same_answer_and_undelivered_is_not_pending(
    host: PluginHost,
) -> None:
    run = start(host, {"failing": AlwaysFailing()}, "local", batch_size=100)
    for step in range(300):
        run.log_metric("x", float(step), step=step)
    assert run.stop(timeout=0.5) is False
    assert run.stop(timeout=0.5) is False
    failing = run.stats()["failing"]
    assert (failing.delivered, failing.pending, failing.failed, failing.undelivered) == (
        0,
        0,
        0,
        300,
    )
    assert run.stats()["local"].delivered == 300
    state = delivery_file(run, "failing")
    assert (state["seq"], state["closed"]) == (0, False)


def test_abandoning_a_stop_in_progress_still_closes_the_run_folder(
    host: PluginHost, gates: list[Gated], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second Ctrl-C interrupts ``stop`` after it queued the close, while the router is still
    writing: abandoning waits for that close, so the folder never stays 'running'."""
    slow = Gated()
    gates.append(slow)
    run = start(host, {"slow": slow})
    run.log_metric("x", 0.0, step=0)
    assert slow.entered.wait(10)
    journal = run._dispatcher.journal  # type: ignore[union-attr]
    assert journal is not None
    assert run.journal_path is not None
    write, writing = journal.write, threading.Event()

    def slow_write(batch: Batch) -> None:
        writing.set()
        time.sleep(0.5)  # the router is busy when the close is queued
        write(batch)

    monkeypatch.setattr(journal, "write", slow_write)
    run.log_metric("x", 1.0, step=1)
    assert writing.wait(10)
    stopping = threading.Thread(target=run.stop, kwargs={"status": "killed", "timeout": 30})
    stopping.start()
    wait_for(lambda: run._dispatcher._closing)  # type: ignore[union-attr]
    run._dispatcher.abandon("killed", grace=0.05)  # type: ignore[union-attr]
    assert read_run(run.journal_path).status == "killed"
    assert [p.step for p in read_run(run.journal_path).metrics["x"]] == [0, 1]
    slow.gate.set()
    stopping.join(30)


def test_without_a_journal_there_is_no_run_folder(host: PluginHost, tmp_path: Path) -> None:
    run = start(host, {}, "memory", journal=False)
    run.log_metric("x", 1.0)
    assert run.stop()
    assert run.journal_path is None
    assert not (tmp_path / "tracelet-runs").exists()

    journaled = start_run("j", "tests", "memory", host=host)
    journaled.log_metric("x", 1.0)
    assert journaled.stop()
    assert journaled.journal_path is not None
    assert journaled.journal_path.parent.parent == tmp_path / "tracelet-runs"
    assert [p.value for p in read_run(journaled.journal_path).metric_history("x")] == [1.0]
    assert "local" not in journaled.stats(), "the journal is not a backend the user selected"


# -- reading the journal back ----------------------------------------------------------------------


def test_the_reader_rebuilds_every_kind_and_resumes_from_a_position(
    host: PluginHost, tmp_path: Path
) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(b"\x00\x01\x02")
    png = encode_png(bytes(range(12)), 2, 2, 3)
    run = start(host, {}, "local", flush_interval=60)
    run.log_params({"lr": 0.1, "name": "adam", "flag": True, "none": None})
    run.set_tag("k", "v")
    for step, value in enumerate([1.5, math.nan, math.inf, -math.inf, 2.0]):
        run.log_metric("m", value, step=step)
    run.log_artifact(artifact, "models/w.bin")
    run.log_text("t", "hello", step=1)
    run.log_image("img", png, step=2, caption="c")
    run.log_histogram("h", [1.0, 2.0, 2.5], step=3, bins=2)
    assert run.stop()
    folder = run.journal_path
    assert folder is not None

    reader = JournalReader(folder)
    reads = list(reader.batches(Position(), size=4))
    assert [r.start.seq for r in reads] == [0, 4, 8, 12]
    assert all(a.end == b.start for a, b in itertools.pairwise(reads))
    assert reads[-1].end == reader.end()
    assert reader.end() == Position(14, (folder / "records.jsonl").stat().st_size)
    whole = Batch()
    for r in reads:
        for kind in ("metrics", "params", "tags", "artifacts", "media"):
            getattr(whole, kind).extend(getattr(r.batch, kind))
    assert [(p.name, p.value) for p in whole.params] == [
        ("lr", 0.1),
        ("name", "adam"),
        ("flag", True),
        ("none", None),
    ]
    assert [(t.name, t.value) for t in whole.tags] == [("k", "v")]
    values = [v for _, v, _, _ in whole.metrics]
    assert values[0] == 1.5
    assert math.isnan(values[1])
    assert values[2:] == [math.inf, -math.inf, 2.0]
    (copied,) = whole.artifacts
    assert (copied.name, copied.path.read_bytes()) == ("models/w.bin", b"\x00\x01\x02")
    text, image, histogram = whole.media
    assert (text.name, text.text, text.step) == ("t", "hello", 1)  # type: ignore[union-attr]
    assert (image.png, image.caption, image.width) == (png, "c", 2)  # type: ignore[union-attr]
    assert histogram.counts == (1, 2)  # type: ignore[union-attr]

    # A stored cursor resumes without reading from the start; a wrong hint is corrected.
    assert reader.seek(8, reads[2].start.offset) == reads[2].start
    assert reader.seek(8, 3) == reads[2].start
    rest = list(reader.batches(reads[2].start, size=100))
    assert [(r.start.seq, r.end.seq) for r in rest] == [(8, 14)]
    assert list(reader.batches(reader.end(), size=10)) == []


def test_a_line_cut_short_by_a_crash_ends_the_read(host: PluginHost) -> None:
    run = start(host, {}, "local")
    for step in range(10):
        run.log_metric("x", float(step), step=step)
    assert run.stop()
    assert run.journal_path is not None
    records = run.journal_path / "records.jsonl"
    with open(records, "ab") as fh:
        fh.write(b'{"type":"metric","name":"x","val')
    reader = JournalReader(run.journal_path)
    assert reader.end().seq == 10
    assert sum(len(r.batch) for r in reader.batches(Position(), size=3)) == 10


# -- steps the backends cannot store ---------------------------------------------------------------


def test_a_step_outside_int64_is_refused_at_the_call(host: PluginHost) -> None:
    run = start(host, {}, "memory")
    with pytest.raises(ValueError, match=r"metric 'loss': step 9223372036854775808 is outside"):
        run.log_metric("loss", 1.0, step=2**63)
    with pytest.raises(ValueError, match="log_metrics: step -9223372036854775809"):
        run.log_metrics({"a": 1.0}, step=-(2**63) - 1)
    with pytest.raises(ValueError, match="image 'i': step"):
        run.log_image("i", encode_png(b"\x00", 1, 1, 1), step=2**64)
    run.log_metric("loss", 2.0, step=2**63 - 1)
    assert run.stop()
    assert [p.step for p in read_run(run.journal_path).metric_history("loss")] == [2**63 - 1]  # type: ignore[arg-type]


# -- the core of tracelet sync ---------------------------------------------------------------------


class Store:
    """What a resumable test backend keeps "server side": runs by id."""

    def __init__(self) -> None:
        self.runs: dict[str, list[tuple[str, float, int]]] = {}
        self.status: dict[str, str] = {}
        self.down = False
        self.resumed: list[Any] = []
        self.hang_at = -1  # a _ProgressReporting backend hangs at this many stored points
        self.made: list[Any] = []


class Resumable(Recorder):
    """A backend whose runs live in :class:`Store` and that resumes them by id."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.run_id = ""

    def start(self, run: RunInfo) -> None:
        self.store.resumed.append(run.resume)
        if run.resume and run.resume["id"] in self.store.runs:
            self.run_id = str(run.resume["id"])
        else:
            self.run_id = f"r{len(self.store.runs)}"
            self.store.runs[self.run_id] = []

    def fail(self, batch: Batch) -> None:
        if self.store.down:
            raise ConnectionError("down")

    def write(self, batch: Batch) -> None:
        super().write(batch)
        self.store.runs[self.run_id].extend((n, v, s) for n, v, s, _ in batch.metrics)

    def close(self, status: Any) -> None:
        super().close(status)
        self.store.status[self.run_id] = status

    @property
    def identity(self) -> dict[str, Any] | None:
        return {"id": self.run_id}


class _ResumablePlugin:
    def __init__(self, store: Store) -> None:
        self.store = store

    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        register("remote", lambda settings: Resumable(self.store))


def run_with_outage(
    host: PluginHost, plugin: type[_ResumablePlugin], *, before: int, during: int
) -> tuple[Store, Run]:
    """A stopped run on the test ``remote`` backend of ``plugin``: ``before`` points (``x`` =
    step) delivered, then ``during`` more logged while its store was down, so that stop gave up
    on them. The store is up again on return."""
    store = Store()
    host.register(plugin(store), name="remote-plugin")
    run = start_run("outage", "tests", "remote", {"flush_interval": 0.05}, host=host)
    for step in range(before):
        run.log_metric("x", float(step), step=step)
    assert run.flush(timeout=10)
    store.down = True
    for step in range(before, before + during):
        run.log_metric("x", float(step), step=step)
    assert run.stop(timeout=0.5) is False
    store.down = False
    return store, run


def test_sync_resumes_the_run_and_delivers_only_what_is_missing(host: PluginHost) -> None:
    store, run = run_with_outage(host, _ResumablePlugin, before=100, during=150)
    assert run.stats()["remote"].undelivered == 150
    assert len(store.runs["r0"]) == 100

    folder = run.journal_path
    assert folder is not None
    (result,) = sync([folder], host=host, progress=False)
    assert (result.delivered, result.already, result.remaining, result.status) == (
        150,
        100,
        0,
        "finished",
    )
    assert store.resumed[-1] == {"id": "r0"}, "started with the saved identity"
    assert list(store.runs) == ["r0"], "no second run"
    assert store.runs["r0"] == [("x", float(s), s) for s in range(250)]
    assert store.status["r0"] == "finished"
    (again,) = sync([run.id], host=host, progress=False)
    assert (again.delivered, again.status) == (0, "up to date")
    assert len(store.runs["r0"]) == 250


def test_sync_gives_up_on_a_backend_still_down_and_keeps_the_cursor(host: PluginHost) -> None:
    store, run = run_with_outage(host, _ResumablePlugin, before=0, during=20)
    store.down = True  # still
    (result,) = sync([run.id], host=host, timeout=0.3, progress=False)
    assert result.remaining == 20
    assert result.status.startswith("error: ConnectionError: down")
    assert not result.ok
    store.down = False
    (result,) = sync([run.id], host=host, progress=False)
    assert (result.delivered, result.remaining, result.status) == (20, 0, "finished")
    assert store.runs["r0"] == [("x", float(s), s) for s in range(20)]


def test_sync_of_a_live_run_is_skipped(host: PluginHost) -> None:
    store = Store()
    host.register(_ResumablePlugin(store), name="remote-plugin")
    run = start_run("live", "tests", "remote", {"flush_interval": 0.05}, host=host)
    run.log_metric("x", 1.0)
    (result,) = sync([run.id], host=host, progress=False)
    assert result.status == "skipped: its process is still running"
    assert run.stop()


def test_sync_names_a_run_it_cannot_find(host: PluginHost) -> None:
    with pytest.raises(FileNotFoundError, match=r"no run 'nope'.*local.path"):
        sync(["nope"], host=host)


def test_runs_and_show_print_what_each_backend_is_behind_on(
    host: PluginHost, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracelet.cli import main

    run = start(host, {"failing": AlwaysFailing()}, "local", batch_size=100)
    for step in range(300):
        run.log_metric("x", float(step), step=step)
    assert run.stop(timeout=0.5) is False
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "failing 300 behind, not closed" in out
    assert main(["show", str(run.journal_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  failing +300 behind, not closed$", out, re.M), out
    assert f"deliver the rest with: tracelet sync {run.journal_path}" in out
    assert main(["show", str(run.journal_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["delivery"] == {"failing": {"behind": 300, "failed": 0, "closed": False}}
    assert main(["sync", "--dry-run", run.id]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out
    assert main(["sync"]) == 2


class _NoResume(Resumable):
    @property
    def identity(self) -> dict[str, Any] | None:
        return None


class _NoResumePlugin(_ResumablePlugin):
    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        register("remote", lambda settings: _NoResume(self.store))


def test_sync_does_not_split_a_run_across_two_when_the_backend_cannot_resume(
    host: PluginHost,
) -> None:
    store, run = run_with_outage(host, _NoResumePlugin, before=1, during=1)
    (result,) = sync([run.id], host=host, progress=False)
    assert result.status.startswith("error: remote cannot resume the run it started")
    assert "--new-run" in result.status
    assert (result.delivered, result.remaining) == (0, 1)
    assert list(store.runs) == ["r0"], "no second run with the rest"

    (whole,) = sync([run.id], host=host, new_run=True, progress=False)
    assert (whole.delivered, whole.already, whole.status) == (2, 0, "finished")
    assert store.runs["r1"] == [("x", 0.0, 0), ("x", 1.0, 1)], "everything, in a new run"
    (again,) = sync([run.id], host=host, progress=False)
    assert again.status == "up to date"


# -- poison records --------------------------------------------------------------------------------


class Poisoned(Recorder):
    """Refuses, for its content, any batch holding the metric ``poison`` (as an SDK raising
    ValueError would); a ConnectionError on the first write stands for a transient error."""

    def __init__(self) -> None:
        super().__init__()
        self.transient = 1

    def fail(self, batch: Batch) -> None:
        if self.transient:
            self.transient -= 1
            raise ConnectionError("server restarting")
        if any(name == "poison" for name, _, _, _ in batch.metrics):
            raise ValueError("value refused by the SDK")


def test_a_poisoned_point_among_10k_fails_alone(host: PluginHost) -> None:
    poisoned = Poisoned()
    run = start(host, {"p": poisoned}, batch_size=1000)
    for step in range(10_000):
        run.log_metric("poison" if step == 4321 else "x", float(step), step=step)
    assert run.stop(timeout=30) is False, "a refused record makes the delivery incomplete"
    stats = run.stats()["p"]
    assert (stats.delivered, stats.failed, stats.pending, stats.retries) == (9999, 1, 0, 1)
    assert [s for _, _, s in poisoned.points] == [s for s in range(10_000) if s != 4321]
    state = delivery_file(run, "p")
    assert state["failed"] == 1
    (failure,) = state["failures"]
    assert (failure["count"], failure["reason"]) == (1, "ValueError: value refused by the SDK")
    # seq: the first record of the batch it was refused in (batches are cut by time as well).
    assert failure["seq"] <= 4321 < failure["seq"] + 1000


def test_transient_and_permanent_errors_are_told_apart() -> None:
    from tracelet.backend import is_permanent_error

    for transient in (ConnectionError(), TimeoutError(), OSError("locked"), RuntimeError()):
        assert not is_permanent_error(transient)
    for permanent in (ValueError(), TypeError(), OverflowError(), KeyError("k")):
        assert is_permanent_error(permanent)


def test_sync_on_start_delivers_what_earlier_runs_missed(host: PluginHost) -> None:
    store, _ = run_with_outage(host, _ResumablePlugin, before=0, during=50)
    later = start_run("later", "tests", "remote", {"sync_on_start": True}, host=host)
    wait_for(lambda: len(store.runs["r0"]) == 50)
    assert store.runs["r0"] == [("x", float(s), s) for s in range(50)]
    assert later.stop()
    assert list(store.runs) == ["r0", "r1"], "the live run was left alone"


def test_progress_lines_carry_the_cursor_between_state_files(tmp_path: Path) -> None:
    from tracelet.delivery_state import DeliveryState

    state = DeliveryState.load(tmp_path, "b")
    state.identity = {"id": "r0"}
    state.save()
    for seq in (1000, 2000, 3000):
        state.cursor, state.delivered = Position(seq, seq * 40), seq
        state.record_progress()
    state.release()
    with open(state.progress_path, "ab") as fh:
        fh.write(b"[4000,160")  # cut short by a crash
    loaded = DeliveryState.load(tmp_path, "b")
    assert (loaded.identity, loaded.cursor, loaded.delivered) == (
        {"id": "r0"},
        Position(3000, 120000),
        3000,
    )
    assert not loaded.closed


def test_show_finds_a_run_by_id_name_or_latest(
    host: PluginHost, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracelet.cli import main

    first = start_run("alpha", "tests", "local", host=host)
    first.log_metric("x", 1.0)
    assert first.stop()
    second = start_run("beta", "tests", "local", host=host)
    second.log_metric("y", 2.0)
    assert second.stop()
    for ref, name in ((first.id, "alpha"), ("alpha", "alpha"), ("latest", "beta")):
        capsys.readouterr()
        assert main(["show", ref]) == 0
        assert f"name:     {name}" in capsys.readouterr().out
    assert main(["show", "gamma"]) == 2
    assert "no run 'gamma'" in capsys.readouterr().err


def test_drops_are_recorded_in_the_folder_while_the_run_goes(
    host: PluginHost, capsys: pytest.CaptureFixture[str]
) -> None:
    import math

    from tracelet.cli import main

    run = start(host, {}, "local", nan_policy="drop")
    for step in range(10):
        run.log_metric("x", math.nan if step % 3 == 0 else 1.0, step=step)
    assert run.flush(timeout=10)
    assert run.journal_path is not None
    assert read_run(run.journal_path).dropped == 4, "recorded before the run ends"
    assert run.stop()
    capsys.readouterr()
    assert main(["show", str(run.journal_path)]) == 0
    assert "dropped: 4 record(s) never reached the run folder" in capsys.readouterr().out
    assert main(["runs"]) == 0
    assert "4 dropped" in capsys.readouterr().out


class _ProgressReporting(Resumable):
    """Stores one point per call through a ResumableWriter and reports progress inside the
    batch; the 31st call of its first batch hangs, as a process would die mid-batch."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        from tracelet.resumable import ResumableWriter

        self.writer = ResumableWriter(self._plan)
        self.gate = threading.Event()

    def track_progress(self, callback: Any) -> None:
        self.writer.progress = callback

    def write(self, batch: Batch) -> None:
        self.writer.write(batch)

    def _plan(self, batch: Batch) -> Any:
        from tracelet.resumable import WritePlan

        plan = WritePlan(batch)
        for point in batch.metrics:
            plan.add(lambda p=point: self._store_point(p), 1)
        return plan

    def _store_point(self, point: tuple[str, float, int, float]) -> None:
        if self.store.hang_at == len(self.store.runs[self.run_id]):
            self.gate.wait(30)
            raise ConnectionError("the process died here")
        self.store.runs[self.run_id].append(point[:3])


class _ProgressPlugin(_ResumablePlugin):
    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        def make(settings: Any) -> _ProgressReporting:
            backend = _ProgressReporting(self.store)
            self.store.made.append(backend)
            return backend

        register("remote", make)


def test_a_batch_cut_in_the_middle_resumes_after_the_records_already_stored(
    host: PluginHost,
) -> None:
    store = Store()
    store.hang_at = 30
    host.register(_ProgressPlugin(store), name="remote-plugin")
    run = start_run("cut", "tests", "remote", {"flush_interval": 0.05}, host=host)
    for step in range(100):
        run.log_metric("x", float(step), step=step)
    wait_for(lambda: len(store.runs["r0"]) == 30)
    assert run.stop(timeout=0.5) is False  # the write hangs: given up at the deadline
    from tracelet.delivery_state import DeliveryState

    assert run.journal_path is not None
    state = DeliveryState.load(run.journal_path, "remote")
    assert (state.cursor.seq, state.skip) == (0, 30), "the 30 stored are on record"

    store.hang_at = -1
    (result,) = sync([run.id], host=host, progress=False)
    assert (result.delivered, result.remaining, result.status) == (70, 0, "finished")
    assert store.runs["r0"] == [("x", float(s), s) for s in range(100)], "each point once"
    store.made[0].gate.set()  # the "dead" write ends: let its worker finish within the test
    wait_for(lambda: not any(t.name == "tracelet-backend-remote" for t in threading.enumerate()))
