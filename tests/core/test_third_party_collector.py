"""A collector plugin installed as its own distribution, with a settings section of its own.

Builds wheels of tracelet-core and of ``tests/fixtures/tracelet-example-collector`` (the
``heartbeat`` collector: a metric every ``heartbeat.interval`` seconds), installs both into a
fresh environment and drives it only through its own executables.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support.venvs import REPO, Venv, build_wheels, checked, create_venv

from tracelet.backends.local import list_runs

pytestmark = pytest.mark.slow

FIXTURE = REPO / "tests" / "fixtures" / "tracelet-example-collector"

TRAIN = """
import time, tracelet
run = tracelet.start_logging(exp_name="beats", project="demo", config={"local": {"path": "runs"}})
time.sleep(0.6)
run.stop()
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("collector")
    built = build_wheels([REPO / "packages" / "tracelet-core", FIXTURE], base / "wheels")
    return create_venv(base / "venv", *built)


def test_the_collector_is_listed_with_its_plugin(venv: Venv, tmp_path: Path) -> None:
    plugins = json.loads(
        checked(venv.run([venv.tracelet, "plugins", "--json"], cwd=tmp_path)).stdout
    )
    (heartbeat,) = [p for p in plugins if p["name"] == "heartbeat"]
    assert (heartbeat["distribution"], heartbeat["status"]) == (
        "tracelet-example-collector",
        "loaded",
    )
    assert heartbeat["collectors"] == ["heartbeat"]


def test_its_section_is_validated_with_file_and_line(venv: Venv, tmp_path: Path) -> None:
    (tmp_path / "tracelet.yaml").write_text("project: demo\nheartbeat:\n  intervall: 0.1\n")
    (tmp_path / "train.py").write_text(TRAIN)
    result = venv.run([venv.python, "train.py"], cwd=tmp_path)
    assert result.returncode != 0
    assert "heartbeat.intervall: unknown key in section 'heartbeat'" in result.stderr
    assert f"{tmp_path / 'tracelet.yaml'}:3" in result.stderr
    assert "did you mean 'heartbeat.interval'?" in result.stderr
    (tmp_path / "tracelet.yaml").write_text("heartbeat:\n  interval: -1\n")
    result = venv.run([venv.python, "train.py"], cwd=tmp_path)
    assert "heartbeat.interval" in result.stderr
    assert "greater than 0" in result.stderr


def test_its_records_reach_the_run_as_configured(venv: Venv, tmp_path: Path) -> None:
    (tmp_path / "tracelet.yaml").write_text("heartbeat:\n  interval: 0.05\n  metric: hb/beat\n")
    (tmp_path / "train.py").write_text(TRAIN)
    checked(venv.run([venv.python, "train.py"], cwd=tmp_path))
    (run,) = list_runs(tmp_path / "runs")
    beats = run.metric_history("hb/beat")
    assert len(beats) >= 3, beats
    assert [(m.step, m.value) for m in beats] == [(i, float(i)) for i in range(1, len(beats) + 1)]
    assert run.params["heartbeat/interval"] == 0.05

    shown = checked(venv.run([venv.tracelet, "config"], cwd=tmp_path)).stdout
    assert "heartbeat.interval" in shown
    assert "tracelet.yaml:2" in shown

    off = tmp_path / "off"
    off.mkdir()
    (off / "train.py").write_text(TRAIN)
    env = {"TRACELET_HEARTBEAT__ENABLED": "false"}
    checked(venv.run([venv.python, "train.py"], cwd=off, env=env))
    (quiet,) = list_runs(off / "runs")
    assert not quiet.metric_history("hb/beat")
    assert "heartbeat/interval" not in quiet.params


def test_a_core_only_install_names_the_collectors_distribution(venv: Venv, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import tracelet
        tracelet.start_logging(config={"collect_system_metrics": False})
        """
    )
    result = venv.run([venv.python, "-c", script], cwd=tmp_path)
    assert result.returncode != 0
    assert "collect_system_metrics: a key of Tracelet's collectors" in result.stderr
    assert "pip install tracelet-collectors" in result.stderr
