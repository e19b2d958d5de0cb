"""The TensorBoard capture, with the real torch.utils.tensorboard and tensorboardX writers."""

from __future__ import annotations

import importlib
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.tensorboard_reading import read_events

import tracelet
from tracelet.backends.local import read_run
from tracelet_collectors.tensorboard import FORWARDS, to_hwc

WRITERS = {"torch": "torch.utils.tensorboard", "tensorboardX": "tensorboardX"}


def writer_class(kind: str) -> Any:
    return importlib.import_module(WRITERS[kind]).SummaryWriter


def start(**config: Any) -> tracelet.Run:
    return tracelet.start_logging(
        exp_name="tb", backend="local", config={"local": {"path": "runs"}, **config}
    )


def png_pixels(png: bytes) -> Any:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def every_call(writer: Any) -> dict[str, Any]:
    """Make each captured call once; returns what was passed, for the comparisons."""
    import matplotlib.pyplot as plt
    import torch

    image = torch.arange(3 * 4 * 5, dtype=torch.uint8).reshape(3, 4, 5)  # CHW
    batch = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)  # NCHW, one channel
    batch[1] = 255
    values = torch.linspace(-1, 1, 101)
    figure = plt.figure()
    plt.plot([1, 2, 3])
    for step in range(3):
        writer.add_scalar("train/loss", torch.tensor(1.0 / (step + 1)), step)
    writer.add_scalars("lr", {"encoder": 0.1, "decoder": 0.01}, 5)
    writer.add_histogram("weights", values, 2)
    writer.add_image("sample", image, 3)
    writer.add_image("sample_hwc", image.permute(1, 2, 0).numpy(), 3, dataformats="HWC")
    writer.add_images("batch", batch, 4)
    writer.add_text("notes", "two epochs", 1)
    writer.add_figure("curve", figure, 6)
    writer.add_hparams({"lr": 0.1, "optimizer": "adam"}, {"hparam/accuracy": 0.75})
    writer.flush()
    return {"image": image.permute(1, 2, 0).numpy(), "values": values.numpy()}


@pytest.mark.parametrize("created", ["before the run", "after the run started"])
@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_call_reaches_the_run_and_the_event_files(
    kind: str, created: str, tmp_path: Path
) -> None:
    cls = writer_class(kind)
    if created == "before the run":
        writer = cls(str(tmp_path / "tb"))
        run = start()
    else:
        run = start()
        writer = cls(str(tmp_path / "tb"))
    given = every_call(writer)
    writer.close()
    assert run.stop()

    stored = read_run(run.locations()["local"])
    assert [(m.step, m.value) for m in stored.metric_history("train/loss")] == [
        (0, 1.0),
        (1, 0.5),
        (2, pytest.approx(1 / 3)),
    ]
    assert [(m.step, m.value) for m in stored.metric_history("lr/encoder")] == [(5, 0.1)]
    assert [(m.step, m.value) for m in stored.metric_history("lr/decoder")] == [(5, 0.01)]
    assert [m.value for m in stored.metric_history("hparam/accuracy")] == [0.75]
    assert {k: v for k, v in stored.params.items() if not k.startswith("env/")} == {
        "lr": 0.1,
        "optimizer": "adam",
    }
    media = {(m["type"], m["name"]): m for m in stored.media}
    assert set(media) == {
        ("histogram", "weights"),
        ("image", "sample"),
        ("image", "sample_hwc"),
        ("image", "batch"),
        ("text", "notes"),
        ("figure", "curve"),
    }
    assert media[("text", "notes")]["text"] == "two epochs"
    assert media[("histogram", "weights")]["step"] == 2
    assert sum(media[("histogram", "weights")]["counts"]) == len(given["values"])
    for name in ("sample", "sample_hwc"):
        png = (stored.path / media[("image", name)]["path"]).read_bytes()
        assert np.array_equal(png_pixels(png), given["image"]), name
        assert media[("image", name)]["step"] == 3
    grid = png_pixels((stored.path / media[("image", "batch")]["path"]).read_bytes())
    assert grid.shape[:2] == (2, 6)  # three 2x2 images side by side
    assert grid[:, 2:4].min() == 255
    assert grid[:, :2].max() == 0

    events = read_events(tmp_path / "tb")
    assert events.scalars["train/loss"] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert events.histograms["weights"] == [2]
    assert events.images["sample"] == [3]
    assert events.images["curve"] == [6]
    assert any(tag.startswith("notes") for tag in events.tensors)
    # add_scalars writes each name into a sub-folder (its name differs by library)
    (encoder,) = [v for tag, v in events.scalars.items() if "encoder" in tag]
    assert encoder == [(5, pytest.approx(0.1))]


