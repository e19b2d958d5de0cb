"""Resolving the settings of a run: route the arguments, merge the layers, explain errors.

Precedence is per key, highest first: call arguments (``exp_name``, ``project``, ``backend`` and
``config``), env vars, the YAML file, defaults. Sections are merged key by key.

Every problem is reported at once, in one :class:`~tracelet.errors.ConfigError` whose lines read
``<key>: <problem> (from <source>); <fix>`` (see :mod:`tracelet.settings.problems`).
"""

from __future__ import annotations

import difflib
import logging
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Secret, SecretBytes, SecretStr, ValidationError

from tracelet.plugins import (
    FIRST_PARTY_BACKENDS,
    FIRST_PARTY_COLLECTOR_KEYS,
    PLUGINS_ENV,
    install_hint,
)
from tracelet.redact import REDACTED, redact_uri_credentials
from tracelet.settings.legacy import apply_legacy_keys
from tracelet.settings.model import CORE_KEYS, CoreSettings, build_settings_class, split_commas
from tracelet.settings.problems import invalid_config, problem
from tracelet.settings.sources import (
    KeyPath,
    TraceletEnvSource,
    TraceletYamlSource,
    env_var_name,
    leaf_paths,
)

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost

logger = logging.getLogger("tracelet.settings")

#: What :meth:`ResolvedSettings.rows` shows for a secret that is set.
_SECRET_TYPES = (SecretStr, SecretBytes, Secret)
#: Longest input value quoted in an error message.
_MAX_SHOWN = 60


@dataclass(frozen=True)
class ResolvedSettings:
    """The validated settings of a run and where each value came from.

    Attributes:
        model: The validated model (core keys plus one attribute per installed section).
        provenance: Key path → its source (``"argument config['project']"``,
            ``"env var TRACELET_PROJECT"``, ``"/path/tracelet.yaml:3"``); keys not listed
            have their default.
        config_file: The YAML file that was read, if any.
    """

    model: CoreSettings
    provenance: Mapping[KeyPath, str]
    config_file: str | None

    def __repr__(self) -> str:
        """Every key and value, secrets and URI passwords masked (as ``tracelet config``)."""
        values = ", ".join(f"{key}={value!r}" for key, value, _ in self.rows())
        return f"ResolvedSettings({values})"

    def source_of(self, path: Sequence[str]) -> str:
        """Where the value at ``path`` came from (``"default"`` when nothing set it).

        A key inside a section is attributed to its own entry, never to the section's (the
        section may come from one layer and the key's default from none).
        """
        key = tuple(path)
        sections = {n for n in type(self.model).model_fields if self.section(n) is not None}
        return _find(self.provenance, key, sections) or "default"

    def section(self, name: str) -> BaseModel | None:
        """The settings section of a backend, or ``None`` if it has none."""
        if name in CORE_KEYS:
            return None
        value = getattr(self.model, name, None)
        return value if isinstance(value, BaseModel) else None

    def rows(self) -> list[tuple[str, Any, str]]:
        """``(dotted key, value, source)`` for every setting; secret values are redacted."""
        out: list[tuple[str, Any, str]] = []

        def walk(model: BaseModel, prefix: KeyPath) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                path = (*prefix, name)
                if isinstance(value, BaseModel):
                    walk(value, path)
                    continue
                out.append((".".join(path), _redact(value), self.source_of(path)))

        walk(self.model, ())
        return out


