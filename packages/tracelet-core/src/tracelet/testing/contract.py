"""The backend contract: what every Tracelet backend must do, as a pytest test class."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tracelet import hookspecs
from tracelet.backend import Backend, RunInfo
from tracelet.plugins import PluginHost, get_default_host
from tracelet.records import Batch, Capability, RunStatus
from tracelet.run import Run
from tracelet.session import start_run


@dataclass
class StoredRun:
    """A run as the backend stored it, in Tracelet's terms.

    Attributes:
        metrics: Metric name → ``(step, value)`` pairs in the backend's stored order.
        params: Param name → value as the backend stores it (compared as text).
        tags: Tag name → value.
        artifacts: Artifact path (``"models/best.pt"``; files of a logged directory as
            ``"<name>/<relative path>"``) → content.
        status: ``"finished"``, ``"failed"`` or ``"killed"`` once closed; ``None`` if the
            backend has no notion of it.
        name: The run's name as stored, if the backend stores one.
    """

    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    status: str | None = None
    name: str | None = None


class BackendHarness:
    """How the contract drives one backend. Subclass it; set :attr:`backend`; implement ``read``.

    Attributes:
        backend: The backend's name (what users pass as ``backend=``).
        host: The plugin host to use; ``None`` uses the default one (installed plugins).
        killed_status: What the backend reports after ``run.stop("killed")`` (a backend with no
            "killed" state may report ``"failed"``).
    """

    backend: ClassVar[str] = ""
    host: PluginHost | None = None
    killed_status: ClassVar[str] = "killed"

    def config(self) -> dict[str, Any]:
        """The ``config`` argument for ``start_logging`` (e.g. a temp dir for the backend)."""
        return {}

    def read(self, run: Run) -> StoredRun:
        """Read the (stopped) run back through the backend's own reader."""
        raise NotImplementedError


def param_text(value: Any) -> str:
    """A param value as text, the way backends that store strings write it."""
    return str(value)


