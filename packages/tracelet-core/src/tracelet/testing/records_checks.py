"""The contract's checks of what a run records: metrics (order, steps, timestamps, NaN and
infinities), params, tags and artifacts."""

from __future__ import annotations

import math
import time
from pathlib import Path

from tracelet.testing.checks import check_entries, check_metrics, expect, same_value
from tracelet.testing.harness import BackendHarness
from tracelet.testing.kit import KitRuns, declined, stopped


class RecordChecks(KitRuns):
    """Metrics, params, tags and artifacts round-trip."""

    def test_metrics_round_trip_in_order(self, harness: BackendHarness) -> None:
        run = self.start(harness, "metrics")
        expected: dict[str, list[tuple[int, float]]] = {"train/loss": [], "train/acc": [], "lr": []}
        for step in range(300):
            for name, points in expected.items():
                value = (step + 1) / (len(name) + step + 2)
                run.log_metric(name, value, step=step)
                points.append((step, value))
        stopped(run, harness)
        check_metrics(harness.read(run), expected)

    def test_step_zero_and_metrics_batch(self, harness: BackendHarness) -> None:
        run = self.start(harness, "step-zero")
        run.log_metrics({"a": 1.5, "b": -2.0}, step=0)
        run.log_metrics({"a": 2.5, "b": -3.0}, step=1)
        stopped(run, harness)
        check_metrics(harness.read(run), {"a": [(0, 1.5), (1, 2.5)], "b": [(0, -2.0), (1, -3.0)]})

    def test_backwards_step_is_kept(self, harness: BackendHarness) -> None:
        run = self.start(harness, "backwards")
        points = [(0, 1.0), (1, 2.0), (2, 3.0), (1, 4.0), (3, 5.0)]
        for step, value in points:
            run.log_metric("resumed", value, step=step)
        stopped(run, harness)
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
        stopped(run, harness)
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
        stopped(run, harness)
        if declined(run, harness, "params", 5):
            return
        params = {k: str(v) for k, v in harness.read(run).params.items()}
        expected = {
            "lr": "0.001",
            "epochs": "3",
            "optimizer/name": "adam",
            "optimizer/beta1": "0.9",
            "use_amp": "True",
        }
        check_entries(
            "param",
            params,
            expected,
            "store params under their flattened names ('optimizer/name'), values as given",
        )

    def test_tags_round_trip(self, harness: BackendHarness) -> None:
        run = self.start(harness, "tags")
        run.set_tags({"team": "vision", "stage": "dev"})
        run.set_tag("seed", 7)
        stopped(run, harness)
        if declined(run, harness, "tags", 3):
            return
        check_entries(
            "tag",
            harness.read(run).tags,
            {"team": "vision", "stage": "dev", "seed": "7"},
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
        stopped(run, harness)
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
        stopped(run, harness)
        if declined(run, harness, "artifacts", 2):
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
