"""The backend contract: what every Tracelet backend must do, as a pytest test class.

Each test starts a real run on the backend under test, with no collector or capture running
(the run holds only what the test logs) and its journal in a temporary folder, stops it, and
reads it back through the harness. A failure names the check, what was expected, what was
stored and what to do (:mod:`tracelet.testing.checks`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from tracelet import media
from tracelet.delivery_state import DeliveryState
from tracelet.journal import JournalReader
from tracelet.plugins import PluginHost, get_default_host
from tracelet.records import RunStatus
from tracelet.run import Run
from tracelet.session import start_run
from tracelet.syncing import NOT_SYNCED, sync
from tracelet.testing.checks import (
    check_metrics,
    expect,
    image_pixels,
    pixels_close,
    png_rgb,
    same_value,
)
from tracelet.testing.flaky import flaky_host
from tracelet.testing.harness import BackendHarness

_IMAGE = [
    [(255, 0, 0), (0, 255, 0), (0, 0, 255)],
    [(0, 0, 0), (128, 128, 128), (255, 255, 255)],
]
_HISTOGRAM_VALUES = [0.0, 0.1, 0.2, 0.5, 0.5, 0.9, 1.0]
_TEXT = "hello\nsecond line"


def _declined(run: Run, harness: BackendHarness, kind: str, logged: int) -> bool:
    """True when the backend does not declare ``kind``: then its records must be counted as
    unsupported (never failed, never raised); the caller skips the round-trip check."""
    if kind in run.capabilities()[harness.backend]:
        return False
    stats = run.stats()[harness.backend]
    expect(
        (stats.unsupported, stats.failed) == (logged, 0),
        f"records of an undeclared kind ({kind}) were not counted as unsupported",
        {"unsupported": logged, "failed": 0},
        {"unsupported": stats.unsupported, "failed": stats.failed},
        "this is Tracelet's job: report it as a Tracelet bug",
    )
    return True


def _stopped(run: Run, harness: BackendHarness, timeout: float = 60) -> None:
    ok = run.stop(timeout=timeout)
    expect(
        ok,
        "run.stop() did not deliver everything",
        "every record delivered",
        run.stats()[harness.backend],
        "write() must return once the batch is stored, and raise only when nothing was",
    )


class BackendContract:
    """The tests every backend must pass. Subclass and provide the ``harness`` fixture."""

    journal_root: Path

    @pytest.fixture
    def harness(self) -> BackendHarness:
        """Override in the subclass: return the harness for the backend under test."""
        raise NotImplementedError("subclasses of BackendContract provide a 'harness' fixture")

    @pytest.fixture(autouse=True)
    def _journal_folder(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        """The run folders (journals) of the kit's runs go to a temporary folder."""
        self.journal_root = tmp_path_factory.mktemp("tracelet-kit-runs")

    def start(
        self,
        harness: BackendHarness,
        name: str,
        host: PluginHost | None = None,
        **settings: Any,
    ) -> Run:
        """Start a run on the harness's backend: no collectors or captures, the journal in a
        temporary folder, a small flush interval (tests stay quick), then ``settings``."""
        config: dict[str, Any] = {"flush_interval": 0.05, **harness.config(), **settings}
        host = host or harness.host or get_default_host()
        if "local" in host.backends:
            config.setdefault("local", {"path": str(self.journal_root)})
        return start_run(
            exp_name=name,
            project="tracelet-contract",
            backend=harness.backend,
            config=config,
            host=host,
            collectors=False,
        )

    # -- metrics ---------------------------------------------------------------------------

    def test_metrics_round_trip_in_order(self, harness: BackendHarness) -> None:
        run = self.start(harness, "metrics")
        expected: dict[str, list[tuple[int, float]]] = {"train/loss": [], "train/acc": [], "lr": []}
        for step in range(300):
            for name, points in expected.items():
                value = (step + 1) / (len(name) + step + 2)
                run.log_metric(name, value, step=step)
                points.append((step, value))
        _stopped(run, harness)
        check_metrics(harness.read(run), expected)

    def test_step_zero_and_metrics_batch(self, harness: BackendHarness) -> None:
        run = self.start(harness, "step-zero")
        run.log_metrics({"a": 1.5, "b": -2.0}, step=0)
        run.log_metrics({"a": 2.5, "b": -3.0}, step=1)
        _stopped(run, harness)
        check_metrics(harness.read(run), {"a": [(0, 1.5), (1, 2.5)], "b": [(0, -2.0), (1, -3.0)]})

    def test_backwards_step_is_kept(self, harness: BackendHarness) -> None:
        run = self.start(harness, "backwards")
        points = [(0, 1.0), (1, 2.0), (2, 3.0), (1, 4.0), (3, 5.0)]
        for step, value in points:
            run.log_metric("resumed", value, step=step)
        _stopped(run, harness)
        got = harness.read(run).metrics.get("resumed", [])
        expect(
            sorted(got) == sorted(points),
            "a step that goes backwards was not kept (a resumed training logs one)",
            points,
            got,
            "store every point as logged; never drop or overwrite one because its step is lower",
        )

    def test_timestamps_are_the_logging_times(self, harness: BackendHarness) -> None:
        precision = harness.timestamp_precision
        if precision is None:
            return  # declared: the tool records its own time (of delivery) or none
        run = self.start(harness, "timestamps", flush_interval=0.5)
        windows = []
        for step in range(3):
            before = time.time()
            run.log_metric("t", float(step), step=step)
            windows.append((before, time.time()))
            time.sleep(0.2)  # delivery comes later: a backend stamping its write time is off
        _stopped(run, harness)
        times = harness.read(run).metric_times.get("t", [])
        expect(
            len(times) == 3,
            "no timestamp read back for each point of metric 't'",
            "3 timestamps",
            times,
            "fill StoredRun.metric_times in the harness's read from what the backend stored; if "
            "the tool records its own time or none, declare timestamp_precision = None",
        )
        for step, ((before, after), stored) in enumerate(zip(windows, times, strict=True)):
            expect(
                before - precision <= stored <= after + precision,
                f"metric 't' at step {step}: the stored timestamp is not the time of the call",
                f"between {before:.6f} and {after:.6f} (± {precision} s)",
                stored,
                "store each point's timestamp (the 4th item of a metric tuple, seconds since "
                "the epoch), not the time of the write; declare the tool's precision in "
                "timestamp_precision",
            )

    def test_non_finite_values_are_stored_or_counted_failed(self, harness: BackendHarness) -> None:
        run = self.start(harness, "non-finite", nan_policy="keep")
        values = [1.0, math.nan, 2.0, math.inf, 3.0, -math.inf, 4.0]
        for step, value in enumerate(values):
            run.log_metric("x", value, step=step)
        run.stop(timeout=60)
        stats = run.stats()[harness.backend]
        got = dict(harness.read(run).metrics.get("x", []))
        for step, value in enumerate(values):
            if math.isfinite(value) or step in got:
                expect(
                    step in got and same_value(got[step], value),
                    f"metric 'x' at step {step} (logged {value}) is missing or wrong, next to "
                    "NaN and infinite values",
                    value,
                    got.get(step, "missing"),
                    "store NaN and ±inf if the tool can (±inf as ±max float is accepted); "
                    "otherwise refuse exactly those points (raise ValueError: the dispatcher "
                    "isolates them) so that the others are stored",
                )
        missing = sum(
            1 for step, v in enumerate(values) if not math.isfinite(v) and step not in got
        )
        expect(
            missing == stats.failed,
            "non-finite points neither stored nor counted as failed: lost silently",
            f"{missing} failed",
            f"{stats.failed} failed",
            "raise for the points the tool refuses (a permanent error: ValueError) instead of "
            "dropping them",
        )

    # -- params, tags, artifacts -----------------------------------------------------------

    def test_params_round_trip(self, harness: BackendHarness) -> None:
        run = self.start(harness, "params")
        run.log_params({"lr": 0.001, "epochs": 3, "optimizer": {"name": "adam", "beta1": 0.9}})
        run.log_param("use_amp", True)
        _stopped(run, harness)
        if _declined(run, harness, "params", 5):
            return
        params = {k: str(v) for k, v in harness.read(run).params.items()}
        expected = {
            "lr": "0.001",
            "epochs": "3",
            "optimizer/name": "adam",
            "optimizer/beta1": "0.9",
            "use_amp": "True",
        }
        for key, value in expected.items():
            expect(
                params.get(key) == value,
                f"param {key!r} differs",
                value,
                params.get(key, "missing"),
                "store params under their flattened names ('optimizer/name'), values as given",
            )

    def test_tags_round_trip(self, harness: BackendHarness) -> None:
        run = self.start(harness, "tags")
        run.set_tags({"team": "vision", "stage": "dev"})
        run.set_tag("seed", 7)
        _stopped(run, harness)
        if _declined(run, harness, "tags", 3):
            return
        tags = harness.read(run).tags
        for key, value in {"team": "vision", "stage": "dev", "seed": "7"}.items():
            expect(
                tags.get(key) == value,
                f"tag {key!r} differs",
                value,
                tags.get(key, "missing"),
                "store each tag's name and value (values arrive as text)",
            )

    def test_params_and_tags_over_several_batches(self, harness: BackendHarness) -> None:
        run = self.start(harness, "later-batches")
        run.log_param("first", 1)
        run.set_tag("first", "a")
        assert run.flush(timeout=60)
        run.log_param("second", 2)
        assert run.flush(timeout=60)
        run.log_params({"third": 3})
        run.set_tag("third", "c")
        _stopped(run, harness)
        stored = harness.read(run)
        caps = run.capabilities()[harness.backend]
        if "params" in caps:
            params = {k: str(v) for k, v in stored.params.items()}
            want = {"first": "1", "second": "2", "third": "3"}
            expect(
                {k: params.get(k) for k in want} == want,
                "params logged after the first batch are missing",
                want,
                {k: params.get(k, "missing") for k in want},
                "store the params of every batch, not only of the first one",
            )
        if "tags" in caps:
            want_tags = {"first": "a", "third": "c"}
            expect(
                {k: stored.tags.get(k) for k in want_tags} == want_tags,
                "tags logged after the first batch are missing",
                want_tags,
                {k: stored.tags.get(k, "missing") for k in want_tags},
                "store the tags of every batch, adding to those already stored",
            )

    def test_artifacts_round_trip(self, harness: BackendHarness, tmp_path: Path) -> None:
        model = tmp_path / "model.bin"
        model.write_bytes(bytes(range(256)) * 4)
        folder = tmp_path / "eval"
        (folder / "sub").mkdir(parents=True)
        (folder / "report.txt").write_text("accuracy 0.9\n")
        (folder / "sub" / "cm.csv").write_text("1,0\n0,1\n")
        run = self.start(harness, "artifacts")
        run.log_artifact(model, name="models/model.bin")
        run.log_artifact(folder)
        _stopped(run, harness)
        if _declined(run, harness, "artifacts", 2):
            return
        artifacts = harness.read(run).artifacts
        for path, content in (
            ("models/model.bin", model.read_bytes()),
            ("eval/report.txt", b"accuracy 0.9\n"),
            ("eval/sub/cm.csv", b"1,0\n0,1\n"),
        ):
            expect(
                artifacts.get(path) == content,
                f"artifact {path!r} is missing or its content differs",
                f"{len(content)} bytes",
                "missing" if path not in artifacts else f"{len(artifacts[path])} bytes",
                "store the file's bytes under the artifact's name; a directory's files under "
                "'<name>/<relative path>'",
            )

    # -- media -----------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", ["images", "histograms", "text"])
    def test_media_round_trip(self, harness: BackendHarness, kind: str) -> None:
        run = self.start(harness, f"media-{kind}")
        if kind == "images":
            run.log_image("sample", png_rgb(_IMAGE), step=3)
        elif kind == "histograms":
            run.log_histogram("weights", _HISTOGRAM_VALUES, step=2, bins=4)
        else:
            run.log_text("notes", _TEXT, step=1)
        _stopped(run, harness)
        if _declined(run, harness, kind, 1):
            return
        stored = harness.read(run)
        field = {"images": stored.images, "histograms": stored.histograms, "text": stored.texts}
        found = field[kind]
        expect(
            found is not None,
            f"the backend declares {kind!r} but the harness read none back",
            f"StoredRun.{'texts' if kind == 'text' else kind} filled",
            None,
            f"fill StoredRun.{'texts' if kind == 'text' else kind} in the harness's read from "
            f"what the backend stored, or do not declare {kind!r}",
        )
        assert found is not None
        name = {"images": "sample", "histograms": "weights", "text": "notes"}[kind]
        entries: list[tuple[int, Any]] = list(found.get(name, []))
        step = {"images": 3, "histograms": 2, "text": 1}[kind]
        expect(
            [s for s, _ in entries] == [step],
            f"{kind} {name!r}: not stored once at its step",
            [step],
            [s for s, _ in entries],
            "store each media record once, under its name, at its step",
        )
        content = entries[0][1]
        if kind == "images":
            pixels = image_pixels(content)
            expect(
                pixels_close(pixels, _IMAGE, harness.image_tolerance),
                f"image {name!r}: the stored pixels differ",
                _IMAGE,
                pixels,
                "store the PNG as given (Image.png), or declare image_tolerance for a lossy format",
            )
        elif kind == "histograms":
            _, counts, _ = media.histogram(_HISTOGRAM_VALUES, 4)
            expect(
                [float(c) for c in content] == [float(c) for c in counts],
                f"histogram {name!r}: the stored counts differ",
                list(counts),
                content,
                "store Histogram.counts per bin with Histogram.edges (values is empty when the "
                "caller gave bins)",
            )
        else:
            expect(
                content == _TEXT,
                f"text {name!r}: the stored text differs",
                _TEXT,
                content,
                "store Text.text as given, line breaks included",
            )

    # -- delivery --------------------------------------------------------------------------

    def test_flush_delivers_everything_logged_before_it(self, harness: BackendHarness) -> None:
        run = self.start(harness, "flush")
        for step in range(50):
            run.log_metric("x", float(step), step=step)
        flushed = run.flush(timeout=60)
        stats = run.stats()[harness.backend]
        expect(
            flushed and (stats.delivered, stats.pending, stats.failed) == (50, 0, 0),
            "run.flush() returned before the backend had stored what was logged",
            {"delivered": 50, "pending": 0, "failed": 0},
            {"delivered": stats.delivered, "pending": stats.pending, "failed": stats.failed},
            "write() must store the batch before returning; flush() must make it durable",
        )
        run.log_metric("x", 50.0, step=50)
        _stopped(run, harness)
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(51)]})

    def test_sync_resumes_an_interrupted_delivery(self, harness: BackendHarness) -> None:
        """For a backend with an ``identity``: as if its process had died after storing every
        record but before its cursor moved past the second half, ``tracelet.sync`` resumes
        the run and every point is stored exactly once."""
        if harness.backend in NOT_SYNCED:
            return  # nothing outside the process to deliver into
        run = self.start(harness, "resume")
        run.log_params({"lr": 0.5})
        for step in range(100):
            run.log_metric("x", float(step), step=step)
        _stopped(run, harness)
        assert run.journal_path is not None
        state = DeliveryState.load(run.journal_path, harness.backend)
        if state.identity is None:
            return  # declared: cannot resume, so sync delivers only runs it never started
        state.progress_path.unlink(missing_ok=True)
        state.cursor = JournalReader(run.journal_path).seek(51)
        state.closed, state.skip = False, 0
        state.save()
        config = {**harness.config(), "local": {"path": str(self.journal_root)}}
        (result,) = sync(
            [run.journal_path],
            to=[harness.backend],
            config=config,
            host=harness.host,
            progress=False,
        )
        expect(
            (result.status, result.remaining) == ("finished", 0),
            "tracelet sync did not finish the interrupted delivery",
            {"status": "finished", "remaining": 0},
            {"status": result.status, "remaining": result.remaining},
            "resume the run named by run.resume in start(); a record sent again must not be "
            "stored twice (or replace the run with a complete one and return a new identity)",
        )
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(100)]})

    @pytest.mark.parametrize("status", ["finished", "failed", "killed"])
    def test_close_status(self, harness: BackendHarness, status: RunStatus) -> None:
        run = self.start(harness, f"status-{status}")
        run.log_metric("x", 1.0, step=0)
        assert run.stop(status)
        stored = harness.read(run).status
        if not harness.stores_status:
            expect(
                stored is None,
                "the harness declares stores_status = False but read a status",
                None,
                stored,
                "set stores_status = True in the harness (the default)",
            )
            return
        expected = harness.killed_status if status == "killed" else status
        expect(
            stored == expected,
            f"run.stop({status!r}): the stored run status differs",
            expected,
            stored,
            "store the status close() receives; if the tool has no run status, declare "
            "stores_status = False in the harness",
        )

    def test_exception_in_with_block_fails_the_run(self, harness: BackendHarness) -> None:
        run = self.start(harness, "with-error")

        def fail_inside_the_run() -> None:
            with run:
                run.log_metric("x", 1.0, step=0)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_inside_the_run()
        stored = harness.read(run)
        if harness.stores_status:
            expect(
                stored.status == "failed",
                "a run left by an exception is not stored as failed",
                "failed",
                stored.status,
                "store the status close() receives",
            )
        check_metrics(stored, {"x": [(0, 1.0)]})

    def test_transient_write_failures_are_retried(self, harness: BackendHarness) -> None:
        host = flaky_host(harness.backend, failures=2, source=harness.host)
        run = self.start(harness, "flaky", host=host)
        for step in range(20):
            run.log_metric("x", float(step), step=step)
        _stopped(run, harness)
        stats = run.stats()[harness.backend]
        expect(
            stats.retries >= 2 and "injected transient failure" in (stats.last_error or ""),
            "the injected write failures were not retried",
            "2 retries",
            {"retries": stats.retries, "last_error": stats.last_error},
            "this is Tracelet's job: report it as a Tracelet bug",
        )
        expect(
            (stats.delivered, stats.failed, stats.pending) == (20, 0, 0),
            "after retries, not every point was delivered",
            {"delivered": 20, "failed": 0, "pending": 0},
            {"delivered": stats.delivered, "failed": stats.failed, "pending": stats.pending},
            "a write that raised must have stored nothing, or tolerate the batch again",
        )
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(20)]})

    def test_unsupported_kinds_are_counted_not_raised(self, harness: BackendHarness) -> None:
        run = self.start(harness, "media")
        run.log_text("sample", "hello", step=0)
        run.log_image("img", png_rgb([[(0, 0, 0)]]), step=0)
        run.log_histogram("weights", [0.1, 0.2, 0.2, 0.9], step=0)
        _stopped(run, harness)
        stats = run.stats()[harness.backend]
        declared = run.capabilities()[harness.backend]
        unsupported = len({"text", "images", "histograms"} - declared)
        expect(
            (stats.delivered, stats.unsupported, stats.failed) == (3 - unsupported, unsupported, 0),
            "media records were not delivered (declared kinds) or counted unsupported (others)",
            {"delivered": 3 - unsupported, "unsupported": unsupported, "failed": 0},
            {
                "delivered": stats.delivered,
                "unsupported": stats.unsupported,
                "failed": stats.failed,
            },
            "store every record of a kind in capabilities; never raise for one",
        )
