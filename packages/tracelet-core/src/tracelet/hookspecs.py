"""Tracelet's hooks: how plugins add backends and collectors.

A plugin is a module (or object) with functions marked ``@tracelet.hookimpl`` whose names are
the hooks below. An installed distribution makes its plugin known through the ``tracelet``
entry-point group::

    [project.entry-points.tracelet]
    mlflow = "tracelet_mlflow.plugin"

Hooks are for discovery only: they run once per process, when the plugin host is built, and
register things through a callback. Records never travel through hooks; they go through the
typed :class:`~tracelet.backend.Backend` protocol, driven by the dispatcher. Each plugin's hook
is called on its own, so a plugin that raises is reported (``tracelet plugins``) and skipped
without hiding the plugins after it.

Tracelet's built-in backends (``local``, ``memory``) register through these same hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tracelet.backend import BackendFactory
    from tracelet.collector import CollectorFactory

PROJECT_NAME = "tracelet"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterBackend(Protocol):
    """The ``register`` callback given to :func:`tracelet_register_backends`."""

    def __call__(
        self,
        name: str,
        factory: BackendFactory,
        *,
        settings: type[BaseModel] | None = None,
        native_env: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        """Register a backend.

        Args:
            name: The name users select with ``backend=`` and the name of its section in
                ``tracelet.yaml`` (``mlflow``). Lower case, no dots.
            factory: Called with the resolved settings section (an instance of ``settings``,
                or ``None``) to create the backend when a run selects it. Import the
                backend's SDK inside it, not at plugin import.
            settings: A pydantic model for the backend's section. Declare it with
                ``model_config = ConfigDict(extra="forbid")`` so a typo is an error, give
                every field a default, and type secrets as ``pydantic.SecretStr``.
            native_env: The backend's own env vars that set a key of the section, e.g.
                ``{"MLFLOW_TRACKING_URI": "tracking_uri"}``. They rank with Tracelet's env
                vars, below ``TRACELET_<SECTION>__<KEY>``.
            description: One line for ``tracelet plugins``.

        Raises:
            ValueError: The name is invalid or already taken by another plugin.
        """


class RegisterCollector(Protocol):
    """The ``register`` callback given to :func:`tracelet_register_collectors`."""

    def __call__(
        self,
        name: str,
        factory: CollectorFactory,
        *,
        settings: type[BaseModel] | None = None,
        top_level: bool = False,
        description: str = "",
    ) -> None:
        """Register a collector.

        Args:
            name: A unique name (``system``, ``git``, ``power``).
            factory: Called with the run's resolved settings when a run starts; returns the
                collector, or ``None`` when the settings turn it off. The collector's own keys
                are ``settings.<name>.<key>`` (a section), or ``settings.<key>`` with
                ``top_level``.
            settings: A pydantic model of the collector's keys, validated like a backend's
                (``extra="forbid"``, a default for every field, secrets as ``SecretStr``). By
                default a section named after the collector: ``power:`` in ``tracelet.yaml``,
                ``TRACELET_POWER__<KEY>``, ``config={"power": {...}}``.
            top_level: Put the model's keys at the top level instead of in a section
                (``collect_system_metrics``, ``TRACELET_COLLECT_SYSTEM_METRICS``), as
                Tracelet's own collectors do. Keys must not clash with core keys or with
                another collector's.
            description: One line for ``tracelet plugins``.

        Raises:
            ValueError: The name is invalid or taken by another plugin, the section name is a
                backend's, or a top-level key is taken.
        """


# ---------------------------------------------------------------------------------------------
# Discovery hooks: called once per plugin, when the plugin host is built.
# ---------------------------------------------------------------------------------------------


@hookspec
def tracelet_register_backends(register: RegisterBackend) -> None:
    """Register the backends this plugin provides, by calling ``register`` once per backend.

    Called once per plugin when the plugin host is built (the first ``start_logging`` of a
    process, or ``tracelet plugins``). The return value is ignored. Raising marks this plugin
    as broken: its backends are unavailable and the error is shown by ``tracelet plugins`` and
    in the message of a run that selects one of them; other plugins are unaffected.
    """


@hookspec
def tracelet_register_collectors(register: RegisterCollector) -> None:
    """Register the collectors this plugin provides, by calling ``register`` once per collector.

    Called once per plugin when the plugin host is built. Every registered collector's factory
    is called at each run start with the resolved settings and decides from them whether to
    run. Raising marks the plugin as broken, as for :func:`tracelet_register_backends`.
    """
