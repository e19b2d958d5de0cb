"""`pip install tracelet` gives a working Tracelet: the meta-distribution's wheel holds no code
by design, and pulls tracelet-core (the code) and tracelet-collectors.

Builds the three wheels, installs ``tracelet`` by name into a fresh venv (the two others found
next to it with ``--find-links``), then logs a run there and reads it back with the installed
``tracelet`` command.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from support.venvs import CONSTRAINTS, REPO, build_wheels, checked, create_venv, run
from support.wandb_env import wandb_test_env
from support.wandb_reading import metric_points, read_finished_run

pytestmark = pytest.mark.slow


def test_pip_install_tracelet_from_wheels_logs_a_run(tmp_path: Path) -> None:
    wheels = build_wheels(
        [REPO, REPO / "packages" / "tracelet-core", REPO / "packages" / "tracelet-collectors"],
        tmp_path / "wheels",
    )
    names = sorted(w.name.split("-")[0] for w in wheels)
    assert names == ["tracelet", "tracelet_collectors", "tracelet_core"]
    venv = create_venv(tmp_path / "venv", "tracelet", find_links=tmp_path / "wheels")

    script = tmp_path / "train.py"
    script.write_text(
        "import importlib.metadata as md, tracelet\n"
        "assert md.version('tracelet') == md.version('tracelet-core') == tracelet.__version__\n"
        "assert 'site-packages' in tracelet.__file__, tracelet.__file__\n"
        "with tracelet.start_logging(exp_name='installed', project='wheels') as run:\n"
        "    run.log_params({'lr': 0.1})\n"
        "    for step in range(100):\n"
        "        run.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "print(run.locations()['local'])\n"
    )
    folder = checked(venv.run([venv.python, script], cwd=tmp_path)).stdout.strip()
    shown = json.loads(
        checked(venv.run([venv.tracelet, "show", folder, "--json"], cwd=tmp_path)).stdout
    )
    assert (shown["name"], shown["project"], shown["status"]) == ("installed", "wheels", "finished")
    assert shown["params"] == {"lr": 0.1}
    assert shown["metrics"]["loss"]["points"] == 100
    assert shown["metrics"]["loss"]["last_step"] == 99


def test_pip_install_core_and_mlflow_from_wheels_logs_to_mlflow(tmp_path: Path) -> None:
    """The smaller install docs/backends/mlflow.md mentions, ``tracelet-core tracelet-mlflow``
    (no collectors), gives a working ``backend="mlflow"``, found through the plugin's entry
    point."""
    build_wheels(
        [REPO / "packages" / "tracelet-core", REPO / "packages" / "tracelet-mlflow"],
        tmp_path / "wheels",
    )
    venv = create_venv(
        tmp_path / "venv", "tracelet-core", "tracelet-mlflow", find_links=tmp_path / "wheels"
    )
    plugins = checked(venv.run([venv.tracelet, "plugins"], cwd=tmp_path)).stdout
    assert re.search(
        r"^mlflow\s+backends: mlflow\s+tracelet-mlflow\s+0\.1\.0\s+loaded$", plugins, re.M
    )

    script = tmp_path / "train.py"
    script.write_text(
        "import tracelet\n"
        "from mlflow import MlflowClient\n"
        "assert 'site-packages' in tracelet.__file__, tracelet.__file__\n"
        "with tracelet.start_logging(exp_name='installed', project='wheels', backend='mlflow') "
        "as run:\n"
        "    run.log_params({'lr': 0.1})\n"
        "    for step in range(100):\n"
        "        run.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "client = MlflowClient('sqlite:///mlflow.db')\n"
        "(stored,) = client.search_runs([client.get_experiment_by_name('wheels').experiment_id])\n"
        "history = client.get_metric_history(stored.info.run_id, 'loss')\n"
        "print(stored.info.run_name, stored.info.status, stored.data.params['lr'], len(history))\n"
    )
    env = {"MLFLOW_DISABLE_TELEMETRY": "true"}
    result = checked(venv.run([venv.python, script], cwd=tmp_path, env=env, timeout=120))
    assert result.stdout.split() == ["installed", "FINISHED", "0.1", "100"]


def test_pip_install_the_wandb_extra_adds_the_backend(tmp_path: Path) -> None:
    """A venv that has Tracelet gets the W&B backend from ``pip install "tracelet[wandb]"`` and
    nothing else: ``tracelet plugins`` lists it and an offline run is written."""
    wheels = tmp_path / "wheels"
    names = ("tracelet-core", "tracelet-collectors", "tracelet-wandb")
    build_wheels([REPO, *(REPO / "packages" / name for name in names)], wheels)
    venv = create_venv(tmp_path / "venv", "tracelet", find_links=wheels)
    before = checked(venv.run([venv.tracelet, "plugins"], cwd=tmp_path)).stdout
    assert "wandb" not in before
    install = [sys.executable, "-m", "pip", "--python", venv.python, "install", "--quiet"]
    extra = [*install, "-c", CONSTRAINTS, "--find-links", wheels, "tracelet[wandb]"]
    checked(run(extra, timeout=300))
    plugins = checked(venv.run([venv.tracelet, "plugins"], cwd=tmp_path)).stdout
    loaded = r"^wandb\s+backends: wandb\s+tracelet-wandb\s+0\.1\.0\s+loaded$"
    assert re.search(loaded, plugins, re.M), plugins

    script = tmp_path / "train.py"
    script.write_text(
        "import tracelet\n"
        "with tracelet.start_logging(exp_name='extra', project='wheels', backend='wandb',\n"
        "                            config={'wandb': {'mode': 'offline'}}) as run:\n"
        "    for step in range(100):\n"
        "        run.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "print(run.locations()['wandb'].split()[0])\n"
    )
    env = wandb_test_env(tmp_path)
    folder = checked(venv.run([venv.python, script], cwd=tmp_path, env=env, timeout=120)).stdout
    stored = read_finished_run(Path(folder.strip()))
    assert (stored.project, stored.name, stored.exit_code) == ("wheels", "extra", 0)
    assert [step for step, _ in metric_points(stored, "loss", "tracelet/step")] == list(range(100))


def test_scripts_wheels_works_in_a_checkout_without_a_venv(tmp_path: Path) -> None:
    # The README's first command, as a newcomer runs it: in a fresh checkout, scripts/wheels
    # makes ./.venv and installs the build backend there itself.
    files = checked(
        run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], REPO)
    ).stdout.splitlines()
    checkout = tmp_path / "checkout"
    for name in files:
        source = REPO / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    assert not (checkout / ".venv").exists()
    result = checked(run([checkout / "scripts" / "wheels"], checkout, timeout=600))
    built = sorted(p.name.split("-")[0] for p in (checkout / "dist").glob("*.whl"))
    plugins = ("aim", "clearml", "collectors", "core", "mlflow", "wandb")
    assert built == ["tracelet", *(f"tracelet_{name}" for name in plugins)]
    assert "dist/tracelet_core-" in result.stdout
