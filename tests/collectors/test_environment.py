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


def test_secret_arguments_are_redacted_in_the_local_folder_and_mlflow(tmp_path: Path) -> None:
    from support.mlflow_reading import find_run

    script = tmp_path / "train.py"
    script.write_text(
        "import sys, tracelet\n"
        "run = tracelet.start_logging('cli', backend=['local', 'mlflow'], config={\n"
        "    'local': {'path': 'runs'}, 'mlflow': {'tracking_uri': 'sqlite:///m.db'}})\n"
        "run.stop()\n"
        "print(run.id)\n"
    )
    secrets = ["--api-key", "k-123", "--token=t-456", "db.password=p-789", "--hf_token", "h-0"]
    result = run_command(
        [sys.executable, script, "--lr", "0.1", *secrets],
        tmp_path,
        env={"TRACELET_TRACK_ENVIRONMENT": "true"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    hidden = ["--api-key", "**********", "--token=**********", "db.password=**********"]
    expected = shlex.join(
        [sys.executable, str(script), "--lr", "0.1", *hidden, "--hf_token", "**********"]
    )
    (folder,) = (tmp_path / "runs").glob("*/*")
    assert read_run(folder).params["env/command_line"] == expected
    mlrun = find_run(f"sqlite:///{tmp_path / 'm.db'}", result.stdout.strip())
    assert mlrun.data.params["env/command_line"] == expected
    journal = "".join(f.read_text() for f in folder.glob("*.json*"))
    for value in ("k-123", "t-456", "p-789", "h-0"):
        assert value not in journal
        assert value not in repr(mlrun.data.params)


def test_off() -> None:
    run = start(track_environment=False)
    assert run.stop()
    assert memory.stored(run).params == {}
    assert memory.stored(run).artifacts == {}


def test_a_script_that_ends_while_the_packages_are_read_still_records_them(
    tmp_path: Path,
) -> None:
    """The run is left to stop at exit while the collector is still reading the installed
    distributions (2,000 more of them, real ``.dist-info`` folders, make that take a while):
    nothing on stderr, every distribution in the artifact, and the temporary folder gone."""
    site = tmp_path / "site"
    for i in range(2000):
        info = site / f"filler_{i}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: filler-{i}\nVersion: 1.0\n")
    script = tmp_path / "train.py"
    script.write_text(
        "import time, tracelet\n"
        "tracelet.start_logging('early', backend='local', config={'local': {'path': 'runs'},\n"
        "    'collect_system_metrics': False, 'collect_gpu_metrics': False,\n"
        "    'track_git_info': False, 'track_environment': True})\n"
        "time.sleep(0.3)  # the collector is reading the distributions when the script ends\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = run_command(
        [sys.executable, script],
        tmp_path,
        env={"PYTHONPATH": str(site), "TMPDIR": str(temp)},
        collectors_off=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (folder,) = (tmp_path / "runs").glob("*/*")
    stored = read_run(folder)
    assert stored.status == "finished"
    lines = stored.artifacts["environment/requirements.txt"].read_text().splitlines()
    assert {f"filler-{i}==1.0" for i in range(2000)} <= set(lines)
    assert list(temp.iterdir()) == []
