"""The Run API, end to end through the real ``memory`` and ``local`` backends.

Every test logs through a real run (router and worker threads, real files for ``local``) and
reads what the backend stored with its own reader: ``tracelet.backends.memory.stored`` or
``tracelet.backends.local.read_run``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import tracelet
from tracelet import session
from tracelet.backend import BaseBackend, RunLink, run_link
from tracelet.backends import memory
from tracelet.backends.local import read_run
from tracelet.media import PNG_SIGNATURE, encode_png, png_size
from tracelet.plugins import PluginHost
from tracelet.records import Figure, Histogram, Image, Text
from tracelet.run import Run
from tracelet.session import start_run

BACKENDS = ("memory", "local")


pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def start(host: PluginHost, backend: str | list[str] = "memory", **config: Any) -> Run:
    """A run on the given backends, routed quickly."""
    return start_run("api", "tests", backend, {"flush_interval": 0.05, **config}, host=host)


def read(run: Run, backend: str) -> dict[str, Any]:
    """What ``backend`` stored for ``run``, in one shape for both backends."""
    if backend == "memory":
        store = memory.stored(run)
        return {
            "metrics": {n: [(m.step, m.value) for m in pts] for n, pts in store.metrics.items()},
            "params": dict(store.params),
            "tags": dict(store.tags),
            "artifacts": dict(store.artifacts),
            "media": [_media_memory(m) for m in store.media],
            "status": store.status,
        }
    location = run.locations()["local"]
    assert location is not None
    stored = read_run(location)
    return {
        "metrics": {n: [(m.step, m.value) for m in pts] for n, pts in stored.metrics.items()},
        "params": stored.params,
        "tags": stored.tags,
        "artifacts": {n: f.read_bytes() for n, f in stored.artifact_files().items()},
        "media": [_media_local(stored.path, r) for r in stored.media],
        "status": stored.status,
    }


def _media_memory(m: Any) -> dict[str, Any]:
    if isinstance(m, Text):
        return {"type": "text", "name": m.name, "step": m.step, "text": m.text}
    if isinstance(m, Image):
        return {"type": "image", "name": m.name, "step": m.step, "png": m.png,
                "size": (m.width, m.height), "caption": m.caption}  # fmt: skip
    if isinstance(m, Histogram):
        return {"type": "histogram", "name": m.name, "step": m.step,
                "edges": list(m.edges), "counts": list(m.counts)}  # fmt: skip
    assert isinstance(m, Figure)
    return {"type": "figure", "name": m.name, "step": m.step, "png": m.png}


def _media_local(root: Path, r: dict[str, Any]) -> dict[str, Any]:
    out = {"type": r["type"], "name": r["name"], "step": r["step"]}
    if r["type"] == "text":
        out["text"] = r["text"]
    elif r["type"] == "image":
        out.update(png=(root / r["path"]).read_bytes(), size=(r["width"], r["height"]),
                   caption=r["caption"])  # fmt: skip
    elif r["type"] == "histogram":
        out.update(edges=r["edges"], counts=r["counts"])
    else:
        out["png"] = (root / r["path"]).read_bytes()
    return out


class Scalar:
    """A value that is not a number but converts through ``.item()`` (like a NumPy scalar)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def item(self) -> object:
        return self.value


class PngFigure:
    """The one method of a matplotlib figure that logging uses: ``savefig(buf, format=...)``."""

    def __init__(self, png: bytes) -> None:
        self.png = png
        self.formats: list[str] = []

    def savefig(self, buf: io.BytesIO, format: str) -> None:
        self.formats.append(format)
        buf.write(self.png)


