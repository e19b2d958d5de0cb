"""accelerate: ``TraceletTracker`` in a real ``Accelerator`` driving a tiny training loop, read
back from the ``local`` backend and from MLflow (sqlite)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from support.mlflow_reading import find_run, metric_history
from support.mlflow_server import MLFLOW_ENV

import tracelet
from tracelet.backends.local import read_run
from tracelet_collectors.accelerate import TraceletTracker

STEPS = 20
CONFIG = {"lr": 0.05, "batch_size": 8, "optimizer": {"name": "sgd", "momentum": 0.0}}


@pytest.fixture(autouse=True)
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)


def train(accelerator: Accelerator, steps: int = STEPS) -> list[tuple[int, float]]:
    """A manual loop on a 2-layer model; logs ``train/loss`` each step and returns what it
    logged."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8
    )
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG["lr"])
    model, optimizer, data = accelerator.prepare(model, optimizer, data)
    logged: list[tuple[int, float]] = []
    step = 0
    while step < steps:
        for xb, yb in data:
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            accelerator.log({"train/loss": loss.item(), "lr": CONFIG["lr"]}, step=step)
            logged.append((step, loss.item()))
            step += 1
            if step == steps:
                break
    return logged


def test_the_tracker_starts_logs_and_stops_a_run(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = TraceletTracker(
        exp_name="accel",
        backend=["local", "mlflow"],
        config={"local": {"path": "runs"}, "mlflow": {"tracking_uri": store}},
    )
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("accel-project", config=CONFIG)
    run = accelerator.get_tracker("tracelet", unwrap=True)
    assert run is tracker.tracker
    assert run.project == "accel-project"
    logged = train(accelerator)
    accelerator.end_training()
    assert run.status == "finished"

    local = read_run(run.locations()["local"])
    mlrun = find_run(store, run)
    assert [(m.step, m.value) for m in local.metric_history("train/loss")] == logged
    stored = [(s, v) for s, v, _ in metric_history(store, mlrun.info.run_id, "train/loss")]
    assert stored == logged
    assert [m.step for m in local.metric_history("lr")] == list(range(STEPS))
    expected = {"lr": 0.05, "batch_size": 8, "optimizer/name": "sgd", "optimizer/momentum": 0.0}
    assert {k: local.params[k] for k in expected} == expected
    assert {k: mlrun.data.params[k] for k in expected} == {k: str(v) for k, v in expected.items()}


def test_an_active_run_is_used_and_left_running(tmp_path: Path) -> None:
    run = tracelet.start_logging("mine", backend="local", config={"local": {"path": "runs"}})
    accelerator = Accelerator(cpu=True, log_with=TraceletTracker())
    accelerator.init_trackers("ignored", config={"lr": 0.05})
    logged = train(accelerator, steps=5)
    accelerator.end_training()
    assert run.status == "running"
    run.log_metric("after", 1.0, step=0)
    assert run.stop()
    local = read_run(run.locations()["local"])
    assert local.project == "default"
    assert [(m.step, m.value) for m in local.metric_history("train/loss")] == logged
    assert local.params["lr"] == 0.05
    assert len(local.metric_history("after")) == 1


def test_log_with_the_registered_name(tmp_path: Path) -> None:
    accelerator = Accelerator(cpu=True, log_with="tracelet")
    accelerator.init_trackers(
        "by-name",
        init_kwargs={"tracelet": {"exp_name": "named", "config": {"local": {"path": "runs"}}}},
    )
    run = accelerator.get_tracker("tracelet").tracker
    assert (run.project, run.name, run.backends) == ("by-name", "named", ("local",))
    accelerator.log({"loss": torch.tensor(0.25), "nested": {"a": 1, "b": 2.5}, "note": "hi"})
    accelerator.log({"loss": 0.125, "image": object()})
    accelerator.end_training()
    local = read_run(run.locations()["local"])
    points = {n: [(m.step, m.value) for m in h] for n, h in local.metrics.items()}
    assert points == {
        "loss": [(0, 0.25), (1, 0.125)],  # no step given: each name's next automatic step
        "nested/a": [(0, 1.0)],
        "nested/b": [(0, 2.5)],
    }
    assert [(m["name"], m["step"]) for m in local.media] == [("note", 0)]
    assert run.status == "finished"


def test_another_process_logs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main_process_only``: on a process that is not the main one, nothing starts or logs."""
    from accelerate.state import PartialState

    tracker = TraceletTracker(backend="local")
    Accelerator(cpu=True, log_with=tracker)
    monkeypatch.setattr(PartialState, "is_main_process", property(lambda self: False))
    monkeypatch.setattr(PartialState, "use_distributed", property(lambda self: True))
    tracker.start()  # accelerate itself calls none of these on such a process
    tracker.store_init_configuration({"lr": 1.0})
    tracker.log({"loss": 1.0}, step=0)
    tracker.finish()
    assert tracker.tracker is None
    assert tracelet.get_active_run() is None
