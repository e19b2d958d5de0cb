"""Where settings come from besides call arguments: env vars and the YAML file.

Both sources return a nested dict for pydantic-settings to deep-merge, and can say where each
value came from (``provenance``), so that errors and ``tracelet config`` name the env var or the
file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tracelet.errors import ConfigError

#: Prefix of Tracelet's env vars: ``TRACELET_<KEY>`` and ``TRACELET_<SECTION>__<KEY>``.
ENV_PREFIX = "TRACELET_"
#: Separator between a section and its key in an env var name.
ENV_NESTED_DELIMITER = "__"
#: Env var holding the path of the YAML file to read instead of ``./tracelet.yaml``.
CONFIG_ENV = "TRACELET_CONFIG"
#: The file read from the working directory when ``TRACELET_CONFIG`` is not set.
DEFAULT_CONFIG_FILE = "tracelet.yaml"
#: ``TRACELET_*`` env vars that are not settings.
RESERVED_ENV = frozenset({CONFIG_ENV, "TRACELET_PLUGINS", "TRACELET_TRACE_HOOKS"})

Path_ = tuple[str, ...]


def _set_path(target: dict[str, Any], path: Path_, value: Any) -> None:
    for part in path[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):  # TRACELET_X=1 and TRACELET_X__Y=2 together
            nxt = {}
            target[part] = nxt
        target = nxt
    target[path[-1]] = value


def _decode_env_value(raw: str) -> Any:
    """JSON for values that look like a list or a mapping; the string otherwise."""
    stripped = raw.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


class _NoFieldLookup(PydanticBaseSettingsSource):
    """Our sources build their whole dict in ``__call__``; per-field lookup is unused."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


class TraceletEnvSource(_NoFieldLookup):
    """``TRACELET_<KEY>``, ``TRACELET_<SECTION>__<KEY>`` and the backends' native env vars.

    Names are matched in upper case; keys are lower-cased. A value that starts with ``[`` or
    ``{`` is parsed as JSON. Unknown ``TRACELET_*`` names are passed on, so that validation
    reports them as unknown keys naming the env var. A native var (``MLFLOW_TRACKING_URI``)
    sets its key unless the matching ``TRACELET_`` var is also set.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ
        self._provenance: dict[Path_, str] = {}
        self._data: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        if self._data is not None:
            return self._data
        data: dict[str, Any] = {}
        for name, raw in sorted(self.environ.items()):
            if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
                continue
            parts = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER))
            if not all(parts):
                continue
            _set_path(data, parts, _decode_env_value(raw))
            self._provenance[parts] = f"env var {name}"
        native: Mapping[str, tuple[str, str]] = getattr(self.settings_cls, "native_env", {})
        for name, (section, key) in sorted(native.items()):
            if name not in self.environ or (section, key) in self._provenance:
                continue
            _set_path(data, (section, key), _decode_env_value(self.environ[name]))
            self._provenance[(section, key)] = f"env var {name}"
        self._data = data
        return data

    def provenance(self) -> dict[Path_, str]:
        """Key path → ``"env var NAME"`` for every value this source gave."""
        self()
        return dict(self._provenance)


def config_file_path(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The YAML file to read and why: ``TRACELET_CONFIG`` or ``./tracelet.yaml``.

    Returns:
        ``(path, reason)``; ``path`` is ``None`` when no file applies.

    Raises:
        ConfigError: ``TRACELET_CONFIG`` names a file that does not exist.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{CONFIG_ENV}={explicit!r}: no such file. Fix the path or unset {CONFIG_ENV} "
                f"to read ./{DEFAULT_CONFIG_FILE}."
            )
        return path, f"env var {CONFIG_ENV}"
    default = Path.cwd() / DEFAULT_CONFIG_FILE
    if default.is_file():
        return default, "working directory"
    return None, "none found"


class TraceletYamlSource(_NoFieldLookup):
    """The YAML file named by ``TRACELET_CONFIG``, else ``tracelet.yaml`` in the working directory.

    Raises:
        ConfigError: The file cannot be read or parsed, or its top level is not a mapping
            (the message gives the file, line and column).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.path, _ = config_file_path(environ)
        self._provenance: dict[Path_, str] = {}
        self._data: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {} if self.path is None else self._load(self.path)
        return self._data

    def provenance(self) -> dict[Path_, str]:
        """Key path → ``"<file>:<line>"`` for every key in the file."""
        self()
        return dict(self._provenance)

    def _load(self, path: Path) -> dict[str, Any]:
        import yaml

        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            problem = exc.problem or str(exc)
            raise ConfigError(
                f"{where}: invalid YAML: {problem}. Fix the file's syntax (check the "
                "indentation and that every 'key: value' has a space after the colon)."
            ) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        if data is None:
            return {}
        if not isinstance(data, dict) or node is None:
            raise ConfigError(
                f"{path}:1: the config file must be a mapping of keys to values "
                f"(like 'backend: local'), not a {type(data).__name__}."
            )
        self._record_lines(node, (), path)
        return data

    def _record_lines(self, node: Any, prefix: Path_, path: Path) -> None:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            self._provenance[key] = f"{path}:{key_node.start_mark.line + 1}"
            self._record_lines(value_node, key, path)
