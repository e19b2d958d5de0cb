"""SummaryWriter calls and Lightning's ``self.log`` read back from MLflow (sqlite store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.lightning_model import BATCHES, loader, model, trainer
from support.mlflow_reading import artifact_files, find_run, metric_history

import tracelet


def test_summary_writer_calls_in_mlflow(sqlite_store: str, tmp_path: Path) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    run = tracelet.start_logging(
        "tb",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": sqlite_store}},
    )
    writer = SummaryWriter(str(tmp_path / "tb"))
    for step in range(3):
        writer.add_scalar("train/loss", torch.tensor(1.0 / (step + 1)), step)
    writer.add_scalars("lr", {"encoder": 0.1}, 2)
    writer.add_text("notes", "two epochs", 1)
    writer.add_image("sample", torch.zeros(3, 4, 4, dtype=torch.uint8), 2)
    writer.add_histogram("weights", torch.linspace(-1, 1, 11), 2)
    writer.add_hparams({"lr": 0.1}, {"hparam/accuracy": 0.75})
    writer.close()
    assert run.stop()

    mlrun = find_run(sqlite_store, run)
    run_id = mlrun.info.run_id
    assert [(s, v) for s, v, _ in metric_history(sqlite_store, run_id, "train/loss")] == [
        (0, 1.0),
        (1, 0.5),
        (2, pytest.approx(1 / 3)),  # a float32 tensor
    ]
    assert [(s, v) for s, v, _ in metric_history(sqlite_store, run_id, "lr/encoder")] == [(2, 0.1)]
    assert mlrun.data.metrics["hparam/accuracy"] == 0.75
    assert mlrun.data.params["lr"] == "0.1"
    files = artifact_files(sqlite_store, run_id)
    assert any("notes" in name for name in files), sorted(files)
    assert any("sample" in name and name.endswith(".png") for name in files), sorted(files)
    assert any("weights" in name for name in files), sorted(files)


def test_lightning_metrics_in_mlflow(sqlite_store: str, tmp_path: Path) -> None:
    run = tracelet.start_logging(
        "lightning",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": sqlite_store}},
    )
    fit = trainer("lightning.pytorch", tmp_path / "root", logger=None)  # the capture adds one
    net = model("lightning.pytorch", lr=0.05)
    fit.fit(net, loader(), loader())
    assert run.stop()
    mlrun = find_run(sqlite_store, run)
    stored = metric_history(sqlite_store, mlrun.info.run_id, "train/loss")
    assert [(s, v) for s, v, _ in stored] == [
        (step, pytest.approx(value)) for step, value in net.given["train/loss"]
    ]
    assert len(stored) == 2 * BATCHES
    assert mlrun.data.params["lr"] == "0.05"
