"""SummaryWriter values reach W&B once: through Tracelet's capture, W&B's own TensorBoard sync
being off."""

from __future__ import annotations

from pathlib import Path

from support.wandb_reading import metric_points
from support.wandb_stored import wandb_run_of

import tracelet
from tracelet_wandb.backend import STEP_METRIC


def test_summary_writer_values_arrive_once(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    run = tracelet.start_logging(
        "tb", backend="wandb", config={"flush_interval": 0.05, "wandb": {"mode": "offline"}}
    )
    writer = SummaryWriter(str(tmp_path / "tb"))
    for step in range(5):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.close()
    assert run.stop()
    stored = wandb_run_of(run)
    assert metric_points(stored, "train/loss", STEP_METRIC) == [
        (s, 1.0 / (s + 1)) for s in range(5)
    ]
