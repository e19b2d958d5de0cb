"""Layered settings: arguments > env vars > tracelet.yaml > defaults, per key, and their errors.

Every test uses the real layers: a ``tracelet.yaml`` written in the test's working directory
(``tmp_path``, see the ``isolated`` fixture), env vars set with ``monkeypatch.setenv``, and the
arguments of :func:`resolve_settings` / :func:`start_run` on a fresh plugin host. A small
``vault`` backend plugin registered on that host brings a settings section (``extra="forbid"``,
a ``SecretStr``, a comma list) and native env vars (``VAULT_URI``, ``VAULT_TOKEN``). One test
runs ``tracelet.start_logging`` in a real subprocess.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr
from support.processes import COLLECTORS_OFF, run

import tracelet
from tracelet.backend import BaseBackend, RunInfo
from tracelet.backends.local import list_runs, read_run
from tracelet.errors import ConfigError
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import Batch, Capability, RunStatus
from tracelet.session import get_active_run, start_run
from tracelet.settings import CommaList, ResolvedSettings, resolve_settings
from tracelet.settings.resolve import REDACTED

# -- the test plugin ---------------------------------------------------------------------------


class VaultSettings(BaseModel):
    """Section ``vault:`` of the test backend."""

    model_config = ConfigDict(extra="forbid")

    uri: str = "file:./vault"
    experiment_name: str | None = None
    token: SecretStr | None = None
    retries: int = 3
    tags: CommaList = []
    headers: dict[str, SecretStr] = {}


class VaultBackend(BaseBackend):
    """Keeps the settings section it was created with, so a test sees what reached it."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"metrics", "params"})
    created: ClassVar[list[VaultSettings]] = []

    def __init__(self, settings: VaultSettings) -> None:
        VaultBackend.created.append(settings)

    def start(self, run: RunInfo) -> None:
        pass

    def write(self, batch: Batch) -> None:
        pass

    def close(self, status: RunStatus) -> None:
        pass


class VaultPlugin:
    """Registers the ``vault`` backend with its section and native env vars."""

    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        register(
            "vault",
            VaultBackend,
            settings=VaultSettings,
            native_env={"VAULT_URI": "uri", "VAULT_TOKEN": "token"},
            description="test backend with a settings section",
        )


class BrokenPlugin:
    """A plugin whose discovery hook raises, like one whose SDK is misconfigured."""

    @hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        raise RuntimeError("vendor SDK config unreadable")


@pytest.fixture
def vault_host(host: PluginHost) -> PluginHost:
    """The fresh host with the ``vault`` plugin registered."""
    info = host.register(VaultPlugin(), name="vault")
    assert info.status == "loaded", info.error
    VaultBackend.created.clear()
    return host


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def config_error(host: PluginHost, **kwargs: Any) -> ConfigError:
    """The ConfigError ``resolve_settings`` raises for these arguments."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings(host, **kwargs)
    return caught.value


def by_key(resolved: ResolvedSettings) -> dict[str, tuple[Any, str]]:
    return {key: (value, source) for key, value, source in resolved.rows()}


# -- precedence --------------------------------------------------------------------------------


def test_precedence_is_per_key_across_all_four_layers(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        backend: memory
        project: file-project
        experiment_name: file-experiment
        batch_size: 10
        nan_policy: drop
        local:
          path: file-runs
          fsync: false
        """,
    )
    monkeypatch.setenv("TRACELET_BACKEND", "local")
    monkeypatch.setenv("TRACELET_BATCH_SIZE", "20")
    monkeypatch.setenv("TRACELET_NAN_POLICY", "error")
    monkeypatch.setenv("TRACELET_LOCAL__FSYNC", "true")

    resolved = resolve_settings(vault_host, project="arg-project", config={"batch_size": 30})
    s = resolved.model

    assert s.project == "arg-project"  # argument > file
    assert resolved.source_of(["project"]) == "argument project='arg-project'"
    assert s.backend == ["local"]  # env > file
    assert resolved.source_of(["backend"]) == "env var TRACELET_BACKEND"
    assert s.experiment_name == "file-experiment"  # file > default
    assert resolved.source_of(["experiment_name"]) == f"{yaml_file}:3"
    assert s.flush_interval == 1.0  # nothing set it
    assert resolved.source_of(["flush_interval"]) == "default"
    assert s.batch_size == 30  # set in all three layers: the argument wins
    assert resolved.source_of(["batch_size"]) == "argument config['batch_size']"
    assert s.nan_policy == "error"  # env > file
    # the local section is merged key by key: path from the file, fsync from env
    local = resolved.section("local")
    assert local is not None
    assert local.model_dump() == {"path": "file-runs", "fsync": True}
    assert resolved.source_of(["local", "path"]) == f"{yaml_file}:7"
    assert resolved.source_of(["local", "fsync"]) == "env var TRACELET_LOCAL__FSYNC"
    assert resolved.config_file == str(yaml_file)


