"""The README's main job: examples/train.py trains and logs a real run to the local backend and
to MLflow (a sqlite store in the working directory), as ``scripts/train`` runs it."""

from __future__ import annotations

import sys
from pathlib import Path

from support.processes import run

from tracelet.backends.local import list_runs

ROOT = Path(__file__).resolve().parents[2]


def test_train_example_logs_a_complete_run(tmp_path: Path) -> None:
    result = run(
        [
            sys.executable,
            ROOT / "examples" / "train.py",
            "--epochs",
            "6",
            "--backend",
            "local,mlflow",
        ],
        tmp_path,
        env={"MLFLOW_DISABLE_TELEMETRY": "true"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    runs = list_runs(tmp_path / "tracelet-runs", project="examples")
    assert len(runs) == 1
    stored = runs[0]
    assert stored.status == "finished"
    assert str(stored.path) in result.stdout, "the script tells the user where the run is"
    # It ends with the commands that show the run; they work as printed.
    output = {}
    for command in ("show", "report"):
        line = next(x for x in result.stdout.splitlines() if f"tracelet {command} " in x)
        printed = line.split("#")[0].split()
        args = printed[printed.index(command) :]
        shown = run([sys.executable, "-m", "tracelet.cli", *args], tmp_path, timeout=120)
        assert shown.returncode == 0, shown.stderr
        output[command] = shown.stdout
    assert "train" in [x.strip() for x in output["show"].splitlines()]  # the chart of train/*
    assert "train/loss" in (tmp_path / "report.html").read_text(encoding="utf-8")

    steps_per_epoch = -(-480 // 16)
    loss = stored.metric_history("train/loss")
    assert [p.step for p in loss] == list(range(6 * steps_per_epoch))
    assert loss[-1].value < loss[0].value, "training reduced the loss"
    val_acc = stored.metric_history("val/accuracy")
    assert [p.step for p in val_acc] == [steps_per_epoch * (e + 1) for e in range(6)]
    assert 0.5 < val_acc[-1].value <= 1.0
    assert stored.params["optim/lr"] == 0.5
    assert stored.params["model/hidden"] == 16
    assert stored.tags == {"example": "moons", "framework": "pure-python"}
    assert "model/weights.json" in stored.artifacts
    kinds = sorted({m["type"] for m in stored.media})
    assert kinds == ["histogram", "image", "text"]
    first_png = next(m for m in stored.media if m["type"] == "image")
    assert (stored.path / first_png["path"]).read_bytes().startswith(b"\x89PNG")

    # The same run in MLflow, and the command that opens MLflow's UI on it.
    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert f"mlflow ui --backend-store-uri {store}" in result.stdout
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("examples")
    (mlrun,) = client.search_runs([experiment.experiment_id])
    assert mlrun.info.run_id in result.stdout
    assert (mlrun.info.run_name, mlrun.info.status) == ("moons-mlp", "FINISHED")
    assert mlrun.data.tags["tracelet.run_id"] == stored.meta["id"]
    assert mlrun.data.params["optim/lr"] == "0.5"
    for name in ("train/loss", "val/accuracy"):
        history = client.get_metric_history(mlrun.info.run_id, name)
        expected = [(p.step, p.value) for p in stored.metric_history(name)]
        assert sorted((m.step, m.value) for m in history) == expected
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
    assert {"model", "histograms", "text", "images"} <= artifacts
