"""Keras 3 on torch: ``TraceletCallback`` in ``model.fit``, read back from the local backend and
from MLflow."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from support.benchmarks import run_quick
from support.mlflow_reading import read_stored
from support.mlflow_server import MLFLOW_ENV
from support.processes import run as run_process

import tracelet
from tracelet.backends.local import read_run

EPOCHS = 3
BATCH_SIZE = 8
SAMPLES = 64  # validation_split=0.25: 48 for training, 6 batches per epoch
BATCHES = 6

# Keras 3.15 converting its variables and torch tensors with NumPy 2, in Keras' code, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def keras_on_torch() -> ModuleType:
    """Keras, on the torch backend: Keras reads ``KERAS_BACKEND`` once, at its first import."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    assert keras.backend.backend() == "torch", "Keras was imported earlier with another backend"
    return keras


keras = keras_on_torch()

from tracelet_collectors.keras import TraceletCallback  # noqa: E402  (Keras on torch first)


def model(lr: float = 0.01) -> Any:
    net = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    net.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return net


def data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(SAMPLES, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def fit(net: Any, *callbacks: Any, epochs: int = EPOCHS, **kwargs: Any) -> Any:
    x, y = data()
    return net.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_split=0.25,
        verbose=0,
        callbacks=list(callbacks),
        **kwargs,
    )


def start(**config: Any) -> tracelet.Run:
    return tracelet.start_logging(
        exp_name="keras", backend="local", config={"local": {"path": "runs"}, **config}
    )


def points(stored: Any, name: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in stored.metric_history(name)]


