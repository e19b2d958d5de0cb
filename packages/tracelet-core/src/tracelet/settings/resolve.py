"""Resolving the settings of a run: route the arguments, merge the layers, explain errors.

Precedence is per key, highest first: call arguments (``exp_name``, ``project``, ``backend`` and
``config``), env vars, the YAML file, defaults. Sections are merged key by key.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr, ValidationError

from tracelet.errors import ConfigError
from tracelet.plugins import FIRST_PARTY_BACKENDS, install_hint
from tracelet.settings.model import CORE_KEYS, CoreSettings, build_settings_class, split_commas
from tracelet.settings.sources import Path_, TraceletEnvSource, TraceletYamlSource

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost

logger = logging.getLogger("tracelet.settings")

REDACTED = "**********"


@dataclass(frozen=True)
class ResolvedSettings:
    """The validated settings of a run and where each value came from.

    Attributes:
        settings: The validated model (core keys plus one attribute per installed section).
        provenance: Key path → its source (``"argument config['project']"``,
            ``"env var TRACELET_PROJECT"``, ``"/path/tracelet.yaml:3"``); keys not listed
            have their default.
        config_file: The YAML file that was read, if any.
    """

    settings: CoreSettings
    provenance: Mapping[Path_, str]
    config_file: str | None

    def source_of(self, path: Sequence[str]) -> str:
        """Where the value at ``path`` came from (``"default"`` when nothing set it)."""
        return _lookup(self.provenance, tuple(path)) or "default"

    def section(self, name: str) -> BaseModel | None:
        """The settings section of a backend, or ``None`` if it has none."""
        value = getattr(self.settings, name, None)
        return value if isinstance(value, BaseModel) else None

    def rows(self) -> list[tuple[str, Any, str]]:
        """``(dotted key, value, source)`` for every setting, secrets redacted."""
        out: list[tuple[str, Any, str]] = []

        def walk(model: BaseModel, prefix: Path_) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                path = (*prefix, name)
                if isinstance(value, BaseModel):
                    walk(value, path)
                    continue
                shown = REDACTED if isinstance(value, SecretStr) and value else value
                out.append((".".join(path), shown, self.source_of(path)))

        walk(self.settings, ())
        return out


def resolve_settings(
    host: PluginHost,
    *,
    exp_name: str | None = None,
    project: str | None = None,
    backend: str | Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Validate the settings for a run, as :func:`tracelet.start_logging` receives them.

    Raises:
        ConfigError: An unknown backend, an unknown key, a value of the wrong type or a bad
            config file; the message names each key, where it came from and the fix.
    """
    cls = build_settings_class(host.section_models(), host.native_env())
    env_source = TraceletEnvSource(cls)
    file_source = TraceletYamlSource(cls)
    env_data = env_source()
    file_data = file_source()

    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(
            f"config must be a mapping of keys to values (a dict), got {type(config).__name__}"
        )
    selected = _selected_backends(backend, config, env_data, file_data)
    args, arg_provenance = _route_arguments(
        cls, selected, exp_name=exp_name, project=project, backend=backend, config=config
    )

    provenance: dict[Path_, str] = {}
    for layer in (file_source.provenance(), env_source.provenance(), arg_provenance):
        provenance.update(layer)  # later layers win, as in the merge
    layers = (arg_provenance, env_source.provenance(), file_source.provenance())

    try:
        settings = cls(**args)
    except ValidationError as exc:
        raise _config_error(exc, cls, layers, selected) from None

    _check_backends(host, settings.backend, layers)
    resolved = ResolvedSettings(
        settings, provenance, str(file_source.path) if file_source.path else None
    )
    _warn_secrets_in_file(resolved, file_source.provenance())
    return resolved


# -- arguments -------------------------------------------------------------------------------


def _selected_backends(
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
    env_data: Mapping[str, Any],
    file_data: Mapping[str, Any],
) -> list[str]:
    """The backend list by precedence, before validation (for routing flat keys)."""
    for candidate in (
        backend,
        (config or {}).get("backend"),
        env_data.get("backend"),
        file_data.get("backend"),
    ):
        if candidate is None:
            continue
        names = split_commas(candidate)
        if isinstance(names, list):
            return [str(n) for n in names]
        return []
    return ["local"]


def _route_arguments(
    cls: type[CoreSettings],
    selected: list[str],
    *,
    exp_name: str | None,
    project: str | None,
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[Path_, str]]:
    """Turn the call's arguments into init kwargs, routing flat config keys.

    A key naming a section goes to it. With exactly one backend selected, a flat key of that
    backend's section goes there (even if the core has a key of the same name: the spec's
    ``config={"experiment_name": ...}`` with ``backend="mlflow"`` is MLflow's experiment).
    Everything else is a core key, and unknown ones are reported by validation.
    """
    args: dict[str, Any] = {}
    provenance: dict[Path_, str] = {}
    sections = _sections(cls)
    single = sections.get(selected[0]) if len(selected) == 1 else None

    for raw_key, value in (config or {}).items():
        key = str(raw_key)
        where = f"argument config[{key!r}]"
        if key in sections and isinstance(value, Mapping):
            args[key] = dict(value)
            provenance[(key,)] = where
            for sub in value:
                provenance[(key, str(sub))] = f"argument config[{key!r}][{sub!r}]"
        elif single is not None and key in single.model_fields:
            args.setdefault(selected[0], {})[key] = value
            provenance[(selected[0], key)] = where
        else:
            args[key] = value
            provenance[(key,)] = where

    for key, value, label in (
        ("experiment_name", exp_name, "exp_name"),
        ("project", project, "project"),
        ("backend", backend, "backend"),
    ):
        if value is not None:
            args[key] = value
            provenance[(key,)] = f"argument {label}={value!r}"
    return args, provenance


