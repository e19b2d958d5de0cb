"""A ``tracelet.yaml`` in the format of earlier releases: refused with one clear error, and
converted by ``tracelet config --migrate`` (run for real, as a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.processes import run

import tracelet
from tracelet.plugins import PluginHost
from tracelet.settings import resolve_settings

#: The shape the earlier releases documented (the comment must not survive the conversion).
EARLIER = """\
# settings of the earlier releases
project: earlier-project
backend:
  - local

tracking:
  system: false
  git: false
  environment: true

automagic:
  enabled: true
  frameworks:
    - pytorch

artifacts:
  enabled: true
  automagic: false
  watch_filesystem: false
  watch_dirs:
    - ./checkpoints
"""


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m tracelet.cli ARGS`` in ``cwd``, with only the given Tracelet env vars (the
    collectors installed and loaded, as for a user)."""
    return run([sys.executable, "-m", "tracelet.cli", *args], cwd, env=env, collectors_off=False)


def settings_of(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[Any, str]]:
    """``tracelet config --json`` output as key → (value, source)."""
    assert result.returncode == 0, result.stderr
    return {
        row["key"]: (row["value"], row["source"]) for row in json.loads(result.stdout)["settings"]
    }


# -- reading -----------------------------------------------------------------------------------


def test_start_logging_refuses_the_earlier_format_with_one_line_and_the_command(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(EARLIER)
    with pytest.raises(tracelet.ConfigError) as caught:
        tracelet.start_logging(exp_name="earlier")
    assert caught.value.problems == [
        "tracking: a section of the earlier tracelet.yaml format (so are 'automagic:' at line 11 "
        "and 'artifacts:' at line 16), which this release does not read "
        f"(from {config}:6); convert the file to today's keys with: "
        f"tracelet config --migrate {config} (the original is kept as tracelet.yaml.bak)"
    ]


def test_an_automagic_mapping_alone_is_the_earlier_format(host: PluginHost, tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text("project: p\nautomagic:\n  enabled: true\n")
    with pytest.raises(tracelet.ConfigError) as caught:
        resolve_settings(host)
    (line,) = caught.value.problems
    assert line.startswith("automagic: a section of the earlier tracelet.yaml format, ")
    assert f"(from {config}:2); convert the file" in line


def test_tracelet_config_refuses_it_with_the_same_line(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(EARLIER)
    result = cli("config", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Invalid Tracelet configuration (1 problem):\n  - tracking: ")
    assert f"tracelet config --migrate {config}" in result.stderr


def test_an_earlier_section_in_the_call_names_todays_keys(host: PluginHost) -> None:
    with pytest.raises(tracelet.ConfigError) as caught:
        resolve_settings(host, config={"tracking": {"system": False, "metrics": True}})
    (line,) = caught.value.problems
    assert line.startswith(
        "tracking: a section of the earlier tracelet.yaml format, which this release does not "
        "read (from argument config['tracking']); give today's top-level keys instead "
        "(tracking.system: 'collect_system_metrics'; tracking.metrics: none (metrics are "
        "always logged"
    )


# -- tracelet config --migrate -----------------------------------------------------------------


def test_migrate_converts_keeps_a_backup_and_the_result_resolves(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(EARLIER)
    result = cli("config", "--migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"converted {config} from the format of earlier Tracelet releases:",
        "  tracking.system (line 7) -> collect_system_metrics",
        "  tracking.git (line 8) -> track_git_info",
        "  tracking.environment (line 9) -> track_environment",
        "  automagic.enabled (line 12) -> automagic",
        "  automagic.frameworks (line 13): dropped: today's automagic takes no list of "
        "frameworks: it captures the script's hyperparameter variables and describes the "
        "PyTorch and Keras models and the datasets it finds (automagic_hyperparams, "
        "automagic_models, automagic_datasets)",
        "  artifacts.enabled (line 17): dropped: typed artifacts are always available",
        "  artifacts.automagic (line 18) -> automagic_artifacts",
        "  artifacts.watch_filesystem (line 19): dropped: artifacts.automagic and "
        "artifacts.watch_filesystem are one switch today, automagic_artifacts (on when either "
        "was), which scans artifact_watch_dirs",
        "  artifacts.watch_dirs (line 20) -> artifact_watch_dirs",
        "  kept as they were: project, backend",
        f"wrote {config}; the original is {config}.bak",
        "check it with: tracelet config",
    ]
    assert (tmp_path / "tracelet.yaml.bak").read_text() == EARLIER
    converted = config.read_text()
    assert "# settings of the earlier releases" not in converted
    assert "# dropped artifacts.enabled: typed artifacts are always available\n" in converted
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    lines = converted.splitlines()

    def line_of(key: str) -> str:
        return f"{config}:{lines.index(next(x for x in lines if x.startswith(key + ':'))) + 1}"

    rows = settings_of(cli("config", "--json", cwd=tmp_path))
    assert rows["project"] == ("earlier-project", line_of("project"))
    assert rows["backend"] == (["local"], line_of("backend"))
    assert rows["collect_system_metrics"] == (False, line_of("collect_system_metrics"))
    assert rows["track_git_info"] == (False, line_of("track_git_info"))
    assert rows["track_environment"] == (True, line_of("track_environment"))
    assert rows["automagic"] == (True, line_of("automagic"))
    assert rows["automagic_include"] == ([], "default")
    assert rows["automagic_artifacts"] == (False, line_of("automagic_artifacts"))
    assert rows["artifact_watch_dirs"] == (["./checkpoints"], line_of("artifact_watch_dirs"))


@pytest.mark.parametrize(
    ("section", "captured"),
    [
        ("  watch_filesystem: true\n  watch_dirs: [ckpt]\n", True),
        ("  automagic: false\n  watch_filesystem: true\n", True),
        ("  watch_filesystem: false\n  automagic: true\n", True),
        ("  automagic: false\n  watch_filesystem: false\n", False),
    ],
)
def test_migrate_makes_one_capture_switch_of_the_earlier_two(
    tmp_path: Path, section: str, captured: bool
) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(f"project: p\nartifacts:\n{section}")
    result = cli("config", "--migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = settings_of(cli("config", "--json", cwd=tmp_path))
    assert rows["automagic_artifacts"][0] is captured


def test_migrate_to_an_output_leaves_the_original(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text(
        "project: p\nautomagic:\n  include: [n_*]\n  exclude: [seed]\ntrack_gpu: false\n"
    )
    output = tmp_path / "today.yaml"
    result = cli("config", "--migrate", str(config), "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  automagic (line 2) -> automagic (the section had no 'enabled'" in result.stdout
    assert "  track_gpu (line 5) -> collect_gpu_metrics" in result.stdout
    assert config.read_text().startswith("project: p\nautomagic:\n")
    assert not (tmp_path / "tracelet.yaml.bak").exists()

    rows = settings_of(cli("config", "--json", cwd=tmp_path, env={"TRACELET_CONFIG": str(output)}))
    assert rows["automagic"][0] is True
    assert rows["automagic_include"][0] == ["n_*"]
    assert rows["automagic_exclude"][0] == ["seed"]
    assert rows["collect_gpu_metrics"][0] is False


def test_a_file_in_todays_format_is_left_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text("project: p\ntrack_system: false\n")
    result = cli("config", "--migrate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"tracelet: error: {config} is not in the format of earlier Tracelet releases"
    )
    assert config.read_text() == "project: p\ntrack_system: false\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracelet.yaml"]


def test_broken_yaml_is_a_clear_error_and_nothing_is_written(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text("project: p\ntracking:\n  system: [\n")
    result = cli("config", "--migrate", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "tracelet.yaml: invalid YAML: " in result.stderr
    assert f"(from {config}:4:1); fix the syntax there" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracelet.yaml"]


def test_a_conversion_that_does_not_resolve_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    original = "project: p\ntracking:\n  metrics_interval: soon\n  sytem: true\n"
    config.write_text(original)
    unknown = cli("config", "--migrate", cwd=tmp_path)
    assert unknown.returncode == 1
    assert (
        f"  - tracking.sytem: not a key of the earlier 'tracking:' section (from {config}:4); "
        "fix or remove it, then run tracelet config --migrate again"
    ) in unknown.stderr

    config.write_text(original.replace("  sytem: true\n", ""))
    invalid = cli("config", "--migrate", cwd=tmp_path)
    assert invalid.returncode == 1
    assert "does not resolve with today's settings; nothing was written" in invalid.stderr
    assert "system_metrics_interval: input should be a valid number" in invalid.stderr
    assert f"(from {config}:3); change it in the file" in invalid.stderr  # the earlier line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracelet.yaml"]


def test_an_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "tracelet.yaml").write_text(EARLIER)
    (tmp_path / "tracelet.yaml.bak").write_text("an older backup\n")
    result = cli("config", "--migrate", cwd=tmp_path)
    assert result.returncode == 1
    assert "tracelet.yaml.bak already exists" in result.stderr
    assert (tmp_path / "tracelet.yaml").read_text() == EARLIER
    assert (tmp_path / "tracelet.yaml.bak").read_text() == "an older backup\n"


def test_migrate_without_a_file_or_with_other_options_is_a_usage_error(tmp_path: Path) -> None:
    missing = cli("config", "--migrate", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no ./tracelet.yaml here and TRACELET_CONFIG is not set" in missing.stderr
    assert cli("config", "--migrate", "nope.yaml", cwd=tmp_path).returncode == 2
    assert cli("config", "--output", "x.yaml", cwd=tmp_path).returncode == 2
    (tmp_path / "tracelet.yaml").write_text(EARLIER)
    assert cli("config", "--migrate", "--json", cwd=tmp_path).returncode == 2
