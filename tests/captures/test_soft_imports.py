"""The captures import nothing of torch, TensorBoard, Lightning or Hugging Face unless the user's
code does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.processes import run

HEAVY = (
    "torch",
    "tensorboard",
    "tensorboardX",
    "lightning",
    "pytorch_lightning",
    "numpy",
    "transformers",
    "accelerate",
)

SCRIPT = """
import sys
{block}
import tracelet
run = tracelet.start_logging("soft", backend="local", config={{
    "local": {{"path": "runs"}}, "capture_tensorboard": True, "capture_lightning": True,
    "capture_transformers": True,
}})
run.log_metric("loss", 0.5, step=0)
assert run.stop()
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
assert not loaded, f"imported: {{loaded}}"
print("ok")
"""

#: Makes the libraries look uninstalled: their import raises ImportError, as it would.
NOT_INSTALLED = """
import importlib.abc
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {heavy!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, NotInstalled())
"""


@pytest.mark.parametrize("libraries", ["installed but unused", "not installed"])
def test_a_run_imports_nothing_of_them(libraries: str, tmp_path: Path) -> None:
    block = NOT_INSTALLED.format(heavy=HEAVY) if libraries == "not installed" else ""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(block=block, heavy=HEAVY))
    result = run([sys.executable, script], tmp_path, collectors_off=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"
