"""The plugin host: finds plugins, calls their discovery hooks, keeps what they registered.

Plugins come from three places, in this order:

1. Tracelet's built-ins (:mod:`tracelet.builtin`: the ``local`` and ``memory`` backends);
2. installed distributions, through the ``tracelet`` entry-point group. ``TRACELET_PLUGINS``
   (comma-separated entry-point names) limits which load; set it empty to load none;
3. objects registered in-process with :meth:`PluginHost.register` (or
   :func:`tracelet.register_plugin` on the default host).

A plugin that fails to import, fails pluggy's validation or raises in a hook is recorded with
its error and skipped: it is shown by ``tracelet plugins`` and named in the error of a run that
selects one of its backends, and it never stops a run that does not use it.

Set ``TRACELET_TRACE_HOOKS=1`` to log every hook call at DEBUG level on the ``tracelet.plugins``
logger.
What a plugin registers (:class:`BackendSpec`, :class:`CollectorSpec`, :class:`PluginInfo`) and
the checks on each registration are in :mod:`tracelet.plugin_registry`; this module finds the
plugins, runs their hooks and keeps the result.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from tracelet import hookspecs
from tracelet._version import __version__
from tracelet.plugin_registry import (
    FIRST_PARTY_BACKENDS,
    FIRST_PARTY_COLLECTOR_KEYS,
    BackendSpec,
    CollectorSpec,
    PluginInfo,
    PluginStatus,
    backend_registrar,
    collector_registrar,
    install_hint,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "ENTRY_POINT_GROUP",
    "FIRST_PARTY_BACKENDS",
    "FIRST_PARTY_COLLECTOR_KEYS",
    "PLUGINS_ENV",
    "TRACE_HOOKS_ENV",
    "BackendSpec",
    "CollectorSpec",
    "PluginHost",
    "PluginInfo",
    "PluginStatus",
    "describe_plugins",
    "get_default_host",
    "install_hint",
    "register_plugin",
]

logger = logging.getLogger(__name__)

#: The entry-point group plugin distributions declare.
ENTRY_POINT_GROUP = "tracelet"
#: Env var: comma-separated entry-point names to load (unset: all; empty: none).
PLUGINS_ENV = "TRACELET_PLUGINS"
#: Env var: when set to 1, log every hook call (DEBUG, logger ``tracelet.plugins``).
TRACE_HOOKS_ENV = "TRACELET_TRACE_HOOKS"


class PluginHost:
    """A pluggy plugin manager plus the backends and collectors its plugins registered.

    Build a fresh one per test; production code uses :func:`get_default_host`.

    Args:
        load_entrypoints: Load installed plugins from the ``tracelet`` entry-point group.
        allow: Entry-point names to load; ``None`` reads ``TRACELET_PLUGINS`` (unset: all).
    """

    def __init__(
        self, *, load_entrypoints: bool = True, allow: Iterable[str] | None = None
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get(TRACE_HOOKS_ENV) == "1":
            self.pm.add_hookcall_monitoring(_log_hook_call, _ignore_hook_result)
        self.backends: dict[str, BackendSpec] = {}
        self.collectors: dict[str, CollectorSpec] = {}
        self.plugins: dict[str, PluginInfo] = {}
        from tracelet import builtin

        self.register(builtin, name="builtin", distribution="tracelet-core", version=__version__)
        if load_entrypoints:
            self.load_entrypoints(allow)

    # -- loading ---------------------------------------------------------------------------

    def load_entrypoints(self, allow: Iterable[str] | None = None) -> None:
        """Load every plugin of the ``tracelet`` entry-point group, isolating failures."""
        if allow is None:
            raw = os.environ.get(PLUGINS_ENV)
            allow = None if raw is None else [p.strip() for p in raw.split(",") if p.strip()]
        allowed = None if allow is None else set(allow)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.plugins:
                self._record_error(
                    ep.name,
                    dist,
                    version,
                    f"another plugin is already registered as '{ep.name}'",
                )
                continue
            if allowed is not None and ep.name not in allowed:
                self.plugins[ep.name] = PluginInfo(ep.name, dist, version, "disabled")
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._record_error(ep.name, dist, version, _describe(exc))
                continue
            self.register(plugin, name=ep.name, distribution=dist, version=version)

    def register(
        self,
        plugin: object,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        """Register a plugin object and run its discovery hooks.

        Never raises for a broken plugin: the returned info has ``status == "error"`` and the
        error text, and nothing the plugin registered is kept.
        """
        name = name or self.pm.get_canonical_name(plugin)
        unmarked = [
            hook
            for hook in ("tracelet_register_backends", "tracelet_register_collectors")
            if callable(getattr(plugin, hook, None))
            and not hasattr(getattr(plugin, hook), f"{hookspecs.PROJECT_NAME}_impl")
        ]
        if unmarked:  # pluggy would skip them silently: the plugin would register nothing
            return self._record_error(
                name,
                distribution,
                version,
                f"{', '.join(unmarked)} is not marked with @tracelet.hookimpl",
            )
        # The same object under a second name is refused by pluggy; the first registration
        # must then stay as it is.
        already_registered = self.pm.is_registered(plugin)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            if not already_registered and self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            return self._record_error(name, distribution, version, _describe(exc))
        backends: dict[str, BackendSpec] = {}
        collectors: dict[str, CollectorSpec] = {}
        try:
            self._call_own_hook(
                "tracelet_register_backends", name, backend_registrar(self, name, backends)
            )
            self._call_own_hook(
                "tracelet_register_collectors", name, collector_registrar(self, name, collectors)
            )
        except Exception as exc:
            self.pm.unregister(plugin)
            # Replace any earlier entry under this name: this plugin did register, then failed.
            self.plugins.pop(name, None)
            return self._record_error(name, distribution, version, _describe(exc))
        info = PluginInfo(
            name,
            distribution,
            version,
            "loaded",
            backends=sorted(backends),
            collectors=sorted(collectors),
        )
        self.plugins[name] = info
        self.backends.update(backends)
        self.collectors.update(collectors)
        return info

    def unregister(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.plugins.pop(name, None)
        self.backends = {k: v for k, v in self.backends.items() if v.plugin != name}
        self.collectors = {k: v for k, v in self.collectors.items() if v.plugin != name}

    # -- lookups ---------------------------------------------------------------------------

    def broken_plugin_for(self, backend: str) -> PluginInfo | None:
        """The plugin that failed to load under this name, if any (entry point == backend)."""
        info = self.plugins.get(backend)
        if info is not None and info.status != "loaded":
            return info
        return None

    def section_models(self) -> dict[str, type[BaseModel]]:
        """Settings sections contributed by the registered backends and collectors, by name."""
        sections = {n: s.settings for n, s in self.backends.items() if s.settings is not None}
        for name, spec in self.collectors.items():
            if spec.settings is not None and not spec.top_level:
                sections[name] = spec.settings
        return sections

    def top_level_models(self) -> list[type[BaseModel]]:
        """Models whose keys collectors put at the top level (``collect_system_metrics``)."""
        return [
            s.settings for s in self.collectors.values() if s.settings is not None and s.top_level
        ]

    def native_env(self) -> dict[str, tuple[str, str]]:
        """Native env var name → (section, key), from every registered backend."""
        out: dict[str, tuple[str, str]] = {}
        for spec in self.backends.values():
            for var, key in spec.native_env.items():
                out[var] = (spec.name, key)
        return out

    # -- internals -------------------------------------------------------------------------

    def _record_error(
        self, name: str, distribution: str | None, version: str | None, error: str
    ) -> PluginInfo:
        """Log a plugin that failed; list it unless a plugin of that name is already listed."""
        logger.warning("tracelet plugin %r could not be loaded and is skipped: %s", name, error)
        info = PluginInfo(name, distribution, version, "error", error)
        self.plugins.setdefault(name, info)
        return info

    def _call_own_hook(self, hook: str, plugin: str, register: Callable[..., Any]) -> None:
        """Call ``plugin``'s implementation of a discovery hook (if any) alone, through
        pluggy's hook caller: each plugin registers with a registrar of its own, so that what
        it registers, or the error it raises, is its own."""
        others = [p for n, p in self.pm.list_name_plugin() if n != plugin]
        self.pm.subset_hook_caller(hook, remove_plugins=others)(register=register)


def _describe(exc: BaseException) -> str:
    """One line naming the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    # pluggy's validation messages span lines (the hookimpl, then the offending arguments).
    message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {message}{where}"