@pytest.mark.parametrize("kind", list(WRITERS))
def test_the_classes_are_restored_exactly_and_never_wrapped_twice(
    kind: str, tmp_path: Path
) -> None:
    cls = writer_class(kind)
    before = dict(vars(cls))
    first = start()
    second = start()  # stops the first; the patch now serves the second run
    writer = cls(str(tmp_path / "tb"))
    for name in FORWARDS:
        method = vars(cls).get(name, getattr(cls, name))
        assert method.__wrapped__ is before.get(name, getattr(cls.__mro__[1], name, None))
        assert not hasattr(method.__wrapped__, "__wrapped__"), f"{name} wrapped twice"
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    assert second.stop()
    assert dict(vars(cls)) == before
    assert read_run(first.locations()["local"]).metrics == {}
    assert [m.value for m in read_run(second.locations()["local"]).metric_history("x")] == [1.0]

    third = start()
    writer = cls(str(tmp_path / "tb3"))
    writer.add_scalar("x", 2.0, 0)
    writer.close()
    assert third.stop()
    assert [m.value for m in read_run(third.locations()["local"]).metric_history("x")] == [2.0]
    assert dict(vars(cls)) == before


def test_after_stop_a_writer_only_writes_its_files(tmp_path: Path) -> None:
    cls = writer_class("torch")
    run = start()
    assert run.stop()
    writer = cls(str(tmp_path / "tb"))
    writer.add_scalar("late", 1.0, 0)
    writer.close()
    assert read_run(run.locations()["local"]).metrics == {}
    assert read_events(tmp_path / "tb").scalars["late"] == [(0, 1.0)]


@pytest.mark.parametrize("source", ["argument", "env var", "tracelet.yaml"])
def test_capture_tensorboard_off(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: dict[str, Any] = {}
    if source == "argument":
        config["capture_tensorboard"] = False
    elif source == "env var":
        monkeypatch.setenv("TRACELET_CAPTURE_TENSORBOARD", "false")
    else:
        (tmp_path / "tracelet.yaml").write_text("capture_tensorboard: false\n")
    run = start(**config)
    writer = writer_class("torch")(str(tmp_path / "tb"))
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    assert run.stop()
    assert read_run(run.locations()["local"]).metrics == {}
    assert read_events(tmp_path / "tb").scalars["x"] == [(0, 1.0)]


def test_a_call_that_cannot_be_recorded_is_written_and_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    run = start()
    writer = writer_class("torch")(str(tmp_path / "tb"))
    with caplog.at_level(logging.WARNING, logger="tracelet.collectors.tensorboard"):
        for step in range(2):  # CHWN is not a layout this capture knows; TensorBoard does
            writer.add_image("odd", torch.zeros(3, 2, 2, 1), step, dataformats="CHWN")
    writer.add_scalar("after", 1.0, 0)
    writer.close()
    assert run.stop()
    assert read_events(tmp_path / "tb").images["odd"] == [0, 1]
    assert [m.value for m in read_run(run.locations()["local"]).metric_history("after")] == [1.0]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("tracelet: SummaryWriter.add_image was written to TensorBoard")


def test_to_hwc_layouts() -> None:
    chw = np.arange(12).reshape(3, 2, 2)
    assert to_hwc(chw, "CHW").shape == (2, 2, 3)
    assert to_hwc(chw.transpose(1, 2, 0), "HWC").shape == (2, 2, 3)
    assert to_hwc(np.zeros((10, 1, 3, 4)), "NCHW").shape == (6, 32, 1)  # 8 per row, 2 rows
    with pytest.raises(ValueError, match="dataformats 'WHC'"):
        to_hwc(chw, "WHC")
