"""With ClearML's own framework capture on, SummaryWriter values still arrive once (Tracelet's
TensorBoard capture sends them; ClearML's TensorBoard binding is kept off)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from support.clearml_reading import read_session
from support.processes import run

# ClearML's framework patches last for the whole process: the run happens in a child.
SCRIPT = """
import tracelet
from torch.utils.tensorboard import SummaryWriter
run = tracelet.start_logging("tb", project="vision", backend="clearml", config={
    "flush_interval": 0.05, "clearml": {"offline": True, "auto_connect_frameworks": True},
})
writer = SummaryWriter("tb")
for step in range(5):
    writer.add_scalar("train/loss", 1.0 / (step + 1), step)
writer.close()
assert run.stop()
print(run.locations()["clearml"])
"""


def test_summary_writer_values_arrive_once(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = {k: os.environ[k] for k in ("CLEARML_CACHE_DIR", "HOME")}
    result = run([sys.executable, script], tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    session = read_session(Path(result.stdout.strip().splitlines()[-1]))
    assert session.scalars() == {("train", "loss"): [(s, 1.0 / (s + 1)) for s in range(5)]}
