"""A backend plugin installed as its own distribution is found, configured and used.

Builds wheels of tracelet-core and of the fixture distribution ``tracelet-example-backend``
(``tests/fixtures/tracelet-example-backend``), installs both into a fresh virtual environment
(dependencies from the package index, pinned by ``requirements/constraints.txt``) and drives that
environment only through its own ``python`` and ``tracelet`` executables, as a user would. The
fixture declares two entry points: ``example`` (a working backend writing JSON lines) and
``broken`` (a module that fails to import).
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.venvs import REPO, Venv, build_wheels, checked, create_venv

pytestmark = pytest.mark.slow

CORE = REPO / "packages" / "tracelet-core"
FIXTURE = REPO / "tests" / "fixtures" / "tracelet-example-backend"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Wheels of tracelet-core and the fixture, installed into one fresh venv per module."""
    base = tmp_path_factory.mktemp("third-party")
    built = build_wheels([CORE, FIXTURE], base / "wheels")
    assert [w.name.split("-")[0] for w in built] == ["tracelet_core", "tracelet_example_backend"]
    return create_venv(base / "venv", *built)


def _fixture_version() -> str:
    # tomllib is not in Python 3.10's standard library: find the one line by pattern.
    text = (FIXTURE / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1)


def _script(venv: Venv, cwd: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = cwd / "script.py"
    path.write_text(textwrap.dedent(code))
    return venv.run([venv.python, path, *args], cwd=cwd)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_environment_uses_the_installed_wheels(venv: Venv, tmp_path: Path) -> None:
    result = checked(
        _script(
            venv,
            tmp_path,
            """
            import json, tracelet, tracelet_example_backend
            print(json.dumps([tracelet.__file__, tracelet_example_backend.__file__]))
            """,
        )
    )
    for module_file in json.loads(result.stdout):
        assert Path(module_file).is_relative_to(venv.root), module_file
        assert not Path(module_file).is_relative_to(REPO)


def test_tracelet_plugins_lists_the_third_party_backend(venv: Venv, tmp_path: Path) -> None:
    result = checked(venv.run([venv.tracelet, "plugins", "--json"], cwd=tmp_path))
    plugins = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(plugins) == {"builtin", "example", "broken"}
    example = plugins["example"]
    assert (example["distribution"], example["version"], example["status"]) == (
        "tracelet-example-backend",
        _fixture_version(),
        "loaded",
    )
    assert example["backends"] == ["example"]
    assert plugins["broken"]["status"] == "error"
    assert "No module named 'tracelet_example_sdk_not_installed'" in plugins["broken"]["error"]

    table = checked(venv.run([venv.tracelet, "plugins"], cwd=tmp_path)).stdout
    example_line = next(line for line in table.splitlines() if line.startswith("example "))
    assert "tracelet-example-backend" in example_line
    assert _fixture_version() in example_line
    broken_line = next(line for line in table.splitlines() if line.startswith("broken "))
    assert "error: ModuleNotFoundError" in broken_line


def test_start_logging_sends_records_to_the_third_party_backend(venv: Venv, tmp_path: Path) -> None:
    records = tmp_path / "out" / "records.jsonl"
    checked(
        _script(
            venv,
            tmp_path,
            """
            import sys, tracelet
            run = tracelet.start_logging(
                exp_name="third-party", project="demo", backend="example",
                config={"path": sys.argv[1]},
            )
            run.log_params({"lr": 0.01, "optimizer": {"name": "adam"}})
            run.set_tag("stage", "test")
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
            run.log_metrics({"acc": 0.5, "f1": 0.25}, step=4)
            assert run.locations() == {"example": sys.argv[1]}, run.locations()
            tracelet.stop_logging()
            """,
            str(records),
        )
    )
    lines = _records(records)
    start = lines[0]
    assert (start["type"], start["name"], start["project"]) == ("start", "third-party", "demo")
    assert lines[-1] == {"type": "end", "status": "finished"}
    params = {r["name"]: r["value"] for r in lines if r["type"] == "param"}
    assert params == {"lr": 0.01, "optimizer/name": "adam"}
    assert [(r["name"], r["value"]) for r in lines if r["type"] == "tag"] == [("stage", "test")]
    metrics = [(r["name"], r["value"], r["step"]) for r in lines if r["type"] == "metric"]
    loss = [(v, s) for name, v, s in metrics if name == "loss"]
    assert loss == [(1.0 / (step + 1), step) for step in range(5)]
    assert sorted(m for m in metrics if m[0] != "loss") == [("acc", 0.5, 4), ("f1", 0.25, 4)]


def test_the_plugin_section_in_tracelet_yaml(venv: Venv, tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(
        "backend: example\nproject: from-yaml\nexample:\n  path: yaml-records.jsonl\n"
    )
    checked(
        _script(
            venv,
            tmp_path,
            """
            import tracelet
            run = tracelet.start_logging(exp_name="configured-by-file")
            run.log_metric("x", 3.0, step=1)
            tracelet.stop_logging()
            """,
        )
    )
    lines = _records(tmp_path / "yaml-records.jsonl")
    assert (lines[0]["project"], lines[0]["name"]) == ("from-yaml", "configured-by-file")
    assert {"type": "metric", "name": "x", "value": 3.0, "step": 1} in lines

    shown = json.loads(checked(venv.run([venv.tracelet, "config", "--json"], cwd=tmp_path)).stdout)
    rows = {row["key"]: row for row in shown["settings"]}
    assert (rows["example.path"]["value"], rows["example.path"]["source"]) == (
        "yaml-records.jsonl",
        f"{config}:4",
    )

    # The plugin's model forbids unknown keys, so a typo in its section is an error.
    config.write_text("backend: example\nexample:\n  paht: typo.jsonl\n")
    result = venv.run([venv.tracelet, "config"], cwd=tmp_path)
    assert result.returncode == 1
    assert "example.paht" in result.stderr
    assert re.search(r"did you mean '(example\.)?path'", result.stderr, re.IGNORECASE)
    assert f"{config}:3" in result.stderr


def test_a_broken_plugin_does_not_stop_a_localrun(venv: Venv, tmp_path: Path) -> None:
    result = checked(
        _script(
            venv,
            tmp_path,
            """
            import json, tracelet
            from tracelet.backends.local import list_runs
            run = tracelet.start_logging(project="p", backend="local")
            run.log_metric("loss", 0.5, step=2)
            tracelet.stop_logging()
            (saved,) = list_runs(project="p")
            points = [(m.value, m.step) for m in saved.metrics["loss"]]
            try:
                tracelet.start_logging(backend="broken")
            except ValueError as exc:
                error = str(exc)
            else:
                error = None
            print(json.dumps({"status": saved.status, "points": points, "error": error}))
            """,
        )
    )
    outcome = json.loads(result.stdout)
    assert (outcome["status"], outcome["points"]) == ("finished", [[0.5, 2]])
    assert "'broken' is installed (tracelet-example-backend)" in outcome["error"]
    assert "ModuleNotFoundError" in outcome["error"]
    assert "tracelet_example_sdk_not_installed" in outcome["error"]
