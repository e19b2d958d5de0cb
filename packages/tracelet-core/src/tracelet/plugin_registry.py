"""What a plugin registers, and the checks a registration must pass.

A plugin's ``tracelet_register_backends`` / ``tracelet_register_collectors`` hook receives a
``register`` callback (:func:`backend_registrar`, :func:`collector_registrar`). Each call is
checked at once and raises :class:`ValueError` (which makes the whole plugin fail to load) for
a malformed or taken name, a factory that is not callable, or settings whose section name or
top-level keys are taken already; otherwise it becomes a :class:`BackendSpec` or
:class:`CollectorSpec`. :class:`PluginInfo` is what the host keeps per plugin. The host itself
(:class:`~tracelet.plugins.PluginHost`) re-exports every name here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tracelet.backend import BackendFactory
    from tracelet.collector import CollectorFactory
    from tracelet.plugins import PluginHost

#: Backends of the Tracelet project that ship as their own distribution and ``tracelet`` extra.
FIRST_PARTY_BACKENDS: dict[str, str] = {
    "mlflow": "tracelet-mlflow",
    "wandb": "tracelet-wandb",
    "clearml": "tracelet-clearml",
    "aim": "tracelet-aim",
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")

PluginStatus = Literal["loaded", "error", "disabled"]


def install_hint(backend: str) -> str:
    """How to install a backend by name: the extra for ours, a generic hint for others."""
    if backend in FIRST_PARTY_BACKENDS:
        dist = FIRST_PARTY_BACKENDS[backend]
        return f'install it with: pip install "tracelet[{backend}]" (or pip install {dist})'
    return f"install the distribution that provides the '{backend}' backend plugin"


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A registered backend."""

    name: str
    factory: BackendFactory
    settings: type[BaseModel] | None
    native_env: Mapping[str, str]
    description: str
    plugin: str


#: Top-level keys of the collectors that ``tracelet-collectors`` registers, for the hint an
#: install without it gives when one is set.
FIRST_PARTY_COLLECTOR_KEYS: frozenset[str] = frozenset(
    {
        "collect_system_metrics",
        "system_metrics_interval",
        "collect_gpu_metrics",
        "track_git_info",
        "git_repo_path",
        "include_uncommitted_changes",
        "capture_tensorboard",
        "capture_lightning",
        "capture_transformers",
        "track_environment",
        "automagic",
        "automagic_include",
        "automagic_exclude",
        "automagic_hyperparams",
        "automagic_models",
        "automagic_datasets",
        "automagic_artifacts",
        "artifact_watch_dirs",
        "artifact_watch_patterns",
        "artifact_watch_interval",
        "artifact_max_mb",
    }
)


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """A registered collector (``settings``: its keys' model; ``top_level``: those keys are
    top-level keys rather than a section named after the collector)."""

    name: str
    factory: CollectorFactory
    description: str
    plugin: str
    settings: type[BaseModel] | None = None
    top_level: bool = False


@dataclass(slots=True)
class PluginInfo:
    """What the host knows about one plugin; what ``tracelet plugins`` prints."""

    name: str
    distribution: str | None
    version: str | None
    status: PluginStatus
    error: str | None = None
    backends: list[str] = field(default_factory=list)
    collectors: list[str] = field(default_factory=list)


def check_name(kind: str, name: str, taken: Mapping[str, object]) -> None:
    """Refuse a malformed backend or collector name, or one already taken.

    Raises:
        ValueError: The name is not lower-case letters, digits, ``-`` and ``_`` starting
            with a letter, or ``taken`` holds it.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid {kind} name {name!r}: use lower-case letters, digits, '-' and '_', "
            "starting with a letter"
        )
    if name in taken:
        raise ValueError(f"a {kind} named {name!r} is already registered")


def backend_registrar(
    host: PluginHost, plugin: str, out: dict[str, BackendSpec]
) -> Callable[..., None]:
    """The ``register`` callback passed to ``plugin``'s ``tracelet_register_backends``: it
    checks each backend against what ``host`` and ``out`` hold, then adds it to ``out``."""

    def register(
        name: str,
        factory: BackendFactory,
        *,
        settings: type[BaseModel] | None = None,
        native_env: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        check_name("backend", name, {**host.backends, **out})
        collector = host.collectors.get(name)
        if collector is not None and collector.settings is not None and not collector.top_level:
            raise ValueError(f"backend {name!r}: a collector's section has that name")
        if not callable(factory):
            raise ValueError(f"backend {name!r}: factory must be callable, got {factory!r}")
        out[name] = BackendSpec(
            name, factory, settings, dict(native_env or {}), description, plugin
        )

    return register


def collector_registrar(
    host: PluginHost, plugin: str, out: dict[str, CollectorSpec]
) -> Callable[..., None]:
    """The ``register`` callback passed to ``plugin``'s ``tracelet_register_collectors``: it
    checks each collector against what ``host`` and ``out`` hold, then adds it to ``out``."""

    def register(
        name: str,
        factory: CollectorFactory,
        *,
        settings: type[BaseModel] | None = None,
        top_level: bool = False,
        description: str = "",
    ) -> None:
        check_name("collector", name, {**host.collectors, **out})
        if not callable(factory):
            raise ValueError(f"collector {name!r}: factory must be callable")
        if settings is not None:
            _check_settings_names(host, name, settings, top_level, [*out.values()])
        out[name] = CollectorSpec(name, factory, description, plugin, settings, top_level)

    return register


def _check_settings_names(
    host: PluginHost,
    name: str,
    model: type[BaseModel],
    top_level: bool,
    pending: list[CollectorSpec],
) -> None:
    """Refuse a collector's section named like a backend's, or top-level keys taken by
    the core or by another collector."""
    from tracelet.settings.model import CORE_KEYS

    if not top_level:
        if name in host.backends or name in CORE_KEYS:
            raise ValueError(f"collector {name!r}: its section name is taken")
        return
    taken = set(CORE_KEYS)
    for spec in [*host.collectors.values(), *pending]:
        if spec.settings is not None and spec.top_level:
            taken.update(spec.settings.model_fields)
    clash = sorted(taken.intersection(model.model_fields))
    if clash:
        raise ValueError(f"collector {name!r}: top-level key(s) already taken: {clash}")
