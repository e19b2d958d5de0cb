"""Secrets: masked wherever settings are shown, never quoted in errors, and a warning when one
is in the config file.

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from settings_vault import (
    by_key,
    config_error,
    write_yaml,
)

from tracelet.plugins import PluginHost
from tracelet.settings import resolve_settings
from tracelet.settings.resolve import REDACTED

# -- secrets -----------------------------------------------------------------------------------


def test_a_secret_in_the_file_warns_and_is_redacted(
    vault_host: PluginHost, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "vault:\n  uri: u\n  token: f1le-s3cr3t\n")
    with caplog.at_level(logging.WARNING, logger="tracelet.settings"):
        resolved = resolve_settings(vault_host, backend="vault")
    (record,) = [r for r in caplog.records if r.name == "tracelet.settings"]
    warning = record.getMessage()
    assert "vault.token" in warning
    assert f"{yaml_file}:3" in warning
    assert "TRACELET_VAULT__TOKEN" in warning
    assert "VAULT_TOKEN" in warning
    assert "f1le-s3cr3t" not in warning
    rows = by_key(resolved)
    assert rows["vault.token"] == (REDACTED, f"{yaml_file}:3")
    assert "f1le-s3cr3t" not in repr(resolved.rows())
    token = resolved.model.vault.token  # type: ignore[attr-defined]
    assert token.get_secret_value() == "f1le-s3cr3t"  # the backend still gets the value


def test_a_secret_from_env_does_not_warn(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "env-s3cr3t")
    with caplog.at_level(logging.WARNING, logger="tracelet.settings"):
        resolved = resolve_settings(vault_host)
    assert [r for r in caplog.records if r.name == "tracelet.settings"] == []
    assert by_key(resolved)["vault.token"] == (REDACTED, "env var VAULT_TOKEN")


def test_secrets_inside_containers_are_redacted(
    vault_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_VAULT__HEADERS", '{"Authorization": "Bearer h3ader"}')
    resolved = resolve_settings(vault_host)
    assert by_key(resolved)["vault.headers"] == (
        {"Authorization": REDACTED},
        "env var TRACELET_VAULT__HEADERS",
    )
    assert "h3ader" not in repr(resolved.rows())


def test_secrets_never_appear_in_error_messages(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a secret of the wrong type: other keys' messages show the value, a secret's must not
    yaml_file = write_yaml(tmp_path / "tracelet.yaml", "vault:\n  token: 987654321\n")
    message = str(config_error(vault_host, backend="vault", config={"retries": "many"}))
    assert "vault.token" in message
    assert f"{yaml_file}:2" in message
    assert "987654321" not in message
    assert "'many'" in message  # a non-secret value is shown
    # a misspelled secret key in env and in an argument
    (tmp_path / "tracelet.yaml").unlink()
    monkeypatch.setenv("TRACELET_VAULT__TOKNE", "env-s3cr3t")
    message = str(config_error(vault_host, config={"vault": {"tokn": "arg-s3cr3t"}}))
    assert "TRACELET_VAULT__TOKEN" in message
    assert "'vault.token'" in message
    assert "s3cr3t" not in message
    # a mapping where a plain value belongs is not quoted: it may hold credentials
    monkeypatch.delenv("TRACELET_VAULT__TOKNE")
    monkeypatch.setenv("TRACELET_PROJECT", '{"password": "hunter2"}')
    message = str(config_error(vault_host))
    assert "project: input should be a valid string, got a mapping" in message
    assert "hunter2" not in message
