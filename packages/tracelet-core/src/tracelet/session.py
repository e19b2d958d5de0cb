"""The process-wide side of the API: the active run, interpreter exit, forks, ranks.

* One run is *active* at a time; :func:`start_run` stops the previous one cleanly first.
* Every run still running at interpreter exit is stopped (``atexit``), with status
  ``"failed"`` if an uncaught exception ended the program, ``"killed"`` after Ctrl-C; this runs
  before the exit teardown of the backends' libraries (W&B's service, ClearML's task), however
  many runs and backends the process started.
* SIGTERM (``handle_sigterm``, on by default): every run delivers what is queued within its
  ``shutdown_timeout`` and closes as ``"killed"``; then the handler installed before runs, or
  the process ends by the signal as it would have without Tracelet.
* In a process forked from one with a running run (PyTorch DataLoader workers), the copy of
  the run is inert: it accepts every call and sends nothing, so no record is delivered twice and
  the parent's backends are never closed by the child. ``start_logging`` works in the child.
* When ``RANK`` (or, if unset, ``LOCAL_RANK``) is set and not 0, ``start_logging`` returns a
  run that accepts every call and does nothing, unless ``log_all_ranks`` is set.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from tracelet.errors import BackendStartError
from tracelet.redact import redact_uri_credentials
from tracelet.run import Run
from tracelet.threads import TraceletThread, tracelet_work

if TYPE_CHECKING:
    from pathlib import Path

    from tracelet.backend import Backend, RunInfo
    from tracelet.backends.local import LocalBackend
    from tracelet.collector import Collector
    from tracelet.plugins import PluginHost
    from tracelet.records import RunStatus
    from tracelet.settings import ResolvedSettings

logger = logging.getLogger("tracelet")

_lock = threading.RLock()
_active: Run | None = None
_live: list[Run] = []  # started in this process and not stopped yet
_exit_status: RunStatus = "finished"
_hooks_installed = False


def get_active_run() -> Run | None:
    """The run started last by :func:`tracelet.start_logging`, unless it was stopped."""
    return _active


def stop_logging(status: RunStatus = "finished", timeout: float | None = None) -> None:
    """Stop the active run (see :meth:`Run.stop`); does nothing when there is none."""
    run = _active
    if run is not None:
        run.stop(status, timeout)


def distributed_rank(environ: Mapping[str, str] | None = None) -> int | None:
    """This process's rank from ``RANK``, else ``LOCAL_RANK``; ``None`` when neither is set."""
    environ = os.environ if environ is None else environ
    for var in ("RANK", "LOCAL_RANK"):
        raw = environ.get(var)
        if raw is not None and raw.strip():
            try:
                return int(raw)
            except ValueError:
                logger.warning("tracelet: ignoring %s=%r (not an integer)", var, raw)
    return None


