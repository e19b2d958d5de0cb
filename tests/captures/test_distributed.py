"""A 2-process CPU run (torchrun, gloo, Lightning DDP) makes one run holding each point once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support.mlflow_server import free_port
from support.processes import run

from tracelet.backends.local import list_runs

TESTS = Path(__file__).resolve().parents[1]

SCRIPT = """
import json
import sys
import torch.distributed as dist
import tracelet
from support.lightning_model import loader, model, trainer

run = tracelet.start_logging("ddp", backend="local", config={"local": {"path": sys.argv[1]}})
for step in range(5):  # every rank calls; only rank 0's run logs
    run.log_metric("direct", float(step), step)
fit = trainer("lightning.pytorch", sys.argv[2], strategy="ddp", devices=2)
net = model("lightning.pytorch")
fit.fit(net, loader())
assert dist.get_world_size() == 2
if dist.get_rank() == 0:
    print("given", json.dumps(net.given["train/loss"]))
assert run.stop()
"""


def test_two_processes_one_run_each_point_once(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs"
    result = run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(free_port()),
            script,
            runs,
            tmp_path / "root",
        ],
        tmp_path,
        env={"PYTHONPATH": str(TESTS)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (stored,) = list_runs(runs)
    assert [(m.step, m.value) for m in stored.metric_history("direct")] == [
        (s, float(s)) for s in range(5)
    ]
    given = [tuple(p) for p in json.loads(result.stdout.split("given ", 1)[1].splitlines()[0])]
    # Each rank trains on half the batches (DistributedSampler): 4 steps per epoch, 2 epochs.
    assert [step for step, _ in given] == list(range(8))
    assert [(m.step, m.value) for m in stored.metric_history("train/loss")] == given
