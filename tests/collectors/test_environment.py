"""The environment collector: this process's interpreter, machine, command line and packages."""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from support.collector_runs import start_only
from support.processes import run as run_command

import tracelet
from tracelet.backends import memory
from tracelet.backends.local import read_run

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def start(**config: Any) -> tracelet.Run:
    """A run with only the environment collector's records."""
    return start_only("track_environment", **config)


def test_params_and_the_installed_distributions() -> None:
    run = start()
    assert run.stop()
    stored = memory.stored(run)
    params = stored.params
    assert params["env/python_version"] == f"CPython {platform.python_version()}"
    assert params["env/platform"] == platform.platform()
    assert params["env/hostname"] == socket.gethostname()
    assert shlex.split(str(params["env/command_line"])) == sys.orig_argv
    plugins = str(params["env/tracelet_plugins"]).split(", ")
    version = importlib.metadata.version("tracelet-collectors")
    assert f"collectors (tracelet-collectors {version})" in plugins
    assert plugins == sorted(plugins)
    assert set(params) == {
        "env/python_version",
        "env/platform",
        "env/hostname",
        "env/command_line",
        "env/tracelet_plugins",
    }
    lines = stored.artifacts["environment/requirements.txt"].decode().splitlines()
    for name in ("psutil", "GitPython", "pydantic", "tracelet-core"):
        assert f"{name}=={importlib.metadata.version(name)}" in lines
    names = [line.split("==")[0].lower() for line in lines]
    assert names == sorted(names)
    assert len(lines) == len(set(lines)) > 20


def test_a_script_records_its_own_command_line(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import tracelet\n"
        "run = tracelet.start_logging('cli', backend='local', config={'local': {'path': 'runs'}})\n"
        "run.stop()\n"
    )
    result = run_command(
        [sys.executable, script, "--lr", "0.1", "--name", "two words"],
        tmp_path,
        env={"TRACELET_TRACK_ENVIRONMENT": "true"},
    )
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").glob("*/*")
    stored = read_run(folder)
    assert stored.params["env/command_line"] == shlex.join(
        [sys.executable, str(script), "--lr", "0.1", "--name", "two words"]
    )
    assert "psutil==" in stored.artifacts["environment/requirements.txt"].read_text()


def test_off() -> None:
    run = start(track_environment=False)
    assert run.stop()
    assert memory.stored(run).params == {}
    assert memory.stored(run).artifacts == {}
