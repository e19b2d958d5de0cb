"""Where settings come from besides call arguments: env vars and the YAML file.

Each source is a :class:`Layer`: called, it returns its nested dict (read once, on the first
call) for pydantic-settings to deep-merge, and it says where each value came from
(``provenance``: key path → source), so that errors and ``tracelet config`` name the env var,
or the file and line. :class:`LayerSource` hands a layer to pydantic-settings. Which layer wins
is decided elsewhere (:mod:`tracelet.settings.layers`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tracelet.settings.legacy import apply_legacy_keys
from tracelet.settings.problems import invalid_config, problem

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

KeyPath = tuple[str, ...]


def env_var_name(path: KeyPath) -> str:
    """The env var that sets ``path``: ``("local", "fsync")`` → ``TRACELET_LOCAL__FSYNC``."""
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(path).upper()


def _decode_env_value(raw: str) -> Any:
    """JSON for values that look like a list or a mapping; the string otherwise."""
    stripped = raw.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def leaf_paths(value: Any, prefix: KeyPath) -> list[KeyPath]:
    """``prefix`` and the path of every key nested in ``value`` (a mapping, or a leaf)."""
    out = [prefix]
    if isinstance(value, Mapping):
        for key, sub in value.items():
            out += leaf_paths(sub, (*prefix, str(key)))
    return out


class Layer(Protocol):
    """A source of settings below the call's arguments (env vars, the YAML file)."""

    def __call__(self) -> dict[str, Any]:
        """The nested values of this layer, read on the first call and kept."""
        ...

    def provenance(self) -> dict[KeyPath, str]:
        """Key path → where its value came from, for every value this layer gave."""
        ...


class LayerSource(PydanticBaseSettingsSource):
    """A :class:`Layer` as pydantic-settings takes a source: the whole dict at once."""

    def __init__(self, settings_cls: type[BaseSettings], layer: Layer) -> None:
        super().__init__(settings_cls)
        self.layer = layer

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the layer gives its whole dict in :meth:`__call__`."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The layer's values (the layer reads them once, whoever calls first)."""
        return self.layer()


class TraceletEnvSource:
    """``TRACELET_<KEY>``, ``TRACELET_<SECTION>__<KEY>`` and the backends' native env vars.

    Names are matched in upper case; keys are lower-cased. A value that starts with ``[`` or
    ``{`` is parsed as JSON (``TRACELET_LOCAL='{"fsync": true}'`` sets a section; a more
    specific ``TRACELET_LOCAL__FSYNC`` wins over it). Unknown ``TRACELET_*`` names are passed
    on, so that validation reports them as unknown keys naming the env var. A native var
    (``MLFLOW_TRACKING_URI``) sets its key unless a ``TRACELET_`` var also sets it.

    Args:
        known: The top-level keys of the settings model (earlier key names that are not among
            them are read as today's, see :func:`~tracelet.settings.legacy.apply_legacy_keys`).
        native_env: Native env var → (section, key), e.g.
            ``{"MLFLOW_TRACKING_URI": ("mlflow", "tracking_uri")}``.
        environ: The env vars to read; ``os.environ`` by default.

    Attributes:
        problems: Conflicts found while reading (``TRACELET_X=1`` with ``TRACELET_X__Y=2``),
            as problem lines; :func:`~tracelet.settings.resolve_settings` reports them.
    """

    def __init__(
        self,
        known: Collection[str],
        native_env: Mapping[str, tuple[str, str]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.known = known
        self.native_env = dict(native_env or {})
        self.environ = os.environ if environ is None else environ
        self.problems: list[str] = []
        self._provenance: dict[KeyPath, str] = {}
        self._data: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        """The values of the env vars as a nested dict, read on the first call and kept."""
        if self._data is not None:
            return self._data
        data: dict[str, Any] = {}
        # Sorted, so TRACELET_LOCAL (a JSON section) comes before TRACELET_LOCAL__FSYNC.
        for name, raw in sorted(self.environ.items()):
            if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
                continue
            parts = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER))
            if all(parts):
                self._set(data, parts, _decode_env_value(raw), name)
        apply_legacy_keys(data, self._provenance, self.known)
        for name, (section, key) in sorted(self.native_env.items()):
            if name in self.environ and (section, key) not in self._provenance:
                self._set(data, (section, key), _decode_env_value(self.environ[name]), name)
        self._data = data
        return data

    def _set(self, data: dict[str, Any], path: KeyPath, value: Any, var: str) -> None:
        source = f"env var {var}"
        target = data
        for end, part in enumerate(path[:-1], start=1):
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                # TRACELET_PROJECT=x with TRACELET_PROJECT__Y=z: neither can be right.
                first = self._provenance.get(path[:end], "?").removeprefix("env var ")
                self.problems.append(
                    problem(
                        ".".join(path[:end]),
                        f"set as a value by {first} and as a section by {var}",
                        source,
                        "unset one of them",
                    )
                )
                return
            target = nxt
        target[path[-1]] = value
        for leaf in leaf_paths(value, path):
            self._provenance[leaf] = source

    def provenance(self) -> dict[KeyPath, str]:
        """Key path → ``"env var NAME"`` for every value this source gave."""
        self()
        return dict(self._provenance)


