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

What a run writes to (journal, backends, dispatcher, collectors) is started by
:mod:`tracelet.run_launch`; this module owns the process-wide state and hooks.
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

from tracelet import run_launch as launching
from tracelet.run import Run
from tracelet.threads import tracelet_work

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost
    from tracelet.records import RunStatus

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
        journal = launching.start_journal(resolved, info)
        with tracelet_work():  # a backend's own SummaryWriter calls are not captured
            backends = launching.start_backends(host, resolved, info, journal)
        plugins = launching.loaded_plugins(host)
        run = launching.launch(info, backends, resolved, plugins, journal, on_stop=_forget)
        if collectors:
            run._attach_collectors(launching.start_collectors(host, resolved, run))
        if activate:
            _active = run
        _live.append(run)
        _install_process_hooks(sigterm=settings.handle_sigterm)
        if settings.sync_on_start and run.journal_path is not None:
            launching.sync_in_background(host)
    logger.info(
        "tracelet: run %r (project %r) logging to %s",
        info.name,
        info.project,
        ", ".join(run.backends),
    )
    return run


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