# -- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_round_trip_with_explicit_auto_zero_and_backwards_steps(
    host: PluginHost, backend: str
) -> None:
    run = start(host, backend)
    run.log_metric("loss", 0.5, step=0)
    run.log_metric("loss", 0.25, step=1)
    run.log_metric("loss", 0.75, step=0)  # backwards: kept as given
    run.log_metrics({"acc": 0.1, "lr": 3}, step=0)
    run.log_metrics({"acc": 0.2, "lr": 2}, step=5)
    for i in range(3):
        run.log_metric("auto", i * 1.5)  # auto steps 0, 1, 2
    run.log_metric("other", 7.0)  # its own counter: step 0
    run.log_metric("auto", 9.0, step=100)  # explicit steps do not move the counter
    run.log_metric("auto", 10.0)
    run.log_metrics({"auto": 11.0, "fresh": 1.0})  # per-name auto steps in a mapping
    assert run.stop()
    assert read(run, backend)["metrics"] == {
        "loss": [(0, 0.5), (1, 0.25), (0, 0.75)],
        "acc": [(0, 0.1), (5, 0.2)],
        "lr": [(0, 3.0), (5, 2.0)],
        "auto": [(0, 0.0), (1, 1.5), (2, 3.0), (100, 9.0), (3, 10.0), (4, 11.0)],
        "other": [(0, 7.0)],
        "fresh": [(0, 1.0)],
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_of_every_accepted_type_become_floats(host: PluginHost, backend: str) -> None:
    run = start(host, backend)
    run.log_metric("int", 3, step=0)
    run.log_metric("bool", True, step=0)
    run.log_metric("float", -2.5, step=0)
    run.log_metric("big", 2**60, step=0)
    run.log_metric("item", Scalar(0.125), step=Scalar(4))  # type: ignore[arg-type]
    run.log_metric("whole-float-step", 1.0, step=7.0)  # type: ignore[arg-type]
    assert run.stop()
    metrics = read(run, backend)["metrics"]
    assert metrics == {
        "int": [(0, 3.0)],
        "bool": [(0, 1.0)],
        "float": [(0, -2.5)],
        "big": [(0, float(2**60))],
        "item": [(4, 0.125)],
        "whole-float-step": [(7, 1.0)],
    }
    assert all(type(v) is float and type(s) is int for pts in metrics.values() for s, v in pts)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.log_metric("m", "0.5"), r"metric 'm': value must be a number, got str"),
        (lambda r: r.log_metric("m", None), r"metric 'm': value must be a number, got NoneType"),
        (lambda r: r.log_metric("m", [1.0]), r"metric 'm': value must be a number, got list"),
        (lambda r: r.log_metric("m", 1 + 2j), r"metric 'm': value must be a number"),
        (lambda r: r.log_metric("m", 1.0, step="3"), r"metric 'm': step must be a whole number"),
        (lambda r: r.log_metric("m", 1.0, step=1.5), r"step must be a whole number, got float"),
        (lambda r: r.log_metric("m", 1.0, step=True), r"metric 'm': step must be an int"),
        (lambda r: r.log_metric("", 1.0), r"metric name must be a non-empty string"),
        (lambda r: r.log_metric(3, 1.0), r"metric name must be a non-empty string, got 3"),
        (lambda r: r.log_metrics([("m", 1.0)]), r"log_metrics takes a mapping"),
        (lambda r: r.log_metrics({"m": 1.0}, step="x"), r"log_metrics: step must be"),
        (lambda r: r.log_metrics({"ok": 1.0, "m": "bad"}), r"metric 'm': value must be"),
        (lambda r: r.log_params([1]), r"log_params takes a mapping"),
        (lambda r: r.log_params({"a": {3: 1}}), r"param names must be non-empty strings"),
        (lambda r: r.log_param("", 1), r"param name must be a non-empty string"),
        (lambda r: r.set_tag(None, 1), r"tag name must be a non-empty string"),
        (lambda r: r.set_tags({"ok": 1, "": 2}), r"tag name must be a non-empty string"),
        (lambda r: r.log_text("t", 5), r"log_text 't': text must be a str, got int"),
        (lambda r: r.log_text("t", "x", step="1"), r"text 't': step must be a whole number"),
    ],
)
def test_bad_arguments_raise_type_error_and_log_nothing(
    host: PluginHost, call: Any, message: str
) -> None:
    run = start(host)
    with pytest.raises(TypeError, match=message):
        call(run)
    run.log_metric("after", 1.0)  # the run goes on; auto steps were not consumed
    run.log_metric("ok", 2.0)
    assert run.stop()
    stored = read(run, "memory")
    assert stored["metrics"] == {"after": [(0, 1.0)], "ok": [(0, 2.0)]}
    assert (stored["params"], stored["tags"], stored["media"]) == ({}, {}, [])


