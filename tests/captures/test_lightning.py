"""Lightning: TraceletLogger with both packages, and the capture that adds it to a Trainer."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from support.lightning_model import BATCHES, loader, model, trainer
from support.tensorboard_reading import read_events

import tracelet
from tracelet.backends.local import read_run
from tracelet_collectors.lightning_logger import is_tracelet_logger, logger_class

PACKAGES = ["lightning.pytorch", "pytorch_lightning"]


def start(**config: Any) -> tracelet.Run:
    return tracelet.start_logging(
        exp_name="lightning", backend="local", config={"local": {"path": "runs"}, **config}
    )


def points(stored: Any, name: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in stored.metric_history(name)]


def assert_logged_what_self_log_gave(stored: Any, net: Any) -> None:
    """train/loss at every step as given; val/loss the epoch mean at each epoch's last step;
    test/loss once, after fit, at the trainer's final step."""
    assert points(stored, "train/loss") == [
        (step, pytest.approx(value)) for step, value in net.given["train/loss"]
    ]
    assert len(net.given["train/loss"]) == 2 * BATCHES
    val = net.batch_losses["val"]
    assert points(stored, "val/loss") == [
        (BATCHES - 1, pytest.approx(statistics.fmean(val[:BATCHES]))),
        (2 * BATCHES - 1, pytest.approx(statistics.fmean(val[BATCHES:]))),
    ]
    assert points(stored, "test/loss") == [
        (2 * BATCHES, pytest.approx(statistics.fmean(net.batch_losses["test"])))
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_tracelet_logger_across_fit_and_test(package: str, tmp_path: Path) -> None:
    run = start()
    logger = logger_class(package)(log_model=True)
    fit = trainer(package, tmp_path / "root", logger=logger)
    net = model(package, lr=0.05)
    fit.fit(net, loader(), loader())
    assert run.status == "running", "finalize after fit must not stop the run"
    fit.test(net, loader())
    assert logger.experiment is run
    assert run.stop()

    stored = read_run(run.locations()["local"])
    assert_logged_what_self_log_gave(stored, net)
    assert {k: v for k, v in stored.params.items() if not k.startswith("env/")} == {
        "lr": 0.05,
        "hidden": 4,
        "note": "tiny",
    }
    checkpoints = {k: v for k, v in stored.artifacts.items() if k.startswith("checkpoints/")}
    assert list(checkpoints) == ["checkpoints/epoch=1-step=16.ckpt"]
    saved = Path(fit.checkpoint_callback.best_model_path)
    assert checkpoints["checkpoints/epoch=1-step=16.ckpt"].read_bytes() == saved.read_bytes()


@pytest.mark.parametrize("package", PACKAGES)
def test_log_model_all_logs_each_checkpoint_as_saved(package: str, tmp_path: Path) -> None:
    run = start()
    lightning = __import__(package.split(".", maxsplit=1)[0])
    callbacks = (lightning.pytorch if package == "lightning.pytorch" else lightning).callbacks
    every_epoch = callbacks.ModelCheckpoint(save_top_k=-1)
    fit = trainer(
        package,
        tmp_path / "root",
        logger=logger_class(package)(log_model="all"),
        callbacks=[every_epoch],
    )
    fit.fit(model(package), loader(), loader())
    assert run.stop()
    names = sorted(
        k for k in read_run(run.locations()["local"]).artifacts if k.startswith("checkpoints/")
    )
    assert names == ["checkpoints/epoch=0-step=8.ckpt", "checkpoints/epoch=1-step=16.ckpt"]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_trainer_without_a_tracelet_logger_gets_one_and_nothing_arrives_twice(
    package: str, tmp_path: Path
) -> None:
    run = start()
    fit = trainer(package, tmp_path / "root")  # Lightning's default: a TensorBoardLogger
    names = [type(lg).__name__ for lg in fit.loggers]
    assert names == ["TensorBoardLogger", "TraceletLogger"]
    net = model(package)
    fit.fit(net, loader(), loader())
    fit.test(net, loader())
    assert run.stop()

    stored = read_run(run.locations()["local"])
    assert_logged_what_self_log_gave(stored, net)  # once each, although TensorBoard is captured
    assert "hp_metric" not in stored.metrics  # the TensorBoardLogger's own placeholder
    events = read_events(Path(fit.loggers[0].log_dir))
    assert [step for step, _ in events.scalars["train/loss"]] == list(range(2 * BATCHES))


@pytest.mark.parametrize("package", PACKAGES)
def test_the_capture_leaves_alone_what_it_should(package: str, tmp_path: Path) -> None:
    from importlib import import_module

    trainer_cls = import_module(f"{package}.trainer.trainer").Trainer
    original = vars(trainer_cls)["__init__"]

    run = start()
    assert not any(
        is_tracelet_logger(lg) for lg in trainer(package, tmp_path, logger=False).loggers
    )
    given = logger_class(package)(run)
    assert list(trainer(package, tmp_path, logger=given).loggers) == [given]
    assert run.stop()
    assert vars(trainer_cls)["__init__"] is original
    assert not any(is_tracelet_logger(lg) for lg in trainer(package, tmp_path).loggers)

    run = start(capture_lightning=False)
    assert not any(is_tracelet_logger(lg) for lg in trainer(package, tmp_path).loggers)
    assert run.stop()


def test_a_logger_without_a_run_starts_one(tmp_path: Path) -> None:
    logger = logger_class("lightning.pytorch")(
        exp_name="from-logger", backend="local", config={"local": {"path": "runs"}}
    )
    assert tracelet.get_active_run() is None
    fit = trainer("lightning.pytorch", tmp_path / "root", logger=logger)
    fit.fit(model("lightning.pytorch"), loader(), loader())
    run = logger.experiment
    assert run.name == "from-logger"
    assert run.stop()
    assert len(read_run(run.locations()["local"]).metric_history("train/loss")) == 2 * BATCHES