class _FlakyBackend:
    """Wraps a real backend and fails its first ``failures`` writes (transient errors)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, inner: Backend, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    @classmethod
    def wrap(cls, inner: Backend, failures: int) -> Backend:
        """A wrapper whose class declares the same capabilities as ``inner``."""
        wrapper: type[_FlakyBackend] = type(
            "FlakyBackend", (cls,), {"capabilities": frozenset(inner.capabilities)}
        )
        return wrapper(inner, failures)

    def start(self, run: RunInfo) -> None:
        self.inner.start(run)

    def write(self, batch: Batch) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("injected transient failure")
        self.inner.write(batch)

    def flush(self) -> None:
        self.inner.flush()

    def close(self, status: RunStatus) -> None:
        self.inner.close(status)

    @property
    def location(self) -> str | None:
        return self.inner.location

    @property
    def identity(self) -> dict[str, Any] | None:
        return getattr(self.inner, "identity", None)


def flaky_host(backend: str, failures: int, source: PluginHost | None = None) -> PluginHost:
    """A plugin host whose ``backend`` is the real one wrapped to fail its first writes.

    The wrapper keeps the backend's name, settings section and native env vars, so the same
    ``config`` and the same reader work.
    """
    spec = (source or get_default_host()).backends[backend]
    host = PluginHost(load_entrypoints=False)
    host.unregister("builtin")

    class FlakyPlugin:
        @hookspecs.hookimpl
        def tracelet_register_backends(self, register: hookspecs.RegisterBackend) -> None:
            register(
                spec.name,
                lambda settings: _FlakyBackend.wrap(spec.factory(settings), failures),
                settings=spec.settings,
                native_env=spec.native_env,
            )

    info = host.register(FlakyPlugin(), name="flaky")
    assert info.status == "loaded", info.error
    return host


def _assert_metrics(stored: StoredRun, expected: Mapping[str, list[tuple[int, float]]]) -> None:
    for name, points in expected.items():
        got = stored.metrics.get(name)
        assert got is not None, f"metric {name!r} missing; stored: {sorted(stored.metrics)}"
        assert [s for s, _ in got] == [s for s, _ in points], f"steps of {name!r} differ"
        for (_, v_got), (step, v_exp) in zip(got, points, strict=True):
            if math.isnan(v_exp):
                assert math.isnan(v_got), f"{name!r} step {step}: expected NaN, got {v_got}"
            else:
                assert v_got == pytest.approx(v_exp, rel=1e-6), f"{name!r} step {step}"


def _declined(run: Run, harness: BackendHarness, kind: str, logged: int) -> bool:
    """True when the backend does not declare ``kind``: then its records must be counted as
    unsupported (never failed, never raised); the caller skips the round-trip check."""
    if kind in run.capabilities()[harness.backend]:
        return False
    stats = run.stats()[harness.backend]
    assert (stats.unsupported, stats.failed) == (logged, 0), stats
    return True


class BackendContract:
    """The tests every backend must pass. Subclass and provide the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> BackendHarness:
        """Override in the subclass: return the harness for the backend under test."""
        raise NotImplementedError("subclasses of BackendContract provide a 'harness' fixture")

    def start(self, harness: BackendHarness, name: str, host: PluginHost | None = None) -> Run:
        """Start a run on the harness's backend (small flush interval: tests stay quick)."""
        config = {"flush_interval": 0.05, **harness.config()}
        return start_run(
            exp_name=name,
            project="tracelet-contract",
            backend=harness.backend,
            config=config,
            host=host or harness.host,
        )

    def test_metrics_round_trip_in_order(self, harness: BackendHarness) -> None:
        run = self.start(harness, "metrics")
        expected: dict[str, list[tuple[int, float]]] = {"train/loss": [], "train/acc": [], "lr": []}
        for step in range(300):
            for name, points in expected.items():
                value = (step + 1) / (len(name) + step + 2)
                run.log_metric(name, value, step=step)
                points.append((step, value))
        assert run.stop(), run.stats()
        stored = harness.read(run)
        _assert_metrics(stored, expected)

    def test_step_zero_and_metrics_batch(self, harness: BackendHarness) -> None:
        run = self.start(harness, "step-zero")
        run.log_metrics({"a": 1.5, "b": -2.0}, step=0)
        run.log_metrics({"a": 2.5, "b": -3.0}, step=1)
        assert run.stop(), run.stats()
        stored = harness.read(run)
        _assert_metrics(stored, {"a": [(0, 1.5), (1, 2.5)], "b": [(0, -2.0), (1, -3.0)]})

    def test_backwards_step_is_kept(self, harness: BackendHarness) -> None:
        run = self.start(harness, "backwards")
        points = [(0, 1.0), (1, 2.0), (2, 3.0), (1, 4.0), (3, 5.0)]
        for step, value in points:
            run.log_metric("resumed", value, step=step)
        assert run.stop(), run.stats()
        got = harness.read(run).metrics.get("resumed", [])
        assert sorted(got) == sorted(points), "every point, including the backwards one"

    def test_params_round_trip(self, harness: BackendHarness) -> None:
        run = self.start(harness, "params")
        run.log_params({"lr": 0.001, "epochs": 3, "optimizer": {"name": "adam", "beta1": 0.9}})
        run.log_param("use_amp", True)
        assert run.stop(), run.stats()
        if _declined(run, harness, "params", 5):
            return
        params = {k: param_text(v) for k, v in harness.read(run).params.items()}
        expected = {
            "lr": "0.001",
            "epochs": "3",
            "optimizer/name": "adam",
            "optimizer/beta1": "0.9",
            "use_amp": "True",
        }
        for key, value in expected.items():
            assert params.get(key) == value, f"param {key!r}: {params.get(key)!r} != {value!r}"

    def test_tags_round_trip(self, harness: BackendHarness) -> None:
        run = self.start(harness, "tags")
        run.set_tags({"team": "vision", "stage": "dev"})
        run.set_tag("seed", 7)
        assert run.stop(), run.stats()
        if _declined(run, harness, "tags", 3):
            return
        tags = harness.read(run).tags
        for key, value in {"team": "vision", "stage": "dev", "seed": "7"}.items():
            assert tags.get(key) == value, f"tag {key!r}: {tags.get(key)!r}"

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
        assert run.stop(), run.stats()
        if _declined(run, harness, "artifacts", 2):
            return
        artifacts = harness.read(run).artifacts
        assert artifacts.get("models/model.bin") == model.read_bytes()
        assert artifacts.get("eval/report.txt") == b"accuracy 0.9\n"
        assert artifacts.get("eval/sub/cm.csv") == b"1,0\n0,1\n"

    def test_flush_delivers_everything_logged_before_it(self, harness: BackendHarness) -> None:
        run = self.start(harness, "flush")
        for step in range(50):
            run.log_metric("x", float(step), step=step)
        assert run.flush(timeout=60)
        stats = run.stats()[harness.backend]
        assert (stats.delivered, stats.pending, stats.failed) == (50, 0, 0)
        run.log_metric("x", 50.0, step=50)
        assert run.stop(), run.stats()
        _assert_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(51)]})

    @pytest.mark.parametrize("status", ["finished", "failed", "killed"])
    def test_close_status(self, harness: BackendHarness, status: RunStatus) -> None:
        run = self.start(harness, f"status-{status}")
        run.log_metric("x", 1.0, step=0)
        assert run.stop(status)
        expected = harness.killed_status if status == "killed" else status
        assert harness.read(run).status in (expected, None)

    def test_exception_in_with_block_fails_the_run(self, harness: BackendHarness) -> None:
        run = self.start(harness, "with-error")

        def fail_inside_the_run() -> None:
            with run:
                run.log_metric("x", 1.0, step=0)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_inside_the_run()
        stored = harness.read(run)
        assert stored.status in ("failed", None)
        _assert_metrics(stored, {"x": [(0, 1.0)]})

    def test_transient_write_failures_are_retried(self, harness: BackendHarness) -> None:
        host = flaky_host(harness.backend, failures=2, source=harness.host)
        run = self.start(harness, "flaky", host=host)
        for step in range(20):
            run.log_metric("x", float(step), step=step)
        assert run.stop(timeout=60), run.stats()
        stats = run.stats()[harness.backend]
        assert stats.retries >= 2
        assert stats.last_error is not None
        assert "injected transient failure" in stats.last_error
        assert (stats.delivered, stats.failed, stats.pending) == (20, 0, 0)
        _assert_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(20)]})

    def test_unsupported_kinds_are_counted_not_raised(self, harness: BackendHarness) -> None:
        run = self.start(harness, "media")
        png = (  # a 1x1 black PNG
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00"
            b"\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00"
            b"\x00\x00\x00IEND\xaeB`\x82"
        )
        run.log_text("sample", "hello", step=0)
        run.log_image("img", png, step=0)
        run.log_histogram("weights", [0.1, 0.2, 0.2, 0.9], step=0)
        assert run.stop(), run.stats()
        stats = run.stats()[harness.backend]
        declared = run.capabilities()[harness.backend]
        expected_unsupported = len({"text", "images", "histograms"} - declared)
        assert (stats.delivered, stats.unsupported, stats.failed) == (
            3 - expected_unsupported,
            expected_unsupported,
            0,
        )