def config_file_path(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The YAML file to read and why: ``TRACELET_CONFIG`` or ``./tracelet.yaml``.

    Returns:
        ``(path, reason)``; ``path`` (absolute) is ``None`` when no file applies.

    Raises:
        ConfigError: ``TRACELET_CONFIG`` names a file that does not exist.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser().absolute()
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "no such file"
            raise invalid_config(
                [
                    problem(
                        CONFIG_ENV,
                        f"{what}: {path}",
                        f"env var {CONFIG_ENV}",
                        f"fix the path, or unset {CONFIG_ENV} to read ./{DEFAULT_CONFIG_FILE}",
                    )
                ]
            )
        return path, f"env var {CONFIG_ENV}"
    default = Path.cwd() / DEFAULT_CONFIG_FILE
    if default.is_file():
        return default, "working directory"
    return None, "none found"


#: Sections of the ``tracelet.yaml`` of earlier Tracelet releases, which this release does not
#: read: ``tracking:`` (the ``track_*`` switches without their prefix), ``automagic:`` and
#: ``artifacts:`` as mappings of options. :mod:`tracelet.settings.migrate` converts such a file.
EARLIER_SECTIONS: tuple[str, ...] = ("tracking", "automagic", "artifacts")
#: The command that converts a file of the earlier format (:mod:`tracelet.settings.migrate`).
MIGRATE_COMMAND = "tracelet config --migrate"


def earlier_sections(data: Mapping[str, Any], known: Collection[str]) -> list[str]:
    """The sections of ``data`` that only the earlier format of ``tracelet.yaml`` has.

    A mapping under ``automagic`` (today a switch: ``automagic: true``), and a mapping under
    ``tracking`` or ``artifacts`` unless an installed plugin uses that name (``known``).
    """
    found = []
    for name in EARLIER_SECTIONS:
        if isinstance(data.get(name), Mapping) and (name == "automagic" or name not in known):
            found.append(name)
    return found


def earlier_format_problem(
    path: Path, sections: list[str], provenance: Mapping[KeyPath, str]
) -> str:
    """The one problem line for a file in the earlier format: its sections and their lines,
    and the command that converts it."""

    def line(name: str) -> str:
        return provenance.get((name,), "?").rsplit(":", 1)[-1]

    others = [f"'{name}:' at line {line(name)}" for name in sections[1:]]
    also = f" (so {'is' if len(others) == 1 else 'are'} {' and '.join(others)})" if others else ""
    return problem(
        sections[0],
        f"a section of the earlier tracelet.yaml format{also}, which this release does not read",
        provenance.get((sections[0],), str(path)),
        f"convert the file to today's keys with: {MIGRATE_COMMAND} {shlex.quote(str(path))} "
        f"(the original is kept as {path.name}.bak)",
    )


def read_yaml_file(path: Path) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """The mapping in a YAML settings file, and the ``"<file>:<line>"`` of every key in it.

    Returns:
        ``(data, provenance)``; ``data`` is ``{}`` for an empty file.

    Raises:
        ConfigError: The file cannot be read or parsed, its top level is not a mapping, or a
            key appears twice in one mapping (the message gives the file, line and column).
    """
    import yaml

    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid_config(
            [problem(name, f"cannot read the file: {exc}", str(path), "check the file")]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise invalid_config(
            [
                problem(
                    name,
                    f"invalid YAML: {exc.problem or exc}",
                    where,
                    "fix the syntax there (indentation; a space after each 'key:')",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise invalid_config(
            [problem(name, f"invalid YAML: {exc}", str(path), "fix the file's syntax")]
        ) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or node is None:
        line = node.start_mark.line + 1 if node is not None else 1
        raise invalid_config(
            [
                problem(
                    name,
                    f"the top level must be a mapping of keys to values, not a "
                    f"{type(data).__name__}",
                    f"{path}:{line}",
                    "write one 'key: value' per line, e.g. 'backend: local'",
                )
            ]
        )
    provenance: dict[KeyPath, str] = {}
    duplicates: list[str] = []
    _record_lines(node, (), path, provenance, duplicates)
    if duplicates:
        raise invalid_config(duplicates)
    return data, provenance


def _record_lines(
    node: Any, prefix: KeyPath, path: Path, provenance: dict[KeyPath, str], duplicates: list[str]
) -> None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = (*prefix, str(key_node.value))
        line = key_node.start_mark.line + 1
        if key[-1] in seen:
            # PyYAML keeps the last one silently; an edit to the first would do nothing.
            duplicates.append(
                problem(
                    ".".join(key),
                    f"set twice in the file (lines {seen[key[-1]]} and {line})",
                    f"{path}:{line}",
                    "keep one of them",
                )
            )
        seen[key[-1]] = line
        provenance[key] = f"{path}:{line}"
        _record_lines(value_node, key, path, provenance, duplicates)


class TraceletYamlSource:
    """The YAML file named by ``TRACELET_CONFIG``, else ``tracelet.yaml`` in the working directory.

    The file is read once, when the source is first called.

    Args:
        known: The top-level keys of the settings model (as for :class:`TraceletEnvSource`).
        environ: The env vars that may name the file; ``os.environ`` by default.

    Raises:
        ConfigError: ``TRACELET_CONFIG`` names no file (at construction); the file cannot be
            read or parsed, its top level is not a mapping, or a key appears twice in one
            mapping (the message gives the file, line and column); the file is in the format
            of earlier releases (one line naming its sections and ``tracelet config --migrate``).
    """

    def __init__(self, known: Collection[str], environ: Mapping[str, str] | None = None) -> None:
        self.known = known
        self.path, self.reason = config_file_path(environ)
        self._provenance: dict[KeyPath, str] = {}
        self._data: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        """The file's values (``{}`` without a file), read on the first call and kept."""
        if self._data is None:
            data: dict[str, Any] = {}
            if self.path is not None:
                data, self._provenance = read_yaml_file(self.path)
                earlier = earlier_sections(data, self.known)
                if earlier:
                    # One line with the fix, rather than an unknown section and a wrong type.
                    raise invalid_config(
                        [earlier_format_problem(self.path, earlier, self._provenance)]
                    )
            apply_legacy_keys(data, self._provenance, self.known)
            self._data = data
        return self._data

    def provenance(self) -> dict[KeyPath, str]:
        """Key path → ``"<file>:<line>"`` for every key in the file."""
        self()
        return dict(self._provenance)
