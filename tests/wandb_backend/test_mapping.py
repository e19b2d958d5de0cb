"""What a Tracelet run becomes in W&B (offline), read back from the run's ``.wandb`` log."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.processes import clean_env
from support.wandb_env import wandb_test_env
from support.wandb_reading import metric_points
from support.wandb_stored import metric_names, tags_of, wandb_run_of

import tracelet
from tracelet.errors import BackendStartError
from tracelet.run import Run
from tracelet_wandb.backend import RUN_ID_CONFIG, STEP_METRIC


def start(**wandb: Any) -> Run:
    """An offline W&B run (flushing often, so tests stay quick)."""
    return tracelet.start_logging(
        exp_name="resnet-baseline",
        project="vision",
        backend="wandb",
        config={"flush_interval": 0.05, "wandb": {"mode": "offline", **wandb}},
    )


def test_project_name_tags_config_summary_and_exit_code() -> None:
    run = start(tags=["pytorch", "baseline"], group="sweep-1", job_type="train", config={"seed": 7})
    run.log_params({"lr": 0.01, "optimizer": {"name": "adam"}})
    run.set_tags({"team": "ml", "stage": ""})
    for step in range(5):
        run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 5}, step=step)
    assert run.stop("failed")
    stored = wandb_run_of(run)
    assert (stored.project, stored.name) == ("vision", "resnet-baseline")
    assert (stored.group, stored.job_type) == ("sweep-1", "train")
    assert stored.tags == ["pytorch", "baseline", "team:ml", "stage"]
    assert tags_of(stored)["team"] == "ml"
    assert stored.config == {
        "seed": 7,
        "lr": 0.01,
        "optimizer/name": "adam",
        RUN_ID_CONFIG: run.id,
    }
    assert stored.summary["loss"] == pytest.approx(0.2)
    assert stored.summary["acc"] == pytest.approx(0.8)
    assert stored.exit_code == 1


def test_every_point_with_a_backwards_step_and_a_collector_on_its_own_clock() -> None:
    """10k steps of 3 metrics, a step that goes back, and a metric logged on its own automatic
    steps in between: every point is in the history with its step, and points of one step are
    one row."""
    run = start()
    names = ("train/loss", "train/acc", "lr")
    expected: dict[str, list[tuple[float, float]]] = {name: [] for name in (*names, "system/cpu")}
    for step in range(10_000):
        for i, name in enumerate(names):
            value = (step + 1) / (step + 2 + i)
            run.log_metric(name, value, step=step)
            expected[name].append((step, value))
        if step % 100 == 0:
            cpu = float(step % 97)
            run.log_metric("system/cpu", cpu)  # automatic steps 0, 1, 2, ...
            expected["system/cpu"].append((step // 100, cpu))
    run.log_metric("train/loss", 9.5, step=10)  # back in time
    expected["train/loss"].append((10, 9.5))
    assert run.stop(timeout=120), run.stats()
    stored = wandb_run_of(run)
    assert sorted(metric_names(stored)) == sorted(expected)
    for name, points in expected.items():
        got = metric_points(stored, name, STEP_METRIC)
        assert got == points, name  # JSON keeps every float exactly
    # Points of one step become one row; only a batch boundary (every 1000 records, or the
    # flush interval) can split one: about 30 here, far from one row per point (30,100).
    full_rows = [row for row in stored.history if all(name in row for name in names)]
    assert len(full_rows) >= 10_000 - 200
    assert 10_000 + 100 + 1 <= len(stored.history) <= 10_000 + 100 + 1 + 200
    assert [row["_step"] for row in stored.history] == list(range(len(stored.history)))


def test_media() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import PIL.Image

    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    run = start()
    run.log_image("inputs/first", pixels, step=2, caption="a cat")
    run.log_histogram("weights/w1", [0.0, 0.5, 0.5, 1.0], step=4, bins=2)
    run.log_text("samples", "a cat on a mat", step=3)
    run.log_figure("curves", figure, step=5)
    plt.close(figure)
    assert run.stop(), run.stats()
    stored = wandb_run_of(run)
    by_name = {
        key: (row[STEP_METRIC], value)
        for row in stored.history
        for key, value in row.items()
        if isinstance(value, dict)
    }
    step, image = by_name["inputs/first"]
    assert (step, image["_type"], image["caption"]) == (2, "image-file", "a cat")
    assert np.array_equal(np.asarray(PIL.Image.open(stored.media_file(image))), pixels)
    step, histogram = by_name["weights/w1"]
    assert (step, histogram["_type"]) == (4, "histogram")
    assert (histogram["bins"], histogram["values"]) == ([0.0, 0.5, 1.0], [1, 3])
    step, table = by_name["samples"]
    assert (step, table["_type"]) == (3, "table-file")
    content = json.loads(stored.media_file(table).read_text())
    assert content == {"columns": ["step", "text"], "data": [[3, "a cat on a mat"]]}
    step, plot = by_name["curves"]
    assert (step, plot["_type"]) == (5, "image-file")
    assert stored.media_file(plot).read_bytes().startswith(b"\x89PNG")


def test_artifacts_manifests(tmp_path: Path) -> None:
    weights = tmp_path / "weights.json"
    weights.write_text('{"w": [1, 2]}')
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "report.txt").write_text("accuracy 0.9\n")
    run = start()
    run.log_artifact(weights, name="model/best.json")
    run.log_artifact(folder)
    assert run.stop(), run.stats()
    stored = wandb_run_of(run)
    model = stored.artifact("model-best.json")
    assert model.type == "file"
    entry = model.entries["model/best.json"]
    md5 = base64.b64encode(hashlib.md5(weights.read_bytes()).digest()).decode()
    assert (entry.digest, entry.size) == (md5, len(weights.read_bytes()))
    assert model.read("model/best.json") == weights.read_bytes()
    evaluation = stored.artifact("eval")
    assert evaluation.type == "directory"
    assert list(evaluation.entries) == ["eval/report.txt"]
    assert evaluation.read("eval/report.txt") == b"accuracy 0.9\n"


def test_a_users_own_wandb_run_is_not_disturbed() -> None:
    import wandb

    user_run = wandb.init(project="mine", mode="offline", settings=wandb.Settings(silent=True))
    try:
        user_run.log({"user_metric": 1.0})
        run = start()
        run.log_metric("tracelet_metric", 2.0, step=0)
        assert run.stop()
        assert wandb.run is user_run
        wandb.log({"user_metric": 3.0})  # still the user's run, still open
    finally:
        user_run.finish()
    ours = wandb_run_of(run)
    assert metric_names(ours) == ["tracelet_metric"]
    assert ours.id != user_run.id


def test_disabled_mode_logs_nothing_and_has_no_location(tmp_path: Path) -> None:
    run = start(mode="disabled", dir=str(tmp_path / "w"))
    run.log_metric("x", 1.0, step=0)
    assert run.stop()
    assert run.stats()["wandb"].delivered == 1
    assert run.locations()["wandb"] is None
    assert not (tmp_path / "w" / "wandb").exists()


def test_wandb_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    monkeypatch.setenv("WANDB_TAGS", "a,b")
    run = tracelet.start_logging(exp_name="env", backend="wandb")
    assert run.stop()
    stored = wandb_run_of(run)
    assert (stored.project, stored.tags) == ("from-env", ["a", "b"])


def test_online_without_credentials_fails_at_once() -> None:
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        tracelet.start_logging(backend="wandb", config={"wandb": {"mode": "online"}})
    assert time.monotonic() - began < 10
    message = str(error.value)
    for needed in ("WANDB_API_KEY", "wandb login", "offline", "wandb sync"):
        assert needed in message


def test_no_login_prompt_even_on_a_terminal(tmp_path: Path, wandb_root: Path) -> None:
    """With a terminal on stdin W&B would ask for a key and wait; Tracelet fails instead."""
    code = (
        "import tracelet\n"
        "try:\n"
        "    tracelet.start_logging(backend='wandb')\n"
        "except tracelet.BackendStartError as error:\n"
        "    print('refused:', error)\n"
    )
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=clean_env(wandb_test_env(wandb_root)),
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:"), result.stdout
    assert "WANDB_API_KEY" in result.stdout


def test_a_run_of_a_group_is_in_that_wandb_group() -> None:
    config = {"flush_interval": 0.05, "wandb": {"mode": "offline"}}
    grouped = tracelet.start_logging("trial-0", "vision", "wandb", config=config, group="sweep-1")
    assert grouped.stop()
    mine = {**config, "wandb": {"mode": "offline", "group": "mine"}}
    own = tracelet.start_logging("trial-1", "vision", "wandb", config=mine, group="sweep-1")
    assert own.stop()
    assert wandb_run_of(grouped).group == "sweep-1"
    assert wandb_run_of(own).group == "mine"  # wandb.group wins over the run's group
