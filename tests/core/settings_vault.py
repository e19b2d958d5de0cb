"""The test plugin and helpers shared by the settings tests (``tests/core/test_settings_*.py``).

Every settings test uses the real layers: a ``tracelet.yaml`` written in the test's working
directory (``tmp_path``, see the ``isolated`` fixture), env vars set with ``monkeypatch.setenv``,
and the arguments of :func:`resolve_settings` / :func:`start_run` on a fresh plugin host. A
small ``vault`` backend plugin (:class:`VaultPlugin`, registered on that host by the
``vault_host`` fixture of ``tests/core/conftest.py``) brings a settings section
(``extra="forbid"``, a ``SecretStr``, a comma list) and native env vars (``VAULT_URI``,
``VAULT_TOKEN``).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from tracelet.backend import BaseBackend, RunInfo
from tracelet.errors import ConfigError
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import Batch, Capability, RunStatus
from tracelet.settings import CommaList, ResolvedSettings, resolve_settings

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


# -- the format of every configuration error ----------------------------------------------------

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
