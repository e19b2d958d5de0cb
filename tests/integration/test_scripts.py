"""``install_project`` (scripts/_venv.sh, used by scripts/train and scripts/test) runs pip only
when what pip reads has changed: a second ``scripts/train`` starts at once.

The real ``_venv.sh`` runs in a workspace of the same shape whose seven projects are tiny, so
the real pip installs them in seconds; pip's own log (``PIP_LOG``, appended to by every pip
command) says whether pip ran. The workspace's venv has hatchling and builds without isolation:
seven isolated builds would download hatchling seven times per install.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from support.venvs import REPO, checked, run

pytestmark = pytest.mark.slow

_PROJECTS = ("core", "collectors", "mlflow", "wandb", "clearml", "aim")


def _pyproject(name: str, version: str = "0.1.0") -> str:
    """A project with no code and no dependencies."""
    return (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
        "[tool.hatch.build.targets.wheel]\nbypass-selection = true\n"
    )


def _workspace(root: Path) -> Path:
    """A copy of scripts/_venv.sh next to tiny projects at the paths it installs."""
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "_venv.sh", root / "scripts")
    (root / "pyproject.toml").write_text(_pyproject("tracelet"))
    for name in _PROJECTS:
        (root / "packages" / f"tracelet-{name}").mkdir(parents=True)
        (root / "packages" / f"tracelet-{name}" / "pyproject.toml").write_text(
            _pyproject(f"tracelet-{name}")
        )
    (root / "requirements").mkdir()
    (root / "requirements" / "constraints.txt").write_text("# nothing pinned\n")
    (root / "requirements" / "extra.txt").write_text("# nothing more\n")
    return root


def test_install_project_runs_pip_only_when_its_inputs_change(tmp_path: Path) -> None:
    """Once per state of the inputs and per argument list; then the venv matches the inputs."""
    workspace = _workspace(tmp_path / "workspace")
    python = workspace / ".venv" / "bin" / "python"
    checked(run([sys.executable, "-m", "venv", workspace / ".venv"]))
    checked(run([python, "-m", "pip", "install", "--quiet", "hatchling", "editables"], timeout=120))
    log = tmp_path / "pip.log"

    def pip_ran(*args: str) -> bool:
        """Run ``install_project args`` in the workspace; whether pip ran."""
        log.unlink(missing_ok=True)
        command = '. scripts/_venv.sh && install_project "$@"'
        # pip reads its "no-" variables inverted: 0 turns build isolation off.
        env = {"PIP_LOG": str(log), "PIP_NO_BUILD_ISOLATION": "0"}
        checked(run(["bash", "-c", command, "bash", *args], workspace, env=env, timeout=120))
        return log.exists()

    def installed(name: str) -> str:
        """The version of ``name`` in the workspace's venv."""
        code = f"import importlib.metadata as m; print(m.version({name!r}))"
        return checked(run([python, "-c", code], workspace)).stdout.strip()

    assert pip_ran()
    assert installed("tracelet-aim") == "0.1.0"
    assert not pip_ran()

    assert pip_ran("-r", "requirements/extra.txt")  # other arguments: scripts/test
    assert not pip_ran()  # both argument lists are installed
    assert not pip_ran("-r", "requirements/extra.txt")

    core = workspace / "packages" / "tracelet-core" / "pyproject.toml"
    core.write_text(_pyproject("tracelet-core", "0.2.0"))
    assert pip_ran()
    assert installed("tracelet-core") == "0.2.0"
    assert not pip_ran()
    assert pip_ran("-r", "requirements/extra.txt")  # installed before the change

    (workspace / "requirements" / "constraints.txt").write_text("tracelet-core==0.2.0\n")
    assert pip_ran()