# -- NaN and infinity ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_policy_keep_stores_nan_and_infinities(host: PluginHost, backend: str) -> None:
    run = start(host, backend)  # keep is the default
    for value in (math.nan, math.inf, -math.inf, 1.0):
        run.log_metric("x", value)
    assert run.stop()
    points = read(run, backend)["metrics"]["x"]
    assert [s for s, _ in points] == [0, 1, 2, 3]
    assert math.isnan(points[0][1])
    assert [v for _, v in points[1:]] == [math.inf, -math.inf, 1.0]
    assert run.stats()[backend].dropped == 0


def test_nan_policy_drop_counts_and_keeps_auto_steps_aligned(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    run = start(host, nan_policy="drop")
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        run.log_metric("x", 1.0)
        run.log_metric("x", math.nan)
        run.log_metric("x", math.inf, step=10)
        run.log_metric("x", 2.0)
        run.log_metrics({"x": -math.inf, "y": 3.0})
        run.log_metrics({"x": 4.0, "y": math.nan}, step=20)
    assert run.stop()
    assert read(run, "memory")["metrics"] == {
        "x": [(0, 1.0), (2, 2.0), (20, 4.0)],
        "y": [(0, 3.0)],
    }
    assert run.stats()["memory"].dropped == 4
    drops = [r for r in caplog.records if "dropped (nan_policy='drop'" in r.getMessage()]
    assert len(drops) == 1, "reported once"
    assert "'x' at step 1 is nan" in drops[0].getMessage()


def test_nan_policy_error_names_metric_and_step_and_logs_nothing(host: PluginHost) -> None:
    run = start(host, nan_policy="error")
    run.log_metric("loss", 1.0)
    with pytest.raises(ValueError, match=r"metric 'loss' at step 1: value is nan"):
        run.log_metric("loss", math.nan)
    with pytest.raises(ValueError, match=r"metric 'loss' at step 42: value is inf"):
        run.log_metric("loss", math.inf, step=42)
    with pytest.raises(ValueError, match=r"metric 'b' at step 0: value is -inf"):
        run.log_metrics({"a": 1.0, "b": -math.inf})  # nothing of the mapping is logged
    with pytest.raises(ValueError, match=r"metric 'a' at step 9: value is nan"):
        run.log_metrics({"a": math.nan}, step=9)
    run.log_metrics({"a": 5.0, "b": 6.0})
    assert run.stop()
    assert read(run, "memory")["metrics"] == {
        "loss": [(0, 1.0)],
        "a": [(0, 5.0)],
        "b": [(0, 6.0)],
    }
    assert run.stats()["memory"].dropped == 0


# -- params, tags, artifacts -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_params_are_flattened_and_tags_are_text(host: PluginHost, backend: str) -> None:
    run = start(host, backend)
    run.log_params(
        {
            "lr": 0.001,
            "epochs": 3,
            "amp": True,
            "none": None,
            "optimizer": {"name": "adam", "betas": [0.9, 0.999], "sched": {"kind": "cos"}},
            "path": Path("/data/x"),
        }
    )
    run.log_param("model", {"depth": 50, "width": {"mult": 2}})
    run.log_param("seed", Scalar(7))
    run.log_param("lr", 0.002)  # a later value replaces the earlier one
    run.set_tags({"team": "vision", "attempt": 2})
    run.set_tag("stage", None)
    assert run.stop()
    stored = read(run, backend)
    assert stored["params"] == {
        "lr": 0.002,
        "epochs": 3,
        "amp": True,
        "none": None,
        "optimizer/name": "adam",
        "optimizer/betas": "[0.9, 0.999]",
        "optimizer/sched/kind": "cos",
        "path": "/data/x",
        "model/depth": 50,
        "model/width/mult": 2,
        "seed": 7,
    }
    assert stored["tags"] == {"team": "vision", "attempt": "2", "stage": "None"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_artifacts_file_and_directory(host: PluginHost, backend: str, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(bytes(range(256)) * 3)
    folder = tmp_path / "eval"
    (folder / "deep" / "er").mkdir(parents=True)
    (folder / "report.txt").write_text("acc 0.9\n")
    (folder / "deep" / "er" / "cm.csv").write_text("1,0\n0,1\n")
    run = start(host, backend)
    run.log_artifact(model)
    run.log_artifact(str(model), name="/checkpoints/best.bin/")
    run.log_artifact(folder)
    run.log_artifact(folder, name="copies/eval2")
    assert run.flush(timeout=10)
    model.write_bytes(b"changed after flush")  # the run's copy was taken already
    assert run.stop()
    artifacts = read(run, backend)["artifacts"]
    original = bytes(range(256)) * 3
    assert artifacts == {
        "model.bin": original,
        "checkpoints/best.bin": original,
        "eval/report.txt": b"acc 0.9\n",
        "eval/deep/er/cm.csv": b"1,0\n0,1\n",
        "copies/eval2/report.txt": b"acc 0.9\n",
        "copies/eval2/deep/er/cm.csv": b"1,0\n0,1\n",
    }


def test_artifact_errors_are_raised_at_the_call(host: PluginHost, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    run = start(host)
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        run.log_artifact(tmp_path / "missing.bin")
    for bad in ("../escape.txt", "a/../../b", "/"):
        with pytest.raises(ValueError, match="invalid artifact name"):
            run.log_artifact(tmp_path / "f.txt", name=bad)
    assert run.stop()
    assert read(run, "memory")["artifacts"] == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_artifact_deleted_before_delivery_fails_alone(
    host: PluginHost, backend: str, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed.txt"
    doomed.write_text("gone soon")
    kept = tmp_path / "kept.txt"
    kept.write_text("still here")
    # A long flush interval: nothing is routed before flush(), so the file is gone by then.
    run = start(host, backend, flush_interval=60)
    run.log_metric("m", 1.0, step=0)
    run.log_artifact(doomed)
    run.log_artifact(kept)
    doomed.unlink()
    assert run.flush(timeout=10)
    stats = run.stats()[backend]
    assert (stats.delivered, stats.failed, stats.pending, stats.retries) == (2, 1, 0, 0)
    assert stats.last_error is not None
    assert "doomed.txt" in stats.last_error
    run.log_metric("m", 2.0, step=1)  # the backend is not stuck on it
    assert not run.stop(), "a refused record makes stop report an incomplete delivery"
    stored = read(run, backend)
    assert stored["artifacts"] == {"kept.txt": b"still here"}
    assert stored["metrics"] == {"m": [(0, 1.0), (1, 2.0)]}
    assert stored["status"] == "finished"


# -- media -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_image_histogram_figure_round_trip(
    host: PluginHost, backend: str, tmp_path: Path
) -> None:
    pixels = bytes([0, 255, 255, 0, 128, 64])  # 3x2 grey
    png = encode_png(pixels, 3, 2, 1)
    png_file = tmp_path / "img.png"
    png_file.write_bytes(encode_png(bytes(range(12)), 2, 2, 3))
    figure = PngFigure(encode_png(b"\x00" * 4, 2, 2, 1))
    run = start(host, backend)
    run.log_text("sample", "hello")
    run.log_text("sample", "world")
    run.log_text("sample", "again", step=0)
    run.log_image("img", png, caption="grey")
    run.log_image("img", png_file, step=5)
    run.log_histogram("w", [0.0, 1.0, 1.0, 2.0, math.nan], step=3, bins=2)
    run.log_figure("fig", figure, step=1)
    assert run.stop()
    assert figure.formats == ["png"]
    media = read(run, backend)["media"]
    assert media == [
        {"type": "text", "name": "sample", "step": 0, "text": "hello"},
        {"type": "text", "name": "sample", "step": 1, "text": "world"},
        {"type": "text", "name": "sample", "step": 0, "text": "again"},
        {"type": "image", "name": "img", "step": 0, "png": png, "size": (3, 2),
         "caption": "grey"},
        {"type": "image", "name": "img", "step": 5, "png": png_file.read_bytes(),
         "size": (2, 2), "caption": None},
        {"type": "histogram", "name": "w", "step": 3, "edges": [0.0, 1.0, 2.0],
         "counts": [1, 3]},
        {"type": "figure", "name": "fig", "step": 1, "png": figure.png},
    ]  # fmt: skip
    assert png_size(media[3]["png"]) == (3, 2)
    assert media[6]["png"].startswith(PNG_SIGNATURE)


def test_media_errors_are_raised_at_the_call(host: PluginHost, tmp_path: Path) -> None:
    (tmp_path / "not.png").write_text("plain text")
    run = start(host)
    with pytest.raises(TypeError, match="cannot log a dict as a figure"):
        run.log_figure("fig", {"data": []})
    with pytest.raises(TypeError, match="cannot log a object as an image"):
        run.log_image("img", object())
    with pytest.raises(ValueError, match="only PNG files are read directly"):
        run.log_image("img", tmp_path / "not.png")
    with pytest.raises(ValueError, match="not a PNG image"):
        run.log_image("img", b"GIF89a....")
    with pytest.raises(ValueError, match="at least one finite value"):
        run.log_histogram("h", [math.nan, math.inf])
    with pytest.raises(TypeError, match="histogram needs a sequence"):
        run.log_histogram("h", 3.0)
    with pytest.raises(TypeError, match="image name must be a non-empty string"):
        run.log_image("", encode_png(b"\x00", 1, 1, 1))
    run.log_text("t", "first")  # no automatic media step was taken by the failures
    assert run.stop()
    assert [(m.name, m.step) for m in memory.stored(run).media] == [("t", 0)]


# -- lifecycle -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (None, "finished"),
        (RuntimeError("boom"), "failed"),
        (KeyboardInterrupt(), "killed"),
        (SystemExit(0), "finished"),
        (SystemExit(2), "failed"),
    ],
)
def test_context_manager_status(
    host: PluginHost, raised: BaseException | None, status: str
) -> None:
    run = start(host, ["local", "memory"])
    if raised is None:
        with run as entered:
            assert entered is run
            run.log_metric("x", 1.0, step=0)
    else:
        with pytest.raises(type(raised)), run:  # noqa: PT012 (the block is what is tested)
            run.log_metric("x", 1.0, step=0)
            raise raised
    assert run.status == status
    assert tracelet.get_active_run() is None
    location = run.locations()["local"]
    assert location is not None
    meta = json.loads((Path(location) / "run.json").read_text())
    assert meta["status"] == status
    assert meta["end_time"] >= meta["start_time"]
    assert memory.stored(run).status == status
    assert read(run, "local")["metrics"] == {"x": [(0, 1.0)]}


def test_second_start_stops_the_first_cleanly(host: PluginHost) -> None:
    first = start(host, ["local", "memory"], flush_interval=60)
    for step in range(500):
        first.log_metric("x", float(step), step=step)
    second = start(host, "memory")
    assert first.status == "finished"
    assert tracelet.get_active_run() is second
    assert session._live == [second]
    stats = first.stats()
    assert {n: (s.delivered, s.pending) for n, s in stats.items()} == {
        "local": (500, 0),
        "memory": (500, 0),
    }
    assert read(first, "local")["status"] == "finished"
    assert read(first, "local")["metrics"]["x"] == [(s, float(s)) for s in range(500)]
    assert memory.stored(first).status == "finished"
    names = {t.name for t in threading.enumerate()}
    assert "tracelet-backend-local" not in names, "the first run's threads were stopped"
    second.log_metric("y", 1.0)
    tracelet.stop_logging()
    assert tracelet.get_active_run() is None
    assert second.status == "finished"
    assert read(second, "memory")["metrics"] == {"y": [(0, 1.0)]}


def test_a_run_started_beside_the_active_one_leaves_it_running(host: PluginHost) -> None:
    active = start(host, "memory")
    side = [
        start_run(
            f"trial-{i}", "tests", "memory", {"flush_interval": 0.05}, host=host, activate=False
        )
        for i in range(2)
    ]
    for i, run in enumerate(side):
        run.log_metric("score", float(i), step=0)
    active.log_metric("loss", 0.5, step=0)
    assert tracelet.get_active_run() is active
    assert active.status == side[0].status == side[1].status == "running"
    assert session._live == [active, *side]
    for run in side:
        assert run.stop()
    assert tracelet.get_active_run() is active
    tracelet.stop_logging()
    assert [read(run, "memory")["metrics"] for run in side] == [
        {"score": [(0, 0.0)]},
        {"score": [(0, 1.0)]},
    ]
    assert read(active, "memory")["metrics"] == {"loss": [(0, 0.5)]}


def test_logging_after_stop_is_ignored_with_one_warning(
    host: PluginHost, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    (tmp_path / "f.txt").write_text("x")
    run = start(host)
    run.log_metric("x", 1.0)
    assert run.stop()
    writes = memory.stored(run).writes
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        run.log_metric("x", 2.0)
        run.log_metrics({"x": 3.0})
        run.log_param("p", 1)
        run.log_params({"p": 1})
        run.set_tag("t", 1)
        run.set_tags({"t": 1})
        run.log_artifact(tmp_path / "f.txt")
        run.log_artifact(tmp_path / "missing")  # ignored too: no error for a stopped run
        run.log_text("t", "x")
        run.log_image("i", b"not even an image")
        run.log_histogram("h", [1.0])
        run.log_figure("f", object())
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "log_metric on run 'api' after it stopped (finished) is ignored" in warnings[0]
    store = memory.stored(run)
    assert store.metrics["x"] == [store.metrics["x"][0]]
    assert (store.params, store.tags, store.artifacts, store.media) == ({}, {}, {}, [])
    assert store.writes == writes
    assert run.stop() is True, "stopping again does nothing"
    assert run.flush(timeout=0) is True
    assert run.status == "finished"


def test_stop_rejects_an_unknown_status(host: PluginHost) -> None:
    run = start(host)
    with pytest.raises(ValueError, match="status must be one of finished, failed, killed"):
        run.stop("done")  # type: ignore[arg-type]
    assert run.status == "running"
    assert run.stop("killed")
    assert memory.stored(run).status == "killed"


def test_run_identity_and_locations(host: PluginHost) -> None:
    run = start_run("my-exp", "proj", ["memory", "local"], {"flush_interval": 0.05}, host=host)
    assert (run.name, run.project, run.backends) == ("my-exp", "proj", ("memory", "local"))
    assert not run.is_noop
    assert run.settings is not None
    assert run.settings.model.flush_interval == 0.05
    locations = run.locations()
    assert locations["memory"] == f"tracelet.backends.memory.stored({run.id!r})"
    assert locations["local"] is not None
    assert Path(locations["local"]).parent.name == "proj"
    assert Path(locations["local"]).name == run.id
    links = run.links
    assert links["memory"] == RunLink(id=run.id)
    assert links["local"] == RunLink(
        id=run.id, path=locations["local"], command=f"tracelet show {locations['local']}"
    )
    assert (
        repr(run)
        == "<tracelet.Run 'my-exp' project='proj' backends=['memory', 'local'] status=running>"
    )
    assert run.stop()
    assert "status=finished" in repr(run)


def test_concurrent_loggers_lose_nothing(host: PluginHost) -> None:
    run = start(host, "memory", batch_size=50)
    per_thread = 5000

    def work(tid: int) -> None:
        for i in range(per_thread):
            run.log_metric(f"t{tid}", float(i), step=i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run.stop()
    metrics = read(run, "memory")["metrics"]
    for tid in range(4):
        assert metrics[f"t{tid}"] == [(i, float(i)) for i in range(per_thread)]
    assert run.stats()["memory"].delivered == 4 * per_thread


@pytest.mark.parametrize("call", ["log_metric", "log_metrics", "log_text"])
def test_threads_sharing_a_name_get_distinct_automatic_steps(host: PluginHost, call: str) -> None:
    """Eight threads logging ``step=None`` to the same names: every step 0..N-1 exactly once."""
    run = start(host, "memory")
    threads, per_thread = 8, 5000

    def work() -> None:
        for i in range(per_thread):
            if call == "log_metric":
                run.log_metric("loss", float(i))
            elif call == "log_metrics":
                run.log_metrics({"loss": float(i), "acc": 1.0})
            else:
                run.log_text("loss", str(i))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert run.stop()
    store = memory.stored(run)
    expected = list(range(threads * per_thread))
    if call == "log_text":
        assert sorted(m.step for m in store.media) == expected
    else:
        assert sorted(m.step for m in store.metrics["loss"]) == expected


def test_dir_of_the_package_lists_the_public_api_only() -> None:
    import tracelet

    assert set(dir(tracelet)) == set(tracelet.__all__)
    assert {"Any", "Mapping", "TYPE_CHECKING", "annotations"}.isdisjoint(dir(tracelet))
    for name in tracelet.__all__:
        assert getattr(tracelet, name) is not None


def test_an_integer_too_large_for_a_float_names_the_metric(host: PluginHost) -> None:
    run = start(host)
    run.log_metric("before", 1.0)
    with pytest.raises(ValueError, match=r"metric 'huge': an integer of 310 digits is too large"):
        run.log_metric("huge", 10**309)
    with pytest.raises(ValueError, match=r"metric 'huge2': an integer of 310 digits"):
        run.log_metrics({"ok": 1.0, "huge2": 10**309})
    assert run.stop()
    assert read(run, "memory")["metrics"] == {"before": [(0, 1.0)]}


def test_an_empty_nested_mapping_is_a_param_of_its_own(host: PluginHost) -> None:
    run = start(host)
    run.log_params({"scheduler": {}, "optimizer": {"name": "adam", "extra": {}}})
    assert run.stop()
    assert read(run, "memory")["params"] == {
        "scheduler": "{}",
        "optimizer/name": "adam",
        "optimizer/extra": "{}",
    }


class _LocatedBackend(BaseBackend):
    """A backend that has a ``location`` and no ``link`` (as a third-party plugin may)."""

    def __init__(self, location: str | None, fails: bool = False) -> None:
        self._location = location
        self._fails = fails

    @property
    def location(self) -> str | None:
        if self._fails:
            raise RuntimeError("lost track")
        return self._location


def test_a_link_is_made_from_the_location_with_passwords_masked(tmp_path: Path) -> None:
    def link(location: str | None, fails: bool = False) -> RunLink:
        return run_link(_LocatedBackend(location, fails))

    assert link("https://bob:hunter2@ml.example/run/1") == RunLink(
        url="https://bob:**********@ml.example/run/1"
    )
    assert link(str(tmp_path)) == RunLink(path=str(tmp_path))
    assert link(str(tmp_path / "missing")) == RunLink()  # neither a URL nor a path that exists
    assert link(None) == RunLink()
    assert link("x", fails=True) == RunLink()


def test_a_second_ctrl_c_before_stop_catches_it_still_closes_the_journal(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second Ctrl-C at exit can land anywhere in Run.stop, even before its own handler
    (here: raised at its very start, where a signal may arrive): the run folder still ends
    ``killed`` with everything the journal had."""
    run = start(host, ["local", "memory"], flush_interval=60)
    for step in range(100):
        run.log_metric("x", float(step), step=step)

    def interrupted(_run: Run) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_on_stop", interrupted)
    monkeypatch.setattr(session, "_exit_status", "killed")
    session._stop_all_at_exit()
    stored = read(run, "local")
    assert stored["status"] == "killed"
    assert stored["metrics"]["x"] == [(s, float(s)) for s in range(100)]
    session._forget(run)


def test_a_second_ctrl_c_while_saying_what_is_waited_for_still_closes_the_journal(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other place a second Ctrl-C lands: while the "press Ctrl-C again" line is written."""
    run = start(host, ["local", "memory"], flush_interval=60)
    for step in range(100):
        run.log_metric("x", float(step), step=step)

    class Interrupted(io.StringIO):
        def write(self, text: str) -> int:
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stderr", Interrupted())
    monkeypatch.setattr(session, "_exit_status", "killed")
    session._stop_all_at_exit()
    stored = read(run, "local")
    assert stored["status"] == "killed"
    assert stored["metrics"]["x"] == [(s, float(s)) for s in range(100)]
    session._forget(run)