_default_host: PluginHost | None = None
_default_lock = threading.Lock()


def get_default_host() -> PluginHost:
    """The process-wide plugin host, built on first use (entry points are scanned once)."""
    global _default_host
    with _default_lock:
        if _default_host is None:
            _default_host = PluginHost()
        return _default_host


def register_plugin(plugin: object, name: str | None = None) -> PluginInfo:
    """Register an in-process plugin (a module or object with hookimpls) on the default host.

    Use it for a backend that lives in your own code base rather than in a distribution.

    Returns:
        The plugin's info; check ``status`` and ``error`` (a broken plugin does not raise).
    """
    return get_default_host().register(plugin, name=name)


def describe_plugins(host: PluginHost) -> list[dict[str, Any]]:
    """One dict per plugin, for ``tracelet plugins --json`` and the table."""
    return [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "status": info.status,
            "error": info.error,
            "backends": info.backends,
            "collectors": info.collectors,
        }
        for info in host.plugins.values()
    ]


def _log_hook_call(hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
    """pluggy's hook-call monitor with ``TRACELET_TRACE_HOOKS=1``: one line per plugin called."""
    for impl in impls:
        logger.debug("hook %s called on plugin %r", hook, impl.plugin_name)


def _ignore_hook_result(
    outcome: pluggy.Result[Any],
    hook: str,
    impls: Sequence[pluggy.HookImpl],
    kwargs: Mapping[str, Any],
) -> None:
    """pluggy asks for an ``after`` monitor too; the calls are logged before they run."""
