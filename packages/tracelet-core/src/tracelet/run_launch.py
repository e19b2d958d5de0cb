"""Starting what a run writes to: its journal, its backends, its dispatcher, its collectors.

:func:`tracelet.session.start_run` resolves the settings and calls these in order:
:func:`start_journal` (the local run folder every record goes to first), :func:`start_backends`
(every other selected backend; one that fails either stops the start, closing what started, or,
with ``backend_start_failure: defer``, is left to ``tracelet sync``), :func:`launch` (the
dispatcher and its delivery states, then the :class:`~tracelet.run.Run`) and
:func:`start_collectors` (a collector that fails to start is logged and left out). Nothing here
touches process-wide state: that is :mod:`tracelet.session`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tracelet.errors import BackendStartError
from tracelet.redact import redact_uri_credentials
from tracelet.run import Run
from tracelet.threads import TraceletThread

if TYPE_CHECKING:
    from pathlib import Path

    from tracelet.backend import Backend, RunInfo
    from tracelet.backends.local import LocalBackend
    from tracelet.collector import Collector
    from tracelet.plugins import PluginHost
    from tracelet.settings import ResolvedSettings

logger = logging.getLogger("tracelet")


def start_journal(resolved: ResolvedSettings, info: RunInfo) -> LocalBackend | None:
    """The run folder every record goes to first (``journal: true``), started."""
    if not resolved.model.journal:
        return None
    from tracelet.backends.local import LocalBackend, LocalSettings

    section = resolved.section("local")
    journal = LocalBackend(section if isinstance(section, LocalSettings) else None)
    try:
        journal.start(info)
    except Exception as exc:
        raise BackendStartError(
            f"the journal (the local run folder) could not be created: {exc}; fix local.path "
            "(TRACELET_LOCAL__PATH) or set journal: false"
        ) from exc
    return journal


def start_backends(
    host: PluginHost, resolved: ResolvedSettings, info: RunInfo, journal: LocalBackend | None
) -> dict[str, Backend]:
    """Start every selected backend but the journal's ``local``.

    A backend that fails to start raises :class:`BackendStartError` after what started (the
    journal too) is closed; with ``backend_start_failure: defer`` and a journal, the run goes on
    without it instead, and ``tracelet sync`` creates its run and delivers later.
    """
    started: dict[str, Backend] = {}
    defer = resolved.model.backend_start_failure == "defer" and journal is not None
    for name in resolved.model.backend:
        if name == "local" and journal is not None:
            continue
        spec = host.backends[name]
        try:
            backend = spec.factory(resolved.section(name))
            backend.start(info)
        except Exception as exc:
            if defer and journal is not None and journal.run_dir is not None:
                _defer(name, exc, journal.run_dir)
                continue
            closing: dict[str, Backend] = dict(started)
            if journal is not None:
                closing["local"] = journal
            for other_name, other in closing.items():
                try:
                    other.close("failed")
                except Exception:
                    logger.exception("tracelet: closing backend %r failed", other_name)
            message = redact_uri_credentials(str(exc))
            raise BackendStartError(f"backend '{name}' could not start: {message}") from exc
        started[name] = backend
    return started


def _defer(name: str, exc: Exception, run_dir: Path) -> None:
    """Leave a backend that could not start to ``tracelet sync``: its delivery state says it
    has nothing (so ``tracelet runs`` shows it behind)."""
    import shlex

    from tracelet.delivery_state import DeliveryState

    DeliveryState.load(run_dir, name).save()
    logger.warning(
        "tracelet: backend %r could not start (%s: %s); logging on without it. Its records "
        "stay in the journal; deliver them when it is back with: tracelet sync %s",
        name,
        type(exc).__name__,
        exc,
        shlex.quote(str(run_dir)),
    )


def sync_in_background(host: PluginHost) -> threading.Thread:
    """``sync_on_start``: deliver the earlier runs' backlog on a daemon thread (this run, being
    alive, is skipped); each batch's cursor is saved, so exiting mid-way loses nothing."""

    def work() -> None:
        from tracelet.syncing import sync

        try:
            results = sync(every=True, progress=False, host=host)
        except Exception:
            logger.exception("tracelet: sync_on_start failed")
            return
        for r in results:
            if r.delivered or r.status.startswith("error"):
                level = logging.WARNING if r.status.startswith("error") else logging.INFO
                logger.log(
                    level,
                    "tracelet: sync_on_start: %s -> %s: %d delivered, %s",
                    r.run.name,
                    r.backend,
                    r.delivered,
                    r.status,
                )

    thread = TraceletThread(target=work, name="tracelet-sync-on-start")
    thread.start()
    return thread


def loaded_plugins(host: PluginHost) -> dict[str, str]:
    """The plugins that loaded: name → ``"<distribution> <version>"``."""
    return {
        name: " ".join(part for part in (p.distribution, p.version) if part)
        for name, p in host.plugins.items()
        if p.status == "loaded"
    }


def launch(
    info: RunInfo,
    backends: dict[str, Backend],
    resolved: ResolvedSettings,
    plugins: Mapping[str, str],
    journal: LocalBackend | None,
    *,
    on_stop: Callable[[Run], None],
) -> Run:
    """Start the dispatcher (with each backend's delivery state when there is a journal) and
    return the run; ``on_stop`` is called by :meth:`Run.stop`."""
    from tracelet.delivery_state import DeliveryState
    from tracelet.dispatch import Dispatcher

    s = resolved.model
    states = None
    if journal is not None and journal.run_dir is not None:
        states = {}
        for name, backend in backends.items():
            state = DeliveryState.load(journal.run_dir, name)
            state.identity = getattr(backend, "identity", None)
            state.save()
            states[name] = state
    dispatcher = Dispatcher(
        backends,
        batch_size=s.batch_size,
        flush_interval=s.flush_interval,
        max_queue_size=s.max_queue_size,
        overflow_policy=s.overflow_policy,
        journal=journal,
        states=states,
        journal_name="local" if journal is not None and "local" in s.backend else None,
    )
    dispatcher.start()
    shown: dict[str, Backend] = dict(backends)
    if journal is not None and "local" in s.backend:
        shown = {
            name: journal if name == "local" else backends[name]
            for name in s.backend
            if name == "local" or name in backends  # not a deferred one
        }
    return Run(
        info,
        dispatcher=dispatcher,
        backends=shown,
        resolved=resolved,
        nan_policy=s.nan_policy,
        plugins=plugins,
        journal_path=journal.run_dir if journal is not None else None,
        on_stop=on_stop,
    )


def start_collectors(host: PluginHost, resolved: ResolvedSettings, run: Run) -> list[Collector]:
    """Start every collector the settings enable on ``run``; one that fails is logged and left
    out."""
    running: list[Collector] = []
    for spec in host.collectors.values():
        try:
            collector = spec.factory(resolved.model)
            if collector is None:
                continue
            collector.start(run)
        except Exception:
            logger.exception(
                "tracelet: collector %r failed to start; continuing without it", spec.name
            )
            continue
        running.append(collector)
    return running
