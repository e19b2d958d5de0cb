"""The configuration page's W&B examples that are not Python blocks of docs/backends/wandb.md:
the environment variables (with no network: a bounded, clear failure) and the multi-backend
example (against the session's real mlflow server, W&B offline through WANDB_MODE)."""

from __future__ import annotations

import time

import pytest
from support.mlflow_reading import find_run
from support.mlflow_server import MLFLOW_ENV, MlflowServer
from support.wandb_stored import wandb_run_of

import tracelet
from tracelet.errors import BackendStartError


def test_environment_variables_example_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # export WANDB_API_KEY=... / WANDB_PROJECT=tracelet-experiments / WANDB_ENTITY=your-username
    monkeypatch.setenv("WANDB_API_KEY", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("WANDB_PROJECT", "tracelet-experiments")
    monkeypatch.setenv("WANDB_ENTITY", "your-username")
    monkeypatch.setenv("TRACELET_WANDB__START_TIMEOUT", "3")
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        tracelet.start_logging(backend="wandb")
    assert time.monotonic() - began < 30, "start_timeout bounds the wait"
    assert "wandb.mode: offline" in str(error.value)


def test_multi_backend_example(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WANDB_MODE", "offline")  # this machine has no W&B account or network
    run = tracelet.start_logging(
        backend=["mlflow", "wandb"],
        config={
            "mlflow": {"tracking_uri": mlflow_server.uri},
            "wandb": {"project": "multi-backend-experiment"},
        },
    )
    for step in range(20):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert run.stop(), run.stats()
    assert find_run(mlflow_server.uri, run).data.metrics["loss"] == pytest.approx(0.05)
    stored = wandb_run_of(run)
    assert stored.project == "multi-backend-experiment"
    assert stored.summary["loss"] == pytest.approx(0.05)