def test_arguments_merge_into_a_section_key_by_key(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        vault:
          uri: http://file
          retries: 5
          tags: [from-file]
        """,
    )
    monkeypatch.setenv("TRACELET_VAULT__RETRIES", "7")
    resolved = resolve_settings(
        vault_host, backend=["vault", "local"], config={"vault": {"tags": ["from-arg"]}}
    )
    rows = by_key(resolved)
    assert rows["vault.uri"] == ("http://file", f"{yaml_file}:2")
    assert rows["vault.retries"] == (7, "env var TRACELET_VAULT__RETRIES")
    assert rows["vault.tags"] == (["from-arg"], "argument config['vault']['tags']")
    assert rows["vault.experiment_name"] == (None, "default")


def test_exp_name_project_and_backend_arguments_beat_every_other_layer(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "experiment_name: f\nproject: f\nbackend: vault\n")
    monkeypatch.setenv("TRACELET_EXPERIMENT_NAME", "e")
    monkeypatch.setenv("TRACELET_PROJECT", "e")
    monkeypatch.setenv("TRACELET_BACKEND", "vault")
    resolved = resolve_settings(
        vault_host,
        exp_name="a",
        project="a",
        backend="memory",
        config={"experiment_name": "c", "project": "c", "backend": "vault"},
    )
    s = resolved.model
    # the named arguments win over the same keys in config, which win over env and file
    assert (s.experiment_name, s.project, s.backend) == ("a", "a", ["memory"])
    assert resolved.source_of(["experiment_name"]) == "argument exp_name='a'"


def test_start_run_uses_the_resolved_settings(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "project: from-file\nlocal:\n  path: file-runs\n")
    monkeypatch.setenv("TRACELET_EXPERIMENT_NAME", "from-env")
    run = start_run(backend="local", config={"local": {"fsync": True}}, host=vault_host)
    run.log_metric("loss", 0.5, step=1)
    assert run.stop(timeout=10)
    (stored,) = list_runs(tmp_path / "file-runs")
    assert (stored.name, stored.project) == ("from-env", "from-file")
    assert [m.value for m in stored.metrics["loss"]] == [0.5]


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


# -- validation errors: format -------------------------------------------------------------------

PROBLEM_LINE = re.compile(r"^  - \S.*: .+ \(from .+\); .+$")


def assert_format(error: ConfigError, count: int) -> str:
    """Check the shared format and return the message."""
    message = str(error)
    noun = "problem" if count == 1 else "problems"
    lines = message.splitlines()
    assert lines[0] == f"Invalid Tracelet configuration ({count} {noun}):"
    assert len(lines) == count + 1
    for line in lines[1:]:
        assert PROBLEM_LINE.match(line), line
    assert error.problems == [line[4:] for line in lines[1:]]
    assert isinstance(error, ValueError)
    return message


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


# -- end to end ------------------------------------------------------------------------------------

SCRIPT = """
import json, tracelet
run = tracelet.start_logging(project="arg-project", config={"batch_size": 30})
run.log_metric("loss", 0.25, step=3)
rows = {key: [value, source] for key, value, source in run.settings.rows()}
print(json.dumps({"rows": rows, "locations": run.locations()}, default=str))
tracelet.stop_logging()
"""


def test_precedence_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        backend: memory
        project: file-project
        experiment_name: file-experiment
        batch_size: 10
        local:
          path: file-runs
        """,
    )
    env = {
        "TRACELET_BACKEND": "local",
        "TRACELET_BATCH_SIZE": "20",
        "TRACELET_LOCAL__FSYNC": "true",
        "TRACELET_PLUGINS": "collectors",  # only the built-in backends
    }
    result = run([sys.executable, "-c", SCRIPT], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    rows = document["rows"]
    assert rows["project"] == ["arg-project", "argument project='arg-project'"]
    assert rows["backend"] == [["local"], "env var TRACELET_BACKEND"]
    assert rows["experiment_name"] == ["file-experiment", f"{yaml_file}:3"]
    assert rows["batch_size"] == [30, "argument config['batch_size']"]
    assert rows["flush_interval"] == [1.0, "default"]
    assert rows["local.path"] == ["file-runs", f"{yaml_file}:6"]
    assert rows["local.fsync"] == [True, "env var TRACELET_LOCAL__FSYNC"]
    # and the run went where the merged settings said
    run_dir = Path(document["locations"]["local"])
    assert run_dir.parent == (tmp_path / "file-runs" / "arg-project").resolve()
    stored = read_run(run_dir)
    assert (stored.name, stored.status) == ("file-experiment", "finished")
    assert [m.value for m in stored.metrics["loss"]] == [0.25]


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
