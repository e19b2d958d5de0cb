"""The ``config`` argument: flat keys and sections, routed to the core and to the selected
backends' sections.

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from settings_vault import (
    VaultBackend,
    VaultSettings,
    by_key,
    write_yaml,
)

from tracelet.plugins import PluginHost
from tracelet.session import start_run
from tracelet.settings import resolve_settings

# -- the config argument -----------------------------------------------------------------------


@pytest.mark.parametrize("backends", ["vault", "local,vault"])
@pytest.mark.parametrize("where", ["argument", "env", "file"])
def test_a_flat_config_key_means_the_same_with_one_or_several_backends(
    vault_host: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    backends: str,
) -> None:
    """A flat key goes to every selected backend that has it, and to the core if it has it."""
    backend: list[str] | None = None
    if where == "argument":
        backend = backends.split(",")
    elif where == "env":
        monkeypatch.setenv("TRACELET_BACKEND", backends)
    else:
        write_yaml(tmp_path / "tracelet.yaml", f"backend: [{backends}]\n")
    resolved = resolve_settings(
        vault_host,
        backend=backend,
        config={"uri": "http://x", "experiment_name": "Vault Exp", "batch_size": 7},
    )
    s = resolved.model
    vault = s.vault  # type: ignore[attr-defined]
    # experiment_name is a key of the core (the run's name) and of the vault section: both
    assert (vault.uri, vault.experiment_name) == ("http://x", "Vault Exp")
    assert s.experiment_name == "Vault Exp"
    assert resolved.source_of(["vault", "experiment_name"]) == "argument config['experiment_name']"
    assert resolved.source_of(["experiment_name"]) == "argument config['experiment_name']"
    assert s.batch_size == 7  # not a vault key: a core key
    assert "batch_size" not in vault.model_fields_set


def test_exp_name_names_the_run_while_a_flat_experiment_name_goes_to_the_backend_too(
    vault_host: PluginHost,
) -> None:
    resolved = resolve_settings(
        vault_host,
        exp_name="run-7",
        backend=["local", "vault"],
        config={"experiment_name": "Vault Exp"},
    )
    assert resolved.model.experiment_name == "run-7"
    assert resolved.model.vault.experiment_name == "Vault Exp"  # type: ignore[attr-defined]


def test_flat_keys_are_core_keys_when_the_backend_has_no_such_key(
    vault_host: PluginHost,
) -> None:
    resolved = resolve_settings(vault_host, backend="local", config={"experiment_name": "core"})
    assert resolved.model.experiment_name == "core"
    assert resolved.model.vault.experiment_name is None  # type: ignore[attr-defined]


def test_sections_in_config_with_several_backends(vault_host: PluginHost) -> None:
    resolved = resolve_settings(
        vault_host,
        backend=["vault", "local"],
        config={"vault": {"uri": "http://multi"}, "local": {"fsync": True}, "batch_size": 3},
    )
    rows = by_key(resolved)
    assert rows["vault.uri"] == ("http://multi", "argument config['vault']['uri']")
    assert rows["local.fsync"] == (True, "argument config['local']['fsync']")
    assert rows["batch_size"][0] == 3


def test_a_section_model_instance_in_config_merges_like_a_mapping(
    vault_host: PluginHost, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "vault:\n  retries: 6\n")
    resolved = resolve_settings(
        vault_host, backend="vault", config={"vault": VaultSettings(uri="http://model")}
    )
    rows = by_key(resolved)
    assert rows["vault.uri"][0] == "http://model"
    assert rows["vault.retries"][0] == 6  # not set on the instance: the file's value stays


def test_the_backend_receives_its_merged_section(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "vault:\n  retries: 2\n")
    monkeypatch.setenv("VAULT_TOKEN", "env-secret")
    run = start_run(backend="vault", config={"uri": "http://arg"}, host=vault_host)
    run.stop(timeout=10)
    (section,) = VaultBackend.created
    assert (section.uri, section.retries) == ("http://arg", 2)
    assert section.token is not None
    assert section.token.get_secret_value() == "env-secret"
