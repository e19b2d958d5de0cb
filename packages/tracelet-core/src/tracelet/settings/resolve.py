"""Resolving the settings of a run: read the layers, validate them together, explain errors.

Precedence is per key, highest first: call arguments (``exp_name``, ``project``, ``backend``,
``group`` and ``config``), env vars, the YAML file, defaults. Sections are merged key by key.
:func:`resolve_settings` reads in one sitting; each step is its own module:

* :mod:`~tracelet.settings.arguments` routes the call's arguments to keys and sections;
* :mod:`~tracelet.settings.sources` reads the env vars and the file;
* :mod:`~tracelet.settings.model` builds the settings class, bound to those sources;
* :mod:`~tracelet.settings.layers` applies the precedence to where each value came from;
* :mod:`~tracelet.settings.explain` (with :mod:`~tracelet.settings.unknown_keys`) words every
  problem;
* :mod:`~tracelet.settings.secrets` masks secrets and warns about one in the file.

Every problem is reported at once, in one :class:`~tracelet.errors.ConfigError` whose lines read
``<key>: <problem> (from <source>); <fix>`` (see :mod:`tracelet.settings.problems`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from tracelet.redact import REDACTED
from tracelet.settings.arguments import route_arguments
from tracelet.settings.context import ResolutionContext
from tracelet.settings.explain import backend_problems, config_not_a_mapping, validation_problems
from tracelet.settings.layers import merge_provenance, sections_of, selected_backends, source_in
from tracelet.settings.legacy import apply_legacy_keys
from tracelet.settings.model import CORE_KEYS, CoreSettings, build_settings_class, settings_keys
from tracelet.settings.problems import invalid_config
from tracelet.settings.secrets import redact, warn_secrets_in_file
from tracelet.settings.sources import KeyPath, TraceletEnvSource, TraceletYamlSource

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost

__all__ = ["REDACTED", "ResolvedSettings", "resolve_settings"]


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
        return source_in(self.provenance, key, sections) or "default"

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
                out.append((".".join(path), redact(value), self.source_of(path)))

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
    environ: Mapping[str, str] | None = None,
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

    ``environ`` replaces ``os.environ`` as the env vars read (and the one that may name the
    file, ``TRACELET_CONFIG``): ``tracelet config --migrate`` checks a converted file on its own.

    Raises:
        ConfigError: Every problem found: an unknown or broken backend, an unknown key or
            section, a value of the wrong type, an unreadable or invalid config file (or one in
            the format of earlier releases, with the command that converts it). Each line
            names the key, where it came from (argument, env var, file and line) and the fix,
            and never shows a secret's value.
    """
    if config is not None and not isinstance(config, Mapping):
        raise invalid_config([config_not_a_mapping(config)])
    plugin_sections = host.section_models()
    top_level = host.top_level_models()
    native_env = host.native_env()
    known = settings_keys(plugin_sections, top_level)
    env_source = TraceletEnvSource(known, native_env, environ)
    file_source = TraceletYamlSource(known, environ)
    below_arguments = (env_source, file_source)  # the precedence of the sources, highest first
    cls = build_settings_class(plugin_sections, native_env, top_level, sources=below_arguments)
    file_source()  # each source reads once, the file first
    env_source()

    sections = sections_of(cls)
    selected = selected_backends(backend, config, [source() for source in below_arguments])
    arguments = route_arguments(
        sections,
        selected,
        exp_name=exp_name,
        project=project,
        backend=backend,
        config=config,
        group=group,
    )
    apply_legacy_keys(arguments.values, arguments.provenance, known)
    layers = (arguments.provenance, *(source.provenance() for source in below_arguments))
    ctx = ResolutionContext(cls, sections, selected, host, layers)

    problems = [*backend_problems(ctx), *env_source.problems, *arguments.problems]
    settings: CoreSettings | None = None
    try:
        settings = cls(**arguments.values)
    except ValidationError as exc:
        problems += validation_problems(exc, ctx)
    if problems or settings is None:
        raise invalid_config(problems)

    resolved = ResolvedSettings(
        settings,
        merge_provenance(layers),
        str(file_source.path) if file_source.path else None,
    )
    warn_secrets_in_file(cls, file_source.provenance(), native_env)
    return resolved
