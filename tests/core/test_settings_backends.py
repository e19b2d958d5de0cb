"""Configuration errors about backends: unknown, not installed, failed to load or not loaded,
and the sections of such backends; the collectors' keys without the collectors.

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from settings_vault import (
    BrokenPlugin,
    assert_format,
    config_error,
    write_yaml,
)
from support.processes import run

import tracelet
from tracelet.backends.local import list_runs
from tracelet.errors import ConfigError
from tracelet.plugins import PluginHost
from tracelet.session import get_active_run, start_run
from tracelet.settings import resolve_settings

# -- validation errors: backends -----------------------------------------------------------------


def test_unknown_backend_lists_the_installed_ones_and_the_extras(vault_host: PluginHost) -> None:
    message = assert_format(config_error(vault_host, backend="nonexistent"), 1)
    assert "backend: unknown backend 'nonexistent'" in message
    assert "installed backends: local, memory, vault" in message
    assert "(from argument backend='nonexistent')" in message
    assert 'pip install "tracelet[<name>]"' in message
    assert "mlflow, wandb, clearml, aim" in message


def test_a_first_party_backend_not_installed_says_how_to_install_it(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_BACKEND", "mlflow")
    message = assert_format(config_error(vault_host), 1)
    assert "the 'mlflow' backend is not installed" in message
    assert "installed backends: local, memory, vault" in message
    assert "(from env var TRACELET_BACKEND)" in message
    assert 'pip install "tracelet[mlflow]"' in message


def test_the_spec_example_without_mlflow_reports_only_the_missing_backend(
    vault_host: PluginHost,
) -> None:
    error = config_error(
        vault_host,
        backend="mlflow",
        config={"tracking_uri": "http://localhost:5000", "experiment_name": "DL"},
    )
    message = assert_format(error, 1)  # not also "tracking_uri: unknown key"
    assert 'pip install "tracelet[mlflow]"' in message


def test_a_missing_backend_with_its_section_in_the_file_is_one_problem(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml", "backend: mlflow\nmlflow:\n  tracking_uri: http://x\n"
    )
    message = assert_format(config_error(vault_host), 1)
    assert "the 'mlflow' backend is not installed; installed backends: local, memory" in message
    assert f"(from {yaml_file}:1)" in message


def test_a_misspelled_backend_in_the_file_suggests_the_right_one(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "project: p\nbackend: [local, memroy]\n")
    message = assert_format(config_error(vault_host), 1)
    assert (
        f"unknown backend 'memroy'; installed backends: local, memory, vault (from {yaml_file}:2)"
    ) in message
    assert "did you mean 'memory'?" in message


def test_a_backend_whose_plugin_failed_to_load_names_the_error(host: PluginHost) -> None:
    info = host.register(BrokenPlugin(), name="flaky")
    assert info.status == "error"
    message = assert_format(config_error(host, backend=["local", "flaky"]), 1)
    assert "backend: 'flaky' is installed" in message
    assert "its plugin failed to load: RuntimeError: vendor SDK config unreadable" in message
    assert "(from argument backend=['local', 'flaky'])" in message
    assert "fix that error" in message


def test_no_backend_and_a_repeated_backend(vault_host: PluginHost) -> None:
    message = assert_format(config_error(vault_host, backend=""), 1)
    assert "backend: no backend selected (from argument backend='')" in message
    message = assert_format(config_error(vault_host, backend=["local", "local"]), 1)
    assert "backend: 'local' listed more than once" in message
    assert "list each backend once" in message


def test_the_public_start_logging_raises_value_error_for_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown backend 'nonexistent'") as caught:
        tracelet.start_logging(backend="nonexistent")
    assert "installed backends:" in str(caught.value)
    assert get_active_run() is None


def test_nothing_starts_and_the_active_run_survives_a_config_error(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    first = start_run(backend="local", host=vault_host)
    with pytest.raises(ConfigError):
        start_run(backend="local", config={"batch_sise": 1}, host=vault_host)
    assert get_active_run() is first
    assert first.status == "running"
    assert len(list_runs(tmp_path / "tracelet-runs")) == 1  # no second run folder
    first.stop(timeout=10)


# -- validation errors: sections of missing backends -----------------------------------------------


def test_a_section_no_installed_plugin_provides_asks_for_the_plugin(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "tensorboard:\n  logdir: runs\n")
    message = assert_format(config_error(vault_host), 1)
    assert "tensorboard: section of a 'tensorboard' backend, which no installed plugin" in message
    assert "installed backends: local, memory, vault" in message
    assert "install the plugin distribution of the 'tensorboard' backend" in message
    assert "capture_tensorboard" not in message
    write_yaml(tmp_path / "tracelet.yaml", "vualt:\n  uri: x\n")
    assert "did you mean 'vault'?" in str(config_error(vault_host))


def test_a_section_for_a_backend_that_is_not_installed(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "project: p\nwandb:\n  entity: me\n")
    message = assert_format(config_error(vault_host), 1)
    assert (
        f"wandb: section of the 'wandb' backend, which is not installed (from {yaml_file}:2)"
    ) in message
    assert "tracelet-wandb" in message
    assert 'pip install "tracelet[wandb]"' in message


def test_a_section_for_an_unknown_plugin_and_for_a_backend_without_settings(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "neptune:\n  project: x\nmemory: {}\n")
    message = assert_format(config_error(vault_host), 2)
    assert "neptune: section of a 'neptune' backend, which no installed plugin provides" in message
    assert f"installed backends: local, memory, vault) (from {yaml_file}:1)" in message
    assert "install the plugin distribution of the 'neptune' backend" in message
    assert f"memory: the 'memory' backend has no settings (from {yaml_file}:3)" in message


def test_a_section_for_a_backend_whose_plugin_failed(host: PluginHost, tmp_path: Path) -> None:
    host.register(BrokenPlugin(), name="flaky")
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "flaky:\n  uri: x\n")
    message = assert_format(config_error(host), 1)
    assert "flaky: section of the 'flaky' backend, whose plugin failed to load" in message
    assert "vendor SDK config unreadable" in message
    assert f"(from {yaml_file}:1)" in message


def test_a_config_error_in_a_subprocess_is_a_value_error_before_anything_starts(
    tmp_path: Path,
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "backend: local\nwandb:\n  entity: me\n")
    script = (
        "import tracelet\n"
        "try:\n"
        "    tracelet.start_logging()\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    # The W&B plugin is installed here: leaving it out of TRACELET_PLUGINS is its own error.
    result = run([sys.executable, "-c", script], tmp_path, env={"TRACELET_PLUGINS": "collectors"})
    assert result.returncode == 0, result.stderr
    assert "wandb: section of the 'wandb' backend, which is installed but not loaded" in (
        result.stdout
    )
    assert "add wandb to TRACELET_PLUGINS, or remove the section" in result.stdout
    assert not (tmp_path / "tracelet-runs").exists()


def test_collector_keys_belong_to_the_collectors_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collectors' keys exist only where tracelet-collectors is loaded; elsewhere setting
    one names the distribution to install."""
    from tracelet_collectors import plugin

    with_collectors = PluginHost(load_entrypoints=False)
    with_collectors.register(plugin, name="collectors")
    settings = resolve_settings(with_collectors, config={"system_metrics_interval": 2}).model
    assert settings.system_metrics_interval == 2
    assert settings.collect_system_metrics is False  # the tests' env var
    core_only = PluginHost(load_entrypoints=False)
    monkeypatch.delenv("TRACELET_COLLECT_GPU_METRICS")
    monkeypatch.delenv("TRACELET_TRACK_ENVIRONMENT")
    message = assert_format(config_error(core_only), 1)
    assert "collect_system_metrics: a key of Tracelet's collectors, which are not installed" in (
        message
    )
    assert "pip install tracelet-collectors" in message
    monkeypatch.delenv("TRACELET_COLLECT_SYSTEM_METRICS")
    keys = {key for key, _, _ in resolve_settings(core_only).rows()}
    assert not keys & {"collect_system_metrics", "capture_tensorboard", "track_git_info"}