def default_run_name() -> str:
    """``<script>-<YYYYmmdd-HHMMSS>``, or ``run-<...>`` outside a script."""
    script = ""
    if sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        script = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    return f"{script or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_id() -> str:
    """A unique id that sorts by start time: ``20261126-203355-1a2b3c``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"


def start_run(
    exp_name: str | None = None,
    project: str | None = None,
    backend: str | Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    group: str | None = None,
    host: PluginHost | None = None,
    collectors: bool = True,
    activate: bool = True,
) -> Run:
    """:func:`tracelet.start_logging` with an explicit plugin host (tests, embedding).

    ``collectors=False`` starts no collector or capture, whatever the settings say: the run then
    holds only what the caller logs (the contract kit's runs). ``activate=False`` starts a run
    beside the active one, which it neither stops nor replaces (integrations that log several
    runs at once, such as the trials of a Ray Tune sweep); it is still stopped at exit.
    """
    global _active
    from tracelet.plugins import get_default_host
    from tracelet.settings import resolve_settings

    host = host if host is not None else get_default_host()
    resolved = resolve_settings(
        host, exp_name=exp_name, project=project, backend=backend, config=config, group=group
    )
    settings = resolved.model
    from tracelet.backend import RunInfo

    info = RunInfo(
        id=new_run_id(),
        name=settings.experiment_name or default_run_name(),
        project=settings.project,
        start_time=time.time(),
        backends=tuple(settings.backend),
        group=settings.group,
    )
    with _lock:
        if activate and _active is not None:
            _active.stop()
        rank = distributed_rank()
        if rank not in (None, 0) and not settings.log_all_ranks:
            run = Run(
                info, dispatcher=None, backends={}, resolved=resolved, inert_reason="non-zero rank"
            )
            if activate:
                _active = run
            return run
        journal = _start_journal(resolved, info)
        with tracelet_work():  # a backend's own SummaryWriter calls are not captured
            backends = _start_backends(host, resolved, info, journal)
        run = _launch(info, backends, resolved, _loaded_plugins(host), journal)
        if collectors:
            run._attach_collectors(_start_collectors(host, resolved, run))
        if activate:
            _active = run
        _live.append(run)
        _install_process_hooks(sigterm=settings.handle_sigterm)
        if settings.sync_on_start and run.journal_path is not None:
            _sync_in_background(host)
    logger.info(
        "tracelet: run %r (project %r) logging to %s",
        info.name,
        info.project,
        ", ".join(run.backends),
    )
    return run


def _start_journal(resolved: ResolvedSettings, info: RunInfo) -> LocalBackend | None:
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


def _start_backends(
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


def _sync_in_background(host: PluginHost) -> threading.Thread:
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


def _loaded_plugins(host: PluginHost) -> dict[str, str]:
    return {
        name: " ".join(part for part in (p.distribution, p.version) if part)
        for name, p in host.plugins.items()
        if p.status == "loaded"
    }


def _launch(
    info: RunInfo,
    backends: dict[str, Backend],
    resolved: ResolvedSettings,
    plugins: Mapping[str, str],
    journal: LocalBackend | None,
) -> Run:
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
        on_stop=_forget,
    )


def _start_collectors(host: PluginHost, resolved: ResolvedSettings, run: Run) -> list[Collector]:
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


def _forget(run: Run) -> None:
    """Called by :meth:`Run.stop`: the run is no longer active or live."""
    global _active
    with _lock:
        if run in _live:
            _live.remove(run)
        if _active is run:
            _active = None


# -- process hooks -------------------------------------------------------------------------------


def _install_process_hooks(*, sigterm: bool) -> None:
    """Called after each run's backends and collectors have started: the exit drain (again,
    see :func:`_run_exit_drain_first`), then, once per process, the excepthook, the fork
    handler and (``sigterm``) the SIGTERM handler."""
    global _hooks_installed
    if sigterm:
        _install_sigterm_handler()
    _run_exit_drain_first()
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        global _exit_status
        _exit_status = "killed" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _run_exit_drain_first() -> None:
    """Make :func:`_stop_all_at_exit` run at exit before every ``atexit`` handler there is.

    ``atexit`` runs handlers in the reverse order of registration, and the backends' libraries
    register their own teardown when they are imported or start a run: W&B stops its service
    process (``wandb-core``), ClearML closes its task, AIM closes its repo. A handler
    registered once, at the first run, would run after those of every library started later
    in the process (a ``local`` run, then a W&B one; each ClearML task), and deliver what is
    queued to closed connections. So it is registered again, as the last one, each time a
    run has started its backends; the unregistering keeps it a single handler.
    """
    atexit.unregister(_stop_all_at_exit)
    atexit.register(_stop_all_at_exit)


_previous_sigterm: Any = None
_sigterm_installed = False


def _install_sigterm_handler() -> None:
    """Handle SIGTERM from the main thread (only it may set handlers); leave a handler that
    ignores the signal alone, and chain any other one."""
    global _previous_sigterm, _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        return
    _previous_sigterm = previous
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Deliver what is queued (each run's ``shutdown_timeout``), close as ``killed``, then do
    what would have happened without Tracelet: the earlier handler, or death by the signal."""
    global _exit_status
    _exit_status = "killed"
    runs = list(_live)
    if runs:
        logger.warning(
            "tracelet: SIGTERM: delivering what is queued, then closing %d run(s) as killed",
            len(runs),
        )
    for run in runs:
        try:
            run.stop("killed")
        except Exception:
            logger.exception("tracelet: stopping run %r on SIGTERM failed", run.name)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # The default action: end the process by the signal (exit status 143 in a shell).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _stop_all_at_exit() -> None:
    for run in list(_live):
        try:
            if _exit_status == "killed":
                _say_what_is_waited_for(run)
            run.stop(_exit_status)
        except KeyboardInterrupt:
            # The second Ctrl-C may come at any point, even while the line above is written
            # and before Run.stop got to its own handler: close what can be closed and say what
            # is left here (once, if Run.stop did already).
            with contextlib.suppress(KeyboardInterrupt):  # a third Ctrl-C
                run._abandon(_exit_status)
        except Exception:
            logger.exception("tracelet: stopping run %r at exit failed", run.name)


def _say_what_is_waited_for(run: Run) -> None:
    """After Ctrl-C the user waits on us: say for what, and how to stop waiting."""
    waiting = run.pending()
    if waiting:
        sys.stderr.write(
            "tracelet: delivering "
            + ", ".join(f"{n:,} records to {name}" for name, n in waiting.items())
            + " before exiting; press Ctrl-C again to stop waiting (the journal keeps "
            "them for `tracelet sync`)\n"
        )
        sys.stderr.flush()


def _after_fork_in_child() -> None:
    global _lock, _exit_status
    _lock = threading.RLock()  # the parent's lock may have been held by another thread
    _exit_status = "finished"
    for run in _live:
        run._detach_after_fork()
    _live.clear()