def _sections(cls: type[CoreSettings]) -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, field in cls.model_fields.items():
        if name in CORE_KEYS:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = annotation
    return out


# -- validation messages ---------------------------------------------------------------------


def _lookup(provenance: Mapping[Path_, str], path: Path_) -> str | None:
    """The source of ``path`` or of its closest enclosing key."""
    for end in range(len(path), 0, -1):
        found = provenance.get(path[:end])
        if found is not None:
            return found
    return None


def _source(layers: Iterable[Mapping[Path_, str]], path: Path_) -> str:
    for layer in layers:  # highest priority first: its value is the one validated
        found = _lookup(layer, path)
        if found is not None:
            return found
    return "default"


def _fix_for(source: str) -> str:
    if source.startswith("env var "):
        return f"change or unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return "change the argument"
    if source == "default":
        return "set it explicitly"
    return f"edit {source}"


def _valid_keys(cls: type[CoreSettings], path: Path_) -> list[str]:
    model: type[BaseModel] = cls
    for part in path[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _is_secret(cls: type[CoreSettings], path: Path_) -> bool:
    model: type[BaseModel] = cls
    for i, part in enumerate(path):
        field = model.model_fields.get(str(part))
        if field is None:
            return False
        annotation = field.annotation
        if i == len(path) - 1:
            return annotation is SecretStr or "SecretStr" in repr(annotation)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return False


def _unknown_key_problem(
    cls: type[CoreSettings], path: Path_, source: str, selected: list[str]
) -> str:
    dotted = ".".join(path)
    name = path[-1]
    if len(path) == 1 and name in FIRST_PARTY_BACKENDS:
        return (
            f"{dotted}: section for the '{name}' backend, which is not installed "
            f"(from {source}). Is {FIRST_PARTY_BACKENDS[name]} installed? {install_hint(name)}"
        )
    candidates = _valid_keys(cls, path)
    if len(path) == 1:
        for section in selected:
            section_model = _sections(cls).get(section)
            if section_model is not None:
                candidates += list(section_model.model_fields)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    where = f"in section '{'.'.join(path[:-1])}'" if len(path) > 1 else "at the top level"
    hint = f"did you mean '{close[0]}'?" if close else f"remove it ({_fix_for(source)})"
    return f"{dotted}: unknown key {where} (from {source}); {hint}"


def _config_error(
    exc: ValidationError,
    cls: type[CoreSettings],
    layers: Sequence[Mapping[Path_, str]],
    selected: list[str],
) -> ConfigError:
    problems: list[str] = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        source = _source(layers, path)
        if err["type"] == "extra_forbidden":
            problems.append(_unknown_key_problem(cls, path, source, selected))
            continue
        shown = "" if _is_secret(cls, path) else f"; got {err.get('input')!r}"
        problems.append(
            f"{'.'.join(path) or '(settings)'}: {err['msg']}{shown} (from {source}); "
            f"fix: {_fix_for(source)}"
        )
    return _error(problems)


def _error(problems: list[str]) -> ConfigError:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(
        f"Invalid Tracelet configuration ({len(problems)} {noun}):\n{lines}", problems
    )


def _check_backends(
    host: PluginHost, names: list[str], layers: Sequence[Mapping[Path_, str]]
) -> None:
    if not names:
        raise _error(
            [
                f"backend: no backend selected (from {_source(layers, ('backend',))}); "
                "name at least one, e.g. backend='local'"
            ]
        )
    installed = sorted(host.backends)
    problems = []
    for name in dict.fromkeys(names):
        if name in host.backends:
            continue
        source = _source(layers, ("backend",))
        broken = host.broken_plugin_for(name)
        if broken is not None and broken.status == "error":
            problems.append(
                f"backend: '{name}' is installed ({broken.distribution or 'in-process'}) but its "
                f"plugin failed to load: {broken.error} (from {source})"
            )
        elif broken is not None:
            problems.append(
                f"backend: '{name}' is installed but not loaded because TRACELET_PLUGINS does "
                f"not list it (from {source})"
            )
        else:
            close = difflib.get_close_matches(name, [*installed, *FIRST_PARTY_BACKENDS], n=1)
            guess = f" Did you mean '{close[0]}'?" if close and close[0] != name else ""
            problems.append(
                f"backend: unknown backend '{name}' (from {source}). Installed backends: "
                f"{', '.join(installed)}.{guess} To add one, {install_hint(name)}; "
                f"extras: {', '.join(FIRST_PARTY_BACKENDS)}, all."
            )
    if problems:
        raise _error(problems)
    if len(set(names)) != len(names):
        raise _error(
            [
                f"backend: {names} names a backend twice (from "
                f"{_source(layers, ('backend',))}); list each once"
            ]
        )


def _warn_secrets_in_file(resolved: ResolvedSettings, file_provenance: Mapping[Path_, str]) -> None:
    for path, source in file_provenance.items():
        if _is_secret(type(resolved.settings), path):
            logger.warning(
                "%s sets the secret %s in a config file; keep secrets in env vars (they are "
                "never logged or sent as params, and are redacted where config is shown).",
                source,
                ".".join(path),
            )
