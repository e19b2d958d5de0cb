"""The contract kit in a real install: ``pip install tracelet`` (core and collectors, from built
wheels) plus a third-party backend distribution. The docs' ``JsonlBackend`` and the fixture
distribution's ``example`` backend pass the kit there, their harnesses naming no collector key
(the collectors are installed and on by default: the kit keeps them out of its runs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.venvs import REPO, build_wheels, create_venv, run

pytestmark = pytest.mark.slow

_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)

EXAMPLE_HARNESS = """

import json as _json

from tracelet.testing import BackendContract, BackendHarness, StoredRun


class ExampleHarness(BackendHarness):
    backend = "example"
    timestamp_precision = None  # the example backend stores no timestamps

    def __init__(self, path):
        self.path = path

    def config(self):
        return {"example": {"path": str(self.path)}}

    def read(self, run):
        stored = StoredRun()
        current = None
        for line in self.path.read_text().splitlines():
            record = _json.loads(line)
            if record["type"] == "start":
                current = record["run_id"]
            elif current != run.id:
                continue
            elif record["type"] == "metric":
                stored.metrics.setdefault(record["name"], []).append(
                    (record["step"], record["value"])
                )
            elif record["type"] == "param":
                stored.params[record["name"]] = record["value"]
            elif record["type"] == "tag":
                stored.tags[record["name"]] = record["value"]
            elif record["type"] == "end":
                stored.status = record["status"]
        return stored


class TestExampleBackend(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleHarness(tmp_path / "example.jsonl")
"""


def test_plugin_backends_pass_the_kit_in_a_full_install(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build_wheels(
        [
            REPO,
            REPO / "packages" / "tracelet-core",
            REPO / "packages" / "tracelet-collectors",
            REPO / "tests" / "fixtures" / "tracelet-example-backend",
        ],
        wheels,
    )
    venv = create_venv(
        tmp_path / "venv",
        "tracelet",
        "tracelet-example-backend",
        "pytest==9.2.0",
        "pillow",
        find_links=wheels,
    )
    guide = "\n\n".join(_FENCE.findall((REPO / "docs" / "plugins.md").read_text()))
    module = tmp_path / "test_plugins_in_full_install.py"
    module.write_text(guide + EXAMPLE_HARNESS)
    pytest_cmd = [venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", module]
    # The collectors as a user has them: on (git, environment, system metrics).
    result = run(pytest_cmd, tmp_path, timeout=300, collectors_off=False)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None, result.stdout
    assert int(passed.group(1)) >= 38, result.stdout  # two backends, every check
    assert "failed" not in result.stdout
    assert "skipped" not in result.stdout
    assert "collect_" not in guide + EXAMPLE_HARNESS, "a harness names a collector key"
