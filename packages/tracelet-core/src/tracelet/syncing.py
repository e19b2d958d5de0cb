"""``tracelet sync``: deliver from the journal what a backend has not received.

For each run folder and each backend (the ones the run was started with, or those named):

1. If ``run.json`` still says ``running`` but the process that wrote it is gone, the run is
   closed as ``killed``, in the folder and (step 4) in every backend.
2. The backend is started with the identity saved in ``delivery/<backend>.json``, so it resumes
   its run; a backend that never saw the run (down at start, a run made offline with only
   ``local``, a new ``--to`` target) creates it, with the run's name and project.
3. The same delivery worker that runs live (:mod:`tracelet.delivery`) reads the journal from the
   saved cursor to its end and writes batch by batch, saving the cursor after each, so an
   interrupted sync resumes where it stopped and a second sync has nothing to do.
4. The backend's run is closed with the run's final status.

Settings come from the layered configuration where ``sync`` runs (arguments > env vars >
``tracelet.yaml``), so a run made on an offline node can be sent to the server the login node
sees. A file lock per run and backend keeps two syncs from delivering the same records.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.journal import DELIVERY_DIR, RUN_FILE, JournalReader, Position, close_run_meta
from tracelet.threads import tracelet_work

if TYPE_CHECKING:
    from tracelet.backends.local import LocalRun
    from tracelet.plugins import PluginHost
    from tracelet.records import Batch, RunStatus

logger = logging.getLogger("tracelet.sync")

#: Backends that keep nothing outside the process: there is nothing to sync them into.
NOT_SYNCED = frozenset({"local", "memory"})
#: Seconds a sync keeps retrying a backend whose writes fail before it gives up on it.
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What ``sync`` did for one run and one backend.

    Attributes:
        run: The run folder.
        backend: The backend's name.
        delivered: Records written by this sync.
        already: Records the backend had been given before (live or by an earlier sync).
        failed: Records the backend refused in this sync.
        remaining: Records still not delivered (the backend failed until the timeout).
        status: The status the backend's run was closed with, or what was not done and why
            (``"skipped: ..."``, ``"error: ..."``, ``"dry run"``).
    """

    run: Path
    backend: str
    delivered: int = 0
    already: int = 0
    failed: int = 0
    remaining: int = 0
    status: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "dry run" or (
            self.remaining == 0 and not self.status.startswith("error")
        )


def process_alive(meta: dict[str, Any]) -> bool | None:
    """Whether the process that wrote ``run.json`` is still running: ``None`` when it ran on
    another host (this one cannot tell)."""
    if meta.get("host") != socket.gethostname():
        return None
    pid = meta.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def find_runs(refs: Sequence[str], root: Path, *, every: bool = False) -> list[Path]:
    """Run folders for ``refs``: a folder path, a run id, a run name (its latest run) or
    ``latest``, looked up under ``root``; with ``every``, all runs under ``root``.

    Raises:
        FileNotFoundError: A reference matches no run (the message says where it looked).
    """
    from tracelet.backends.local import list_runs

    found: list[Path] = []
    runs = list_runs(root) if every or any(not (Path(r) / RUN_FILE).is_file() for r in refs) else []
    if every:
        found.extend(r.path for r in runs)
    for ref in refs:
        if (Path(ref) / RUN_FILE).is_file():
            found.append(Path(ref).resolve())
            continue
        matches = [r for r in runs if ref in (r.path.name, r.id)] or [
            r for r in runs if r.name == ref
        ]
        if ref == "latest" and runs:
            matches = runs
        if not matches:
            raise FileNotFoundError(
                f"no run {ref!r}: not a run folder, and no run id or name under {root} "
                "(set local.path / TRACELET_LOCAL__PATH, or pass the folder)"
            )
        found.append(matches[-1].path)  # runs are oldest first: the latest of that name
    return list(dict.fromkeys(found))


def sync(
    runs: Sequence[str | os.PathLike[str]] = (),
    *,
    to: Sequence[str] | None = None,
    every: bool = False,
    dry_run: bool = False,
    force: bool = False,
    new_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    config: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
) -> list[SyncResult]:
    """Deliver what each backend has not received yet (see the module docstring).

    Args:
        runs: Run folders, run ids, run names (the latest of that name) or ``"latest"``; ids
            and names are looked up under the configured ``local.path``.
        to: Backends to deliver to (default: those the run was started with). A backend the
            run never had gets a new run with everything.
        every: Every run under ``local.path``.
        dry_run: Only report what would be delivered.
        force: Sync a run whose ``run.json`` says ``running`` although it ran on another host
            (this host cannot tell whether its process is still alive).
        new_run: Deliver everything again, to a new run in each backend, whatever the backend
            had: for a backend that cannot resume its run (W&B or ClearML online), or a run that was
            deleted there.
        timeout: Seconds a backend whose writes keep failing is retried before giving up; the
            rest stays in the journal for the next sync.
        progress: Show a progress bar on stderr (default: when stderr is a terminal).
        config: Settings given as in ``start_logging(config=...)``; they rank above env vars
            and ``tracelet.yaml`` (``{"mlflow": {"tracking_uri": ...}}``).
        host: The plugin host (default: the installed plugins).

    Returns:
        One :class:`SyncResult` per run and backend.

    Raises:
        FileNotFoundError: A run reference matches no run.
        ConfigError: The configuration where sync runs is invalid.
    """
    from tracelet.plugins import get_default_host
    from tracelet.settings import resolve_settings

    host = host if host is not None else get_default_host()
    local = resolve_settings(host, config=config).section("local")
    root = Path(getattr(local, "path", "./tracelet-runs"))
    folders = find_runs([os.fspath(r) for r in runs], root, every=every)
    options = _Options(to, dry_run, force, new_run, timeout, progress, host, config or {})
    results: list[SyncResult] = []
    for folder in folders:
        results.extend(_sync_run(folder, options))
    return results