class BatchLogs(keras.callbacks.Callback):  # type: ignore[misc]
    """Records what Keras passes to ``on_train_batch_end``, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, float]] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.seen.append(dict(logs))

    def in_order(self, name: str) -> list[float]:
        return [logs[name] for logs in self.seen]


def test_epoch_metrics_and_params_reach_local_and_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = tracelet.start_logging(
        exp_name="keras",
        backend=["local", "mlflow"],
        config={"local": {"path": "runs"}, "mlflow": {"tracking_uri": store}},
    )
    callback = TraceletCallback()
    history = fit(model(lr=0.01), callback).history
    assert callback.run is run
    assert run.status == "running", "the callback must not stop a run it did not start"
    assert tracelet.get_active_run() is run
    assert run.stop()

    local = read_run(run.locations()["local"])
    mlflow = read_stored(store, run)
    assert set(history) == {"loss", "mae", "val_loss", "val_mae"}
    for name, values in history.items():
        expected = list(enumerate(values))  # at the epoch index, as History.epoch
        assert points(local, name) == expected, name
        assert mlflow.metrics[name] == expected, name
    rates = [(epoch, 0.01) for epoch in range(EPOCHS)]
    assert points(local, "learning_rate") == mlflow.metrics["learning_rate"] == rates
    assert not [name for name in local.metrics if name.startswith("batch/")]

    params = {k: v for k, v in local.params.items() if not k.startswith(("env/", "git/"))}
    assert params == {
        "epochs": EPOCHS,
        "steps_per_epoch": BATCHES,
        "keras/backend": "torch",
        "model/name": "sequential",
        "model/class": "Sequential",
        "model/loss": "mse",
        "model/layers": 2,
        "model/layer_types/Dense": 2,
        "model/params": 21,
        "model/trainable_params": 21,
        "optimizer/name": "adam",
        "optimizer/learning_rate": 0.01,
        "optimizer/beta_1": 0.9,
        "optimizer/beta_2": 0.999,
        "optimizer/epsilon": 1e-07,
        "optimizer/amsgrad": False,
        "optimizer/use_ema": False,
        "optimizer/ema_momentum": 0.99,
    }
    assert {k: mlflow.params[k] for k in params} == {k: str(v) for k, v in params.items()}


def test_batch_metrics_at_the_global_batch_step_across_two_fits() -> None:
    run = start()
    net = model()
    recorded = BatchLogs()
    fit(net, TraceletCallback(run, log_batches=True), recorded, epochs=2)
    # A second fit of the same model, with a new callback: the batch axis continues.
    fit(net, TraceletCallback(log_batches=True, log_params=False), recorded, initial_epoch=2)
    assert run.stop()

    stored = read_run(run.locations()["local"])
    steps = list(range(1, EPOCHS * BATCHES + 1))
    for name in ("loss", "mae"):
        logged = recorded.in_order(name)
        assert points(stored, f"batch/{name}") == list(zip(steps, logged, strict=True))
    assert [step for step, _ in points(stored, "loss")] == [0, 1, 2]
    assert "batch/val_loss" not in stored.metrics  # validation batches are not training batches


def test_every_n_batches() -> None:
    run = start()
    net = model()
    recorded = BatchLogs()
    fit(net, TraceletCallback(log_batches=4), recorded)
    assert run.stop()
    losses = recorded.in_order("loss")
    expected = [(step, losses[step - 1]) for step in (4, 8, 12, 16)]
    assert points(read_run(run.locations()["local"]), "batch/loss") == expected


def test_a_scheduled_learning_rate_is_logged_per_epoch() -> None:
    run = start()
    net = model()
    rate = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=BATCHES, decay_rate=0.5)
    net.compile(optimizer=keras.optimizers.SGD(rate), loss="mse")
    fit(net, TraceletCallback())
    assert run.stop()
    stored = read_run(run.locations()["local"])
    # The rate when each epoch ends: after (epoch + 1) * BATCHES updates.
    expected = [(epoch, pytest.approx(0.1 * 0.5 ** (epoch + 1))) for epoch in range(EPOCHS)]
    assert points(stored, "learning_rate") == expected
    assert stored.params["optimizer/learning_rate/class_name"] == "ExponentialDecay"
    assert stored.params["optimizer/learning_rate/config/initial_learning_rate"] == 0.1


def test_learning_rate_from_keras_logs_is_not_logged_twice() -> None:
    run = start()
    halve = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch)
    history = fit(model(), halve, TraceletCallback()).history
    assert run.stop()
    stored = read_run(run.locations()["local"])
    assert points(stored, "learning_rate") == list(enumerate(history["learning_rate"]))


def test_without_a_run_the_callback_starts_its_own_and_stops_it() -> None:
    callback = TraceletCallback(exp_name="own", backend="local", config={"local": {"path": "runs"}})
    assert tracelet.get_active_run() is None
    history = fit(model(), callback).history
    run = callback.run
    assert run is not None
    assert run.name == "own"
    assert run.status == "finished"
    assert tracelet.get_active_run() is None
    stored = read_run(run.locations()["local"])
    assert stored.status == "finished"
    assert points(stored, "val_loss") == list(enumerate(history["val_loss"]))


class Boom(keras.callbacks.Callback):  # type: ignore[misc]
    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == 1:
            raise RuntimeError("boom")


def test_a_fit_that_raises_leaves_its_run_open_until_the_next_fit_closes_it_failed() -> None:
    callback = TraceletCallback(backend="local", config={"local": {"path": "runs"}})
    with pytest.raises(RuntimeError, match="boom"):
        fit(model(), callback, Boom())
    failed = callback.run
    assert failed is not None
    assert failed.status == "running"  # Keras never called on_train_end
    assert tracelet.get_active_run() is failed

    fit(model(), callback)
    assert failed.status == "failed"
    assert callback.run is not failed
    assert callback.run is not None
    assert callback.run.status == "finished"
    stored = read_run(failed.locations()["local"])
    assert stored.status == "failed"
    assert [step for step, _ in points(stored, "loss")] == [0, 1]  # logged before the raise


def test_in_a_with_block_a_fit_that_raises_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="boom"), start() as run:
        fit(model(), TraceletCallback(), Boom())
    assert run.status == "failed"


def test_keras_dispatches_batch_hooks_in_its_thread_pool_only_without_batch_logging() -> None:
    assert TraceletCallback().async_safe is True  # its batch hook does nothing then
    assert TraceletCallback(log_batches=3).async_safe is False  # batch points in step order


def test_arguments_are_checked_when_the_callback_is_made() -> None:
    with pytest.raises(TypeError):
        TraceletCallback(name="typo")
    for wrong in (0, -1, 1.5, "all"):
        with pytest.raises(ValueError, match="log_batches"):
            TraceletCallback(log_batches=wrong)  # type: ignore[arg-type]


def test_importing_the_collectors_imports_no_keras(tmp_path: Path) -> None:
    script = (
        "import sys, tracelet, tracelet_collectors, tracelet_collectors.plugin\n"
        "run = tracelet.start_logging('soft', backend='local', config={'local': {'path': 'r'}})\n"
        "run.log_metric('loss', 0.5, step=0)\n"
        "assert run.stop()\n"
        "assert 'keras' not in sys.modules\n"
    )
    result = run_process([sys.executable, "-c", script], tmp_path, collectors_off=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_benchmark_runs_and_its_checks_pass() -> None:
    out = run_quick("bench_keras.py").stdout
    assert "checks: every epoch loss equals History, every batch point stored once" in out
    assert "mlflow.keras.MlflowCallback, every batch" in out


def test_automagic_describes_a_keras_model_by_its_layers() -> None:
    """On Keras' torch backend a model is also a torch module: it is still described as
    Keras sees it (its layers and weights), and logged as params."""
    from tracelet.automagic import capture_model

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    run = tracelet.start_logging(exp_name="keras-automagic", backend="local")
    logged = capture_model(model, run=run)
    assert run.stop()
    assert logged == {
        "model/type": "Sequential",
        "model/total_params": 90,  # Dense 4x8+8, BatchNorm 4x8 (16 moving stats), Dense 8x2+2
        "model/trainable_params": 74,
        "model/frozen_params": 16,
        "model/layers": 3,
        "model/layer_types": "Dense x2, BatchNormalization x1",
        "model/size_mb": round(90 * 4 / 2**20, 4),
    }
    assert logged.items() <= read_run(run.links["local"].path).params.items()
