"""Configuration errors: every problem at once, in one format; unknown keys, wrong types and a
broken config file, each naming the key, its source and the fix.

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from settings_vault import (
    assert_format,
    config_error,
    write_yaml,
)

from tracelet.plugins import PluginHost

# -- validation errors: format -------------------------------------------------------------------


def test_every_problem_is_reported_at_once(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "flush_interval: -1\nnan_policy: dropp\n")
    monkeypatch.setenv("TRACELET_BATCH_SIZE", "lots")
    error = config_error(vault_host, config={"overflow_policy": "sometimes"})
    message = assert_format(error, 4)
    assert f"flush_interval: input should be greater than 0, got -1 (from {yaml_file}:1)" in message
    assert (
        f"nan_policy: input should be 'keep', 'drop' or 'error', got 'dropp' (from {yaml_file}:2)"
    ) in message
    assert "batch_size:" in message
    assert "(from env var TRACELET_BATCH_SIZE)" in message
    assert "overflow_policy:" in message
    assert "(from argument config['overflow_policy'])" in message


# -- validation errors: unknown keys -------------------------------------------------------------


def test_unknown_key_in_arguments(vault_host: PluginHost) -> None:
    message = assert_format(config_error(vault_host, config={"flush_interal": 2}), 1)
    assert (
        "flush_interal: unknown key (from argument config['flush_interal']); "
        "did you mean 'flush_interval'?"
    ) in message


def test_unknown_key_in_env(vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELET_BATCH_SIZ", "5")
    message = assert_format(config_error(vault_host), 1)
    assert (
        "batch_siz: unknown key (from env var TRACELET_BATCH_SIZ); "
        "did you mean TRACELET_BATCH_SIZE?"
    ) in message


def test_unknown_key_in_the_file(vault_host: PluginHost, tmp_path: Path) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "backend: local\nprojcet: x\n")
    message = assert_format(config_error(vault_host), 1)
    assert f"projcet: unknown key (from {yaml_file}:2); did you mean 'project'?" in message


def test_unknown_key_inside_a_section_in_the_file_and_in_env(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "vault:\n  uri: u\n  retires: 2\n")
    monkeypatch.setenv("TRACELET_LOCAL__FSINK", "true")
    message = assert_format(config_error(vault_host), 2)
    assert (
        f"vault.retires: unknown key in section 'vault' (from {yaml_file}:3); "
        "did you mean 'vault.retries'?"
    ) in message
    assert (
        "local.fsink: unknown key in section 'local' (from env var TRACELET_LOCAL__FSINK); "
        "did you mean TRACELET_LOCAL__FSYNC?"
    ) in message


def test_unknown_key_in_a_section_without_a_close_match_lists_the_valid_keys(
    vault_host: PluginHost,
) -> None:
    message = str(config_error(vault_host, config={"local": {"compression": "zstd"}}))
    assert "local.compression: unknown key in section 'local'" in message
    assert "remove it from the call; valid keys: path, fsync" in message


def test_a_section_key_given_at_the_top_level_says_where_it_belongs(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = str(config_error(vault_host, backend=["local", "memory"], config={"retries": 2}))
    assert "retries: not a top-level key; it belongs in the 'vault' section" in message
    assert "pass config={'vault': {'retries': ...}}" in message
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "uri: http://x\n")
    message = str(config_error(vault_host))
    assert f"(from {yaml_file}:1); put it under 'vault:'" in message
    (tmp_path / "tracelet.yaml").unlink()
    monkeypatch.setenv("TRACELET_LOCAL_FSYNC", "1")  # one underscore instead of two
    message = str(config_error(vault_host))
    assert "did you mean TRACELET_LOCAL__FSYNC (two underscores)?" in message


def test_a_flat_key_and_its_section_entry_together_are_a_conflict(
    vault_host: PluginHost,
) -> None:
    error = config_error(vault_host, backend="vault", config={"uri": "a", "vault": {"uri": "b"}})
    message = assert_format(error, 1)
    assert "vault.uri: given twice" in message


def test_a_value_and_a_section_for_the_same_env_key_conflict(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_PROJECT", "p")
    monkeypatch.setenv("TRACELET_PROJECT__NAME", "q")
    message = str(config_error(vault_host))
    assert "project: set as a value by TRACELET_PROJECT and as a section by" in message
    assert "TRACELET_PROJECT__NAME" in message
    assert "unset one of them" in message


# -- validation errors: types --------------------------------------------------------------------


def test_wrong_types_from_each_source_name_the_source_and_fix(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = str(config_error(vault_host, config={"batch_size": "lots"}))
    assert "batch_size: input should be a valid integer" in message
    assert "got 'lots' (from argument config['batch_size']); change the argument" in message

    monkeypatch.setenv("TRACELET_LOG_ALL_RANKS", "perhaps")
    message = str(config_error(vault_host))
    assert "log_all_ranks: input should be a valid boolean" in message
    assert (
        "got 'perhaps' (from env var TRACELET_LOG_ALL_RANKS); change or unset "
        "TRACELET_LOG_ALL_RANKS"
    ) in message
    monkeypatch.delenv("TRACELET_LOG_ALL_RANKS")

    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "project: p\nlocal:\n  fsync: often\n")
    message = str(config_error(vault_host))
    assert "local.fsync: input should be a valid boolean" in message
    assert f"got 'often' (from {yaml_file}:3); change it in the file" in message

    write_yaml(tmp_path / "tracelet.yaml", "local: ./runs\n")
    message = str(config_error(vault_host))
    assert "local: input should be a valid dictionary" in message
    assert f"(from {yaml_file}:1)" in message


def test_config_that_is_not_a_mapping(vault_host: PluginHost) -> None:
    error = config_error(vault_host, config=["batch_size", 5])  # type: ignore[arg-type]
    message = assert_format(error, 1)
    assert "config: must be a mapping of keys to values, got list (from argument config)" in message


# -- validation errors: the file -------------------------------------------------------------------


def test_bad_yaml_gives_file_line_and_column(vault_host: PluginHost, tmp_path: Path) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "backend: local\n  project: x\n")
    message = assert_format(config_error(vault_host), 1)
    assert (
        f"tracelet.yaml: invalid YAML: mapping values are not allowed here (from {yaml_file}:2:"
    ) in message
    assert f"(from {yaml_file}:2:10)" in message
    assert "fix the syntax there" in message


def test_a_yaml_top_level_that_is_not_a_mapping(vault_host: PluginHost, tmp_path: Path) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "- backend: local\n- project: x\n")
    message = assert_format(config_error(vault_host), 1)
    assert "the top level must be a mapping of keys to values, not a list" in message
    assert f"(from {yaml_file}:1)" in message
    assert "'key: value'" in message


def test_a_key_twice_in_the_file(vault_host: PluginHost, tmp_path: Path) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "project: a\nbatch_size: 3\nproject: b\n")
    message = assert_format(config_error(vault_host), 1)
    assert f"project: set twice in the file (lines 1 and 3) (from {yaml_file}:3)" in message


def test_tracelet_config_pointing_to_a_missing_file(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "project: here\n")  # must not be used instead
    monkeypatch.setenv("TRACELET_CONFIG", "tracelet.prod.yaml")
    message = assert_format(config_error(vault_host), 1)
    assert f"TRACELET_CONFIG: no such file: {tmp_path / 'tracelet.prod.yaml'}" in message
    assert "(from env var TRACELET_CONFIG)" in message
    assert "fix the path, or unset TRACELET_CONFIG" in message