@dataclass(frozen=True, slots=True)
class _Options:
    to: Sequence[str] | None
    dry_run: bool
    force: bool
    new_run: bool
    timeout: float
    progress: bool | None
    host: PluginHost
    config: Mapping[str, Any]


def _sync_run(folder: Path, options: _Options) -> list[SyncResult]:
    from tracelet.backends.local import read_run

    run = read_run(folder)
    targets = [b for b in (options.to or run.meta.get("backends") or []) if b not in NOT_SYNCED]
    status: RunStatus = run.status if run.status != "running" else "killed"  # type: ignore[assignment]
    if run.status == "running":
        alive = process_alive(run.meta)
        if alive or (alive is None and not options.force):
            why = (
                "its process is still running"
                if alive
                else f"it ran on {run.meta.get('host')}; pass --force if its process is gone"
            )
            return [SyncResult(folder, b, status=f"skipped: {why}") for b in targets]
        if not options.dry_run:
            close_run_meta(folder, run.meta, status)
            logger.info("run %s: its process is gone; closed as %s", folder, status)
    end = JournalReader(folder).end()
    results = []
    for target in targets:
        with _locked(folder, target) as locked:
            if not locked:
                results.append(
                    SyncResult(folder, target, status="skipped: another sync is delivering it")
                )
                continue
            with tracelet_work():  # captures of a run live in this process leave it alone
                results.append(_sync_backend(run, target, status, end, options))
    return results


def _sync_backend(
    run: LocalRun, target: str, status: RunStatus, end: Position, options: _Options
) -> SyncResult:
    from tracelet.backend import RunInfo
    from tracelet.delivery import BackendWorker, JournalFeed
    from tracelet.delivery_state import DeliveryState
    from tracelet.errors import ConfigError
    from tracelet.settings import resolve_settings

    state = DeliveryState.load(run.path, target)
    if options.new_run and not options.dry_run:
        state.progress_path.unlink(missing_ok=True)
        state = DeliveryState(state.path, target)
    already = state.cursor.seq

    def untouched(status: str) -> SyncResult:
        """Nothing delivered: everything after the cursor remains."""
        return SyncResult(
            run.path, target, already=already, remaining=end.seq - already, status=status
        )

    if state.cursor.seq >= end.seq and state.closed:
        return untouched("up to date")
    host = options.host
    if options.dry_run:
        return untouched("dry run")
    if state.identity is None and state.cursor.seq > 0:
        return untouched(
            f"error: {target} cannot resume the run it started, and delivering the rest to a "
            "new run would split it (--new-run delivers everything to a new run)"
        )
    if target not in host.backends:
        return untouched(f"error: backend {target!r} is not installed")
    try:
        resolved = resolve_settings(
            host,
            backend=[target],
            exp_name=run.name,
            project=run.project,
            config=options.config,
        )
        backend = host.backends[target].factory(resolved.section(target))
        backend.start(
            RunInfo(
                id=run.id,
                name=run.name,
                project=run.project,
                start_time=float(run.meta.get("start_time") or time.time()),
                backends=tuple(run.meta.get("backends") or ()),
                resume=state.identity,
                group=run.group,
            )
        )
    except ConfigError:
        raise
    except Exception as exc:
        return untouched(f"error: {exc}")
    identity = getattr(backend, "identity", None)
    if state.identity is not None and identity != state.identity:
        logger.warning(
            "run %s: %s could not resume its run (%s); delivering everything to a new one (%s)",
            run.path,
            target,
            state.identity,
            identity,
        )
        state.progress_path.unlink(missing_ok=True)  # the old run's cursor no longer applies
        state = DeliveryState(state.path, target)
        already = 0
    state.identity = identity
    state.closed = False
    state.save()
    reader = JournalReader(run.path)
    state.cursor = reader.seek(state.cursor.seq, state.cursor.offset)
    worker = BackendWorker(
        target,
        backend,
        max_pending=0,
        overflow_policy="block",
        feed=JournalFeed(reader, state, resolved.model.batch_size),
    )
    total = end.seq - state.cursor.seq
    with _progress_bar(total, f"{run.name} → {target}", options.progress) as bar:

        def advance(read: int, part: Batch) -> None:
            bar.update(read)

        complete = worker.deliver_backlog(
            end, give_up_at=time.monotonic() + options.timeout, on_batch=advance
        )
    closed = worker.close_backend(status)
    stats = worker.stats(0)
    return SyncResult(
        run.path,
        target,
        delivered=stats.delivered,
        already=already,
        failed=stats.failed,
        remaining=max(0, end.seq - worker.cursor.seq),
        status=status if complete and closed else f"error: {stats.last_error or 'close failed'}",
    )


@contextlib.contextmanager
def _locked(folder: Path, backend: str) -> Iterator[bool]:
    """An exclusive lock on ``delivery/<backend>.lock``; yields whether it was taken."""
    lock_dir = folder / DELIVERY_DIR
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{backend}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _progress_bar(total: int, description: str, show: bool | None) -> Iterator[Any]:
    from tqdm import tqdm

    # tqdm turns itself off when stderr is not a terminal if disable is None.
    with tqdm(
        total=total, desc=description, unit=" records", disable=None if show is None else not show
    ) as bar:
        yield bar