def resolve_settings(
    host: PluginHost,
    *,
    exp_name: str | None = None,
    project: str | None = None,
    backend: str | Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    group: str | None = None,
) -> ResolvedSettings:
    """Validate the settings for a run, as :func:`tracelet.start_logging` receives them.

    ``config`` keys naming a section go to it. A flat key goes to every selected backend (by
    any layer) whose section has it, and to the core as well when the core has it: it means
    the same whatever the number of backends (``config={"experiment_name": ...}`` with
    ``backend=["local", "mlflow"]`` names the run and MLflow's experiment, as with
    ``backend="mlflow"``). Other flat keys are core keys. While a selected backend is not
    installed, flat keys unknown to the core are not reported: the missing backend is.

    A secret (a ``SecretStr`` key) read from the config file is accepted with a warning on the
    ``tracelet.settings`` logger.

    Raises:
        ConfigError: Every problem found: an unknown or broken backend, an unknown key or
            section, a value of the wrong type, an unreadable or invalid config file. Each line
            names the key, where it came from (argument, env var, file and line) and the fix,
            and never shows a secret's value.
    """
    if config is not None and not isinstance(config, Mapping):
        raise invalid_config(
            [
                problem(
                    "config",
                    f"must be a mapping of keys to values, got {type(config).__name__}",
                    "argument config",
                    "pass a dict, e.g. config={'batch_size': 500}",
                )
            ]
        )
    cls = build_settings_class(host.section_models(), host.native_env(), host.top_level_models())
    env_source = TraceletEnvSource(cls)
    file_source = TraceletYamlSource(cls)
    file_data = file_source()
    env_data = env_source()
    cls.bound_sources = (env_source, file_source)  # read each source once

    sections = _sections(cls)
    selected = _selected_backends(backend, config, env_data, file_data)
    args, arg_provenance, arg_problems = _route_arguments(
        sections,
        selected,
        exp_name=exp_name,
        project=project,
        backend=backend,
        config=config,
        group=group,
    )
    apply_legacy_keys(args, arg_provenance, cls.model_fields)
    layers = (arg_provenance, env_source.provenance(), file_source.provenance())
    ctx = _Context(cls, sections, selected, host, layers)

    problems = [*_backend_problems(ctx), *env_source.problems, *arg_problems]
    settings: CoreSettings | None = None
    try:
        settings = cls(**args)
    except ValidationError as exc:
        problems += _validation_problems(exc, ctx)
    if problems or settings is None:
        raise invalid_config(problems)

    provenance: dict[KeyPath, str] = {}
    for layer in reversed(layers):  # lowest priority first, so higher layers overwrite
        provenance.update(layer)
    resolved = ResolvedSettings(
        settings, provenance, str(file_source.path) if file_source.path else None
    )
    _warn_secrets_in_file(cls, file_source.provenance())
    return resolved


# -- arguments -------------------------------------------------------------------------------


