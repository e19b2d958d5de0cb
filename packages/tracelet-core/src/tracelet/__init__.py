"""Tracelet: one API for ML experiment tracking across MLflow, W&B, ClearML and AIM.

Start a run, log to it from the training loop, and let Tracelet deliver to every configured
backend on background threads::

    import tracelet

    run = tracelet.start_logging(exp_name="baseline", project="mnist", backend="local")
    run.log_params({"lr": 0.01, "optimizer": {"name": "adam"}})
    for step in range(100):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    tracelet.stop_logging()

``import tracelet`` is cheap: settings (pydantic), plugin discovery (pluggy, entry points) and
every backend SDK are imported only when a run starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracelet._version import __version__
from tracelet.errors import BackendStartError, ConfigError, RejectedError
from tracelet.run import Run
from tracelet.session import get_active_run, stop_logging

if TYPE_CHECKING:
    import pluggy

    from tracelet.plugins import PluginInfo

__all__ = [
    "ArtifactType",
    "BackendStartError",
    "ConfigError",
    "Experiment",
    "RejectedError",
    "Run",
    "__version__",
    "available_backends",
    "available_frameworks",
    "get_active_experiment",
    "get_active_run",
    "hookimpl",
    "register_plugin",
    "start_logging",
    "stop_logging",
    "sync",
]


def start_logging(
    exp_name: str | None = None,
    project: str | None = None,
    backend: str | Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    group: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Run:
    """Start a run and make it the active one.

    Settings are resolved per key, highest priority first: these arguments, env vars
    (``TRACELET_<KEY>``, ``TRACELET_<SECTION>__<KEY>`` and the backends' own, such as
    ``MLFLOW_TRACKING_URI``), the YAML file (``TRACELET_CONFIG`` or ``./tracelet.yaml``),
    defaults. A run already active is stopped first (status ``"finished"``).

    Args:
        exp_name: The run's name (default: ``<script>-<date>-<time>``).
        project: The project (default: ``"default"``).
        backend: A backend name or a list of names (default: ``"local"``).
        config: More settings. A key naming a backend section (``"mlflow"``) takes a mapping;
            a flat key goes to each selected backend whose section has it
            (``{"tracking_uri": ...}``) and to the core if the core has it.
        group: The group the run belongs to, such as the trials of one sweep (default: none).
            MLflow nests the group's runs under one parent run, W&B and ClearML group them.
        settings: More config, as earlier releases took it: a
            :class:`tracelet.settings.TraceletSettings` (or any mapping); ``config`` wins
            where both set a key.

    Returns:
        The running :class:`Run`; a no-op run on a non-zero distributed rank.

    Raises:
        ConfigError: A ``ValueError`` naming each invalid key, its source and the fix
            (unknown backend, unknown key, wrong type, bad YAML).
        BackendStartError: A selected backend could not start.
    """
    from tracelet.session import start_run

    if settings is not None and (config is None or isinstance(config, Mapping)):
        config = {**settings, **(config or {})}
    return start_run(exp_name, project, backend, config, group=group)


#: Alias of :func:`get_active_run`, kept for code written against older Tracelet releases.
get_active_experiment = get_active_run


def available_backends() -> list[str]:
    """The names of the backends installed here (``backend=`` takes them), sorted.

    Loads the plugins (as starting a run does); a plugin that fails to load is not listed
    (``tracelet plugins`` shows why).
    """
    from tracelet.plugins import get_default_host

    return sorted(get_default_host().backends)


def available_frameworks() -> list[str]:
    """The names of the framework captures that act in a run started here, sorted: those an
    installed plugin registers whose library is importable (``tensorboard``: torch with
    tensorboard, or tensorboardX; ``lightning``; ``transformers``). Nothing is imported.
    """
    from tracelet.frameworks import available_frameworks as available

    return available()


def register_plugin(plugin: object, name: str | None = None) -> PluginInfo:
    """Register an in-process plugin (module or object with hookimpls) on the default host."""
    from tracelet.plugins import register_plugin as _register

    return _register(plugin, name)


def __dir__() -> list[str]:
    """The public API only (not the names this module imports for its own use)."""
    return sorted(__all__)


#: Names earlier releases exported from ``tracelet`` itself → the module that has them now.
_EARLIER_TOP_LEVEL = {
    "GitCollector": "tracelet.collectors.git",
    "SystemMetricsCollector": "tracelet.collectors.system",
    "PyTorchFramework": "tracelet.frameworks.pytorch",
    "LightningFramework": "tracelet.frameworks.lightning",
}


def __getattr__(name: str) -> Any:
    # pluggy (and importlib.metadata behind it) loads only when a plugin asks for the marker.
    if name == "hookimpl":
        from tracelet.hookspecs import hookimpl

        return hookimpl
    if name == "sync":  # `tracelet sync` from Python; loads settings and plugins when called
        from tracelet.syncing import sync

        return sync
    if name == "ArtifactType":  # typed artifacts: `run.create_artifact(name, ArtifactType.MODEL)`
        from tracelet.artifacts.types import ArtifactType

        return ArtifactType
    if name == "Experiment":  # the earlier releases' entry point, a facade over Run
        from tracelet.experiment import Experiment

        return Experiment
    if name in _EARLIER_TOP_LEVEL:  # earlier releases exported these from `tracelet`
        import importlib

        return getattr(importlib.import_module(_EARLIER_TOP_LEVEL[name]), name)
    if name == "automagic":  # as earlier releases: `tracelet.automagic.AutomagicConfig`
        import importlib

        return importlib.import_module("tracelet.automagic")
    raise AttributeError(f"module 'tracelet' has no attribute {name!r}")


if TYPE_CHECKING:
    hookimpl: pluggy.HookimplMarker
    from tracelet.artifacts.types import ArtifactType
    from tracelet.collectors.git import GitCollector as GitCollector
    from tracelet.collectors.system import SystemMetricsCollector as SystemMetricsCollector
    from tracelet.experiment import Experiment
    from tracelet.frameworks.lightning import LightningFramework as LightningFramework
    from tracelet.frameworks.pytorch import PyTorchFramework as PyTorchFramework
    from tracelet.syncing import sync
