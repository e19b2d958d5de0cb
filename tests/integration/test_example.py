"""The README's main job: examples/train.py trains and logs a real run to the local backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracelet.backends.local import list_runs

ROOT = Path(__file__).resolve().parents[2]


def test_train_example_logs_a_complete_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACELET_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train.py"), "--epochs", "6"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    runs = list_runs(tmp_path / "tracelet-runs", project="examples")
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "finished"
    assert str(run.path) in result.stdout, "the script tells the user where the run is"

    steps_per_epoch = -(-480 // 16)
    loss = run.metric_history("train/loss")
    assert [p.step for p in loss] == list(range(6 * steps_per_epoch))
    assert loss[-1].value < loss[0].value, "training reduced the loss"
    val_acc = run.metric_history("val/accuracy")
    assert [p.step for p in val_acc] == [steps_per_epoch * (e + 1) for e in range(6)]
    assert 0.5 < val_acc[-1].value <= 1.0
    assert run.params["optim/lr"] == 0.5
    assert run.params["model/hidden"] == 16
    assert run.tags == {"example": "moons", "framework": "pure-python"}
    assert "model/weights.json" in run.artifacts
    kinds = sorted({m["type"] for m in run.media})
    assert kinds == ["histogram", "image", "text"]
    first_png = next(m for m in run.media if m["type"] == "image")
    assert (run.path / first_png["path"]).read_bytes().startswith(b"\x89PNG")
