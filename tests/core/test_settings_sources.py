"""The layers below the arguments: env vars (``TRACELET_*`` and the backends' native ones) and
the config file (``tracelet.yaml``, or the one ``TRACELET_CONFIG`` names).

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from settings_vault import (
    by_key,
    write_yaml,
)
from support.processes import COLLECTORS_OFF

from tracelet.plugins import PluginHost
from tracelet.settings import resolve_settings

# -- env vars ----------------------------------------------------------------------------------


def test_env_vars_for_core_keys_sections_and_comma_lists(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_BACKEND", "local,memory")
    monkeypatch.setenv("TRACELET_FLUSH_INTERVAL", "0.25")
    monkeypatch.setenv("TRACELET_LOG_ALL_RANKS", "true")
    monkeypatch.setenv("TRACELET_VAULT__TAGS", "a, b,c")
    monkeypatch.setenv("TRACELET_VAULT__RETRIES", "9")
    s = resolve_settings(vault_host).model
    assert s.backend == ["local", "memory"]
    assert s.flush_interval == 0.25
    assert s.log_all_ranks is True
    vault = s.vault  # type: ignore[attr-defined]
    assert (vault.tags, vault.retries) == (["a", "b", "c"], 9)


def test_env_json_sets_a_section_and_a_nested_var_overrides_one_key(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_VAULT", '{"uri": "http://json", "retries": 4}')
    monkeypatch.setenv("TRACELET_VAULT__RETRIES", "8")
    monkeypatch.setenv("TRACELET_BACKEND", '["vault", "local"]')
    resolved = resolve_settings(vault_host)
    rows = by_key(resolved)
    assert rows["vault.uri"] == ("http://json", "env var TRACELET_VAULT")
    assert rows["vault.retries"] == (8, "env var TRACELET_VAULT__RETRIES")
    assert rows["backend"] == (["vault", "local"], "env var TRACELET_BACKEND")


def test_native_env_var_applies_at_env_priority(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "vault:\n  uri: http://file\n")
    monkeypatch.setenv("VAULT_URI", "http://native")
    resolved = resolve_settings(vault_host, backend="vault")
    assert by_key(resolved)["vault.uri"] == ("http://native", "env var VAULT_URI")  # > file
    # an argument still wins over it
    resolved = resolve_settings(vault_host, backend="vault", config={"uri": "http://arg"})
    assert by_key(resolved)["vault.uri"] == ("http://arg", "argument config['uri']")


def test_tracelet_env_var_wins_over_the_native_one(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_URI", "http://native")
    monkeypatch.setenv("TRACELET_VAULT__URI", "http://tracelet")
    assert by_key(resolve_settings(vault_host))["vault.uri"] == (
        "http://tracelet",
        "env var TRACELET_VAULT__URI",
    )
    # also when the TRACELET_ form is a JSON section
    monkeypatch.delenv("TRACELET_VAULT__URI")
    monkeypatch.setenv("TRACELET_VAULT", '{"uri": "http://json"}')
    assert by_key(resolve_settings(vault_host))["vault.uri"][0] == "http://json"


def test_reserved_env_vars_are_not_settings(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_PLUGINS", "collectors")
    monkeypatch.setenv("TRACELET_TRACE_HOOKS", "0")
    assert resolve_settings(vault_host).model.backend == ["local"]


# -- the config file ---------------------------------------------------------------------------


def test_tracelet_config_names_another_file(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "project: dev\n")
    prod = write_yaml(tmp_path / "tracelet.prod.yaml", "batch_size: 5\nproject: prod\n")
    monkeypatch.setenv("TRACELET_CONFIG", "tracelet.prod.yaml")
    resolved = resolve_settings(vault_host)
    assert resolved.model.project == "prod"
    assert resolved.source_of(["project"]) == f"{prod}:2"
    assert resolved.config_file == str(prod)


def test_no_file_means_defaults(vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COLLECTORS_OFF:
        monkeypatch.delenv(name)
    resolved = resolve_settings(vault_host)
    assert resolved.config_file is None
    assert {source for _, _, source in resolved.rows()} == {"default"}


def test_an_empty_file_and_an_empty_section_are_fine(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "# nothing yet\n")
    assert resolve_settings(vault_host).model.project == "default"
    # a section whose keys are all commented out is an empty section, not an error
    write_yaml(tmp_path / "tracelet.yaml", "vault:\n  # uri: x\nproject: p\n")
    resolved = resolve_settings(vault_host)
    assert by_key(resolved)["vault.uri"] == ("file:./vault", "default")