def _backend_list(value: Any) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` as a list; ``None`` when malformed (validation says so)."""
    names = split_commas(value)
    if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
        return [n.strip() for n in names if n.strip()]
    return None


def _selected_backends(
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
    env_data: Mapping[str, Any],
    file_data: Mapping[str, Any],
) -> list[str] | None:
    """The backend list by precedence, before validation (to route flat keys and check names).

    ``None`` when the winning value is malformed; validation reports it.
    """
    for candidate in (
        backend,
        (config or {}).get("backend"),
        env_data.get("backend"),
        file_data.get("backend"),
    ):
        if candidate is not None:
            return _backend_list(candidate)
    return ["local"]


def _route_arguments(
    sections: Mapping[str, type[BaseModel]],
    selected: list[str] | None,
    *,
    exp_name: str | None,
    project: str | None,
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
    group: str | None = None,
) -> tuple[dict[str, Any], dict[KeyPath, str], list[str]]:
    """The call's arguments as init kwargs, their provenance, and conflicts found."""
    args: dict[str, Any] = {}
    provenance: dict[KeyPath, str] = {}
    problems: list[str] = []
    selected_sections = [name for name in selected or () if name in sections]

    def put(section: str, key: str, value: Any, where: str) -> None:
        target = args.setdefault(section, {})
        if not isinstance(target, dict) or (section, key) in provenance:
            problems.append(
                problem(
                    f"{section}.{key}",
                    "given twice: as a flat key and in its section",
                    "argument config",
                    "give it once",
                )
            )
            return
        target[key] = value
        for leaf in leaf_paths(value, (section, key)):
            provenance[leaf] = where

    for raw_key, raw_value in (config or {}).items():
        key = str(raw_key)
        where = f"argument config[{key!r}]"
        value = raw_value
        if key in sections and isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True)  # merge it like a mapping
        if key in sections and isinstance(value, Mapping):
            provenance[(key,)] = where
            for sub, sub_value in value.items():
                put(key, str(sub), sub_value, f"argument config[{key!r}][{sub!r}]")
        elif owners := [n for n in selected_sections if key in sections[n].model_fields]:
            # A flat key is set wherever it exists: in each selected backend's section that
            # has it, and in the core too if the core has it (``experiment_name``: the run's
            # name and MLflow's experiment), however many backends are selected.
            for owner in owners:
                put(owner, key, value, where)
            if key in CORE_KEYS and key not in args:
                args[key] = value
                for leaf in leaf_paths(value, (key,)):
                    provenance[leaf] = where
        elif key in args:
            problems.append(
                problem(key, "given twice: as a flat key and in its section", where, "give it once")
            )
        else:
            args[key] = value
            for leaf in leaf_paths(value, (key,)):
                provenance[leaf] = where

    for key, value, label in (
        ("experiment_name", exp_name, "exp_name"),
        ("project", project, "project"),
        ("backend", backend, "backend"),
        ("group", group, "group"),
    ):
        if value is not None:
            args[key] = value
            provenance[(key,)] = f"argument {label}={value!r}"
    return args, provenance, problems


def _sections(cls: type[CoreSettings]) -> dict[str, type[BaseModel]]:
    """Section name → model, for every section of this installation."""
    out: dict[str, type[BaseModel]] = {}
    for name, field in cls.model_fields.items():
        if name in CORE_KEYS:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = annotation
    return out


# -- where a value came from -----------------------------------------------------------------


def _find(provenance: Mapping[KeyPath, str], path: KeyPath, sections: Iterable[str]) -> str | None:
    """The source of ``path``: its own entry, else the closest enclosing key's.

    A section's own entry does not stand for the keys inside it: every key given in a section
    has its own entry, and the others have their default.
    """
    if path in provenance:
        return provenance[path]
    roots = set(sections)
    for end in range(len(path) - 1, 0, -1):
        if end == 1 and path[0] in roots:
            break
        if path[:end] in provenance:
            return provenance[path[:end]]
    return None


@dataclass(frozen=True)
class _Context:
    """What the message builders need to know about this resolution."""

    cls: type[CoreSettings]
    sections: Mapping[str, type[BaseModel]]
    selected: list[str] | None
    host: PluginHost
    layers: Sequence[Mapping[KeyPath, str]]  # highest priority first

    def source(self, path: KeyPath) -> str:
        """The source of the value validated at ``path``: the highest layer that set it."""
        for layer in self.layers:
            if path in layer:
                return layer[path]
        for end in range(len(path) - 1, 0, -1):
            if end == 1 and path[0] in self.sections:
                break
            for layer in self.layers:
                if path[:end] in layer:
                    return layer[path[:end]]
        # A value built from nested keys only (TRACELET_PROJECT__X makes 'project' a mapping).
        for layer in self.layers:
            for key, found in layer.items():
                if key[: len(path)] == path:
                    return found
        return "default"

    @property
    def missing(self) -> set[str]:
        """Selected backends that are not available (reported by :func:`_backend_problems`)."""
        return {n for n in self.selected or () if n not in self.host.backends}


def _fix_change(source: str) -> str:
    if source.startswith("env var "):
        return f"change or unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return "change the argument"
    if source == "default":
        return "set it explicitly"
    return "change it in the file"


def _fix_remove(source: str) -> str:
    if source.startswith("env var "):
        return f"unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return "remove it from the call"
    return "remove it from the file"


# -- backends --------------------------------------------------------------------------------


def _backend_problems(ctx: _Context) -> list[str]:
    names = ctx.selected
    if names is None:  # malformed: validation reports the type
        return []
    source = ctx.source(("backend",))
    if not names:
        return [
            problem(
                "backend",
                "no backend selected",
                source,
                "name at least one, e.g. backend='local'",
            )
        ]
    host = ctx.host
    installed = ", ".join(sorted(host.backends)) or "none"
    problems: list[str] = []
    for name in dict.fromkeys(names):
        if name in host.backends:
            continue
        broken = host.broken_plugin_for(name)
        if broken is not None and broken.status == "error":
            problems.append(
                problem(
                    "backend",
                    f"'{name}' is installed ({broken.distribution or 'in-process plugin'}) but "
                    f"its plugin failed to load: {broken.error}",
                    source,
                    "fix that error (reinstalling the plugin's distribution may help)",
                )
            )
        elif broken is not None:
            problems.append(
                problem(
                    "backend",
                    f"'{name}' is installed but not loaded: {PLUGINS_ENV} does not list it",
                    source,
                    f"add {name} to {PLUGINS_ENV}, or unset {PLUGINS_ENV}",
                )
            )
        elif name in FIRST_PARTY_BACKENDS:
            problems.append(
                problem(
                    "backend",
                    f"the '{name}' backend is not installed; installed backends: {installed}",
                    source,
                    install_hint(name),
                )
            )
        else:
            problems.append(
                problem(
                    "backend",
                    f"unknown backend '{name}'; installed backends: {installed}",
                    source,
                    _unknown_backend_fix(name, sorted(host.backends)),
                )
            )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(
            problem(
                "backend",
                f"{', '.join(repr(n) for n in repeated)} listed more than once",
                source,
                "list each backend once",
            )
        )
    return problems


def _unknown_backend_fix(name: str, installed: list[str]) -> str:
    close = difflib.get_close_matches(name, [*installed, *FIRST_PARTY_BACKENDS], n=1)
    if close and close[0] in installed:
        return f"did you mean '{close[0]}'?"
    if close:
        return f"did you mean '{close[0]}'? {install_hint(close[0])}"
    extras = ", ".join(FIRST_PARTY_BACKENDS)
    return (
        'use an installed one, or install one of ours: pip install "tracelet[<name>]" '
        f"with <name> one of {extras} (or all)"
    )


# -- validation errors -----------------------------------------------------------------------


def _validation_problems(exc: ValidationError, ctx: _Context) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        source = ctx.source(path)
        dotted = ".".join(path) or "(settings)"
        if err["type"] == "extra_forbidden":
            line = _unknown_key_problem(ctx, path, source, err.get("input"))
            if line is not None:
                problems.append(line)
        elif err["type"] == "missing":
            problems.append(
                problem(
                    dotted,
                    "required, and not set",
                    source,
                    f"set it, e.g. with env var {env_var_name(path)}",
                )
            )
        else:
            message = str(err["msg"])
            message = message[:1].lower() + message[1:]
            if not _is_secret(ctx.cls, path):
                message += f", got {_shown(err.get('input'))}"
            elif err["type"] in ("value_error", "assertion_error"):
                message = "invalid value"  # a plugin's validator may quote the secret
            problems.append(problem(dotted, message, source, _fix_change(source)))
    return problems


def _shown(value: Any) -> str:
    """A short rendering of an input value; containers are not shown (they may hold secrets)."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _unknown_key_problem(ctx: _Context, path: KeyPath, source: str, value: Any) -> str | None:
    """The line for a key no model has, or ``None`` when another problem already covers it."""
    name = path[-1]
    if len(path) > 1:
        model = _model_at(ctx.cls, path[:-1])
        keys = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
        if close:
            fix = _did_you_mean((*path[:-1], close[0]), source)
        else:
            fix = f"{_fix_remove(source)}; valid keys: {', '.join(keys) or 'none'}"
        return problem(
            ".".join(path), f"unknown key in section '{'.'.join(path[:-1])}'", source, fix
        )

    host = ctx.host
    if name in FIRST_PARTY_COLLECTOR_KEYS:
        return problem(
            name,
            "a key of Tracelet's collectors, which are not installed (or not loaded)",
            source,
            "pip install tracelet-collectors (pip install tracelet includes it), or add "
            f"collectors to {PLUGINS_ENV}; or {_fix_remove(source)}",
        )
    if name in host.backends:  # installed, but registered without a settings model
        return problem(name, f"the '{name}' backend has no settings", source, _fix_remove(source))
    if name in ctx.missing:
        # The backend itself is reported; its section, and flat keys that may be its own, are
        # checked once it is installed.
        return None
    top = list(ctx.cls.model_fields)
    close_top = difflib.get_close_matches(name, top, n=1, cutoff=0.6)
    if (
        source.startswith("argument config")
        and ctx.selected is not None
        and any(b in ctx.missing for b in ctx.selected)
        and not close_top
    ):
        return None  # a flat key of the missing backend, most likely
    broken = host.broken_plugin_for(name)
    if broken is not None and broken.status == "error":
        return problem(
            name,
            f"section of the '{name}' backend, whose plugin failed to load: {broken.error}",
            source,
            "fix the plugin (see the error), or remove the section",
        )
    if broken is not None:
        return problem(
            name,
            f"section of the '{name}' backend, which is installed but not loaded: "
            f"{PLUGINS_ENV} does not list it",
            source,
            f"add {name} to {PLUGINS_ENV}, or remove the section",
        )
    if name in FIRST_PARTY_BACKENDS:
        return problem(
            name,
            f"section of the '{name}' backend, which is not installed",
            source,
            f"{install_hint(name)}; or remove the section",
        )
    owners = [s for s, model in ctx.sections.items() if name in model.model_fields]
    if owners:
        return problem(
            name,
            f"not a top-level key; it belongs in the {' or '.join(repr(o) for o in owners)} "
            "section",
            source,
            _move_into_section(owners[0], name, source),
        )
    if isinstance(value, Mapping) and name not in top:
        return _unknown_section_problem(name, ctx, source)
    if source.startswith("env var "):
        for section, model in ctx.sections.items():
            key = name.removeprefix(f"{section}_")
            if key != name and key in model.model_fields:
                return problem(
                    name,
                    "unknown key",
                    source,
                    f"did you mean {env_var_name((section, key))} (two underscores)?",
                )
    nested = [f"{s}.{k}" for s, model in ctx.sections.items() for k in model.model_fields]
    close = close_top or difflib.get_close_matches(
        name, [n.split(".", 1)[1] for n in nested], n=1, cutoff=0.75
    )
    if close and close[0] not in top:
        owner = next(n for n in nested if n.split(".", 1)[1] == close[0])
        return problem(
            name, "unknown key", source, _did_you_mean(tuple(owner.split(".", 1)), source)
        )
    if close:
        return problem(name, "unknown key", source, _did_you_mean((close[0],), source))
    return problem(name, "unknown key", source, _fix_remove(source))


def _unknown_section_problem(name: str, ctx: _Context, source: str) -> str:
    """A section (a mapping) under a name that is neither a key nor an installed backend: a
    misspelt section, or the section of a third-party backend whose plugin is missing."""
    close = difflib.get_close_matches(name, list(ctx.sections), n=1, cutoff=0.75)
    if close:
        return problem(name, "unknown section", source, _did_you_mean((close[0],), source))
    installed = ", ".join(sorted(ctx.host.backends)) or "none"
    return problem(
        name,
        f"section of a '{name}' backend, which no installed plugin provides (installed "
        f"backends: {installed})",
        source,
        f"install the plugin distribution of the '{name}' backend; or {_fix_remove(source)}",
    )


def _did_you_mean(path: KeyPath, source: str) -> str:
    if source.startswith("env var "):
        return f"did you mean {env_var_name(path)}?"
    return f"did you mean '{'.'.join(path)}'?"


def _move_into_section(section: str, key: str, source: str) -> str:
    if source.startswith("env var "):
        return f"use {env_var_name((section, key))}"
    if source.startswith("argument"):
        return f"pass config={{'{section}': {{'{key}': ...}}}}"
    return f"put it under '{section}:'"


# -- secrets ---------------------------------------------------------------------------------


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class of a field typed as a model or an optional model."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in typing.get_args(annotation) if _model_in(a) is not None]
    return _model_in(models[0]) if len(models) == 1 else None


def _model_at(cls: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    model: type[BaseModel] | None = cls
    for part in path:
        field = model.model_fields.get(part) if model is not None else None
        model = _model_in(field.annotation) if field is not None else None
    return model


def _has_secret(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, _SECRET_TYPES):
        return True
    return any(_has_secret(a) for a in typing.get_args(annotation))


def _is_secret(cls: type[BaseModel], path: KeyPath) -> bool:
    """Whether the value at ``path`` is, or lies inside, a field typed with a secret."""
    model: type[BaseModel] | None = cls
    for part in path:
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return False
        if _has_secret(field.annotation):
            return True
        model = _model_in(field.annotation)
    return False


def _redact(value: Any) -> Any:
    if isinstance(value, _SECRET_TYPES):
        return REDACTED if value.get_secret_value() else ""
    if isinstance(value, str):
        return redact_uri_credentials(value)
    if isinstance(value, Mapping):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v) for v in value)
    return value


def _warn_secrets_in_file(cls: type[CoreSettings], file_provenance: Mapping[KeyPath, str]) -> None:
    native = {path: var for var, path in cls.native_env.items()}
    for path, source in file_provenance.items():
        if len(path) > 1 and _is_secret(cls, path[:-1]):
            continue  # warn once, for the key itself
        if _is_secret(cls, path):
            var = env_var_name(path)
            alias = native.get((path[0], path[-1])) if len(path) == 2 else None
            logger.warning(
                "%s: the secret %s is set in a config file, which is easy to commit or share; "
                "set env var %s instead",
                source,
                ".".join(path),
                f"{var} (or {alias})" if alias else var,
            )
