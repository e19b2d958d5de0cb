"""Benchmarks of Tracelet's ``clearml`` backend against ClearML's own ``report_scalar``, offline.

Run ``python benchmarks/bench_clearml.py`` (about two minutes) or ``--quick`` (about
half a minute, used by the tests; closing the subprocess-mode task alone takes ~10 s). Every
task is an offline ClearML task (``Task.set_offline(True)``; nothing touches the network).
ClearML's cache folder, where offline sessions are written (``CLEARML_CACHE_DIR``), and
``HOME`` (ClearML's session file) point into a temporary folder of the script's own; a second
one is the working directory. Two sections:

1. **Caller cost**: microseconds the training loop spends per call in
   ``run.log_metric(name, value, step)`` of a Tracelet run with ``backend="clearml"`` (config
   ``{"clearml": {"offline": True}}``), next to ``logger.report_scalar(title, series, value,
   iteration=i)`` on a task made by hand with ``Task.init`` (ClearML's automatic capture off),
   in both of ClearML's reporting modes: in-process (``Task._report_subprocess_enabled =
   False`` before ``Task.init``; a thread of ClearML's writes the events, as Tracelet's backend
   sets it up) and ClearML's default on Linux, a reporting subprocess, on a task of its own.
   *incl. delivery* adds the wait until ``run.flush()`` (Tracelet) or
   ``logger.flush(wait=True)`` (in-process) returned: ClearML has then written every event to
   the offline session. In subprocess mode ``logger.flush(wait=True)`` waits about 5 s even
   with nothing pending, so that row's delivery is not timed (its ``task.close()`` is printed).
2. **End to end**: points per second from the first call until the run has ended: Tracelet
   (``run.log_metric`` round-robin over 4 names with an explicit step per round, then
   ``run.stop()``) against a hand-written loop calling ``logger.report_scalar`` for the same
   points, then ``task.close()``, on an in-process task: the fair comparison, the mode
   Tracelet's backend uses (the subprocess mode costs the caller far more per point: section
   1's last row). Both tasks are created before the clock starts. The rounds alternate which
   case goes first; the median round of each case is compared (not the best: on a shared
   machine one lucky round of either case decided the verdict).

Every task is read back from its offline session folder (``task.json``, ``metrics.jsonl``) with
``tests/support/clearml_reading.py``, which parses the files ClearML itself wrote.

ClearML allows one task per process at a time, so each task (a Tracelet run's included) is
closed before the next one starts. Fixed costs are kept out of every row: ``import clearml``,
``Task.init`` and ClearML's first use of a task (one untimed warm-up per case in section 1)
happen before the clock starts; they are printed once, for reference. ClearML's lines on stdout
(task created, session stored) are swallowed for the hand-written tasks, as Tracelet's backend
sends them to its logger.

``TRACELET_*``, ``CLEARML_*`` and rank env vars are removed from this process (and restored at
the end); ``HOME`` and ``CLEARML_CACHE_DIR`` are set to the temporary folder, where the script
writes a ``clearml.conf`` with one setting, ``sdk.development.vcs_repo_detect_async: false``.
``Task.init`` then detects the script's git repository (``git`` commands and an analysis of
the imports, ClearML's default) before it returns, outside every timing, instead of in a thread
of its own that runs during the timed loops and that ``task.close()`` waits for. Detecting in
that thread also hangs a task in subprocess mode: the reporting subprocess is forked while a
``git`` command is being started, inherits the pipe on which ``subprocess.Popen`` waits for the
``exec``, and ``task.close()`` then waits 300 s for the detection thread (seen here with
clearml 2.1.12).

Timing targets are printed with PASS or FAIL but never change the exit status: they depend on
the machine. The exit status is 1 when a correctness check fails: a point missing, changed,
duplicated or unexpected in a session read back from its folder, or a Tracelet run that did not
deliver every point.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _util import clean_workdir, fmt_float, fmt_int, load_average, median, section, table

import tracelet
from tracelet.run import Run

# The reader of offline sessions lives with the tests (it is test support, not package code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# mypy does not see tests/ (it is not on mypy_path): the support names are typed Any here.
# support.clearml_reading does not import clearml.
from support.clearml_reading import read_session  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from clearml import Logger, Task

#: Metric names of the end-to-end runs, logged round-robin; ClearML's (title, series) of each,
#: as the backend maps them (``a/b`` → title ``a``, series ``b``; a name without ``/`` is
#: both); and the value offset of each: the point of name k at step s has the value s + k/4
#: (exact in binary floating point).
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
E2E_SERIES = (("train", "loss"), ("train", "acc"), ("lr", "lr"), ("grad_norm", "grad_norm"))
E2E_OFFSETS = (0.0, 0.25, 0.5, 0.75)
#: Target: Tracelet's end-to-end rate as a fraction of the hand-written loop's.
E2E_TARGET = 0.90
#: Env vars removed for the run (with the rank vars): settings of Tracelet and ClearML.
_ENV_PREFIXES = ("TRACELET_", "CLEARML_")
#: ``~/clearml.conf`` of the run (HOCON): repository detection inside ``Task.init`` (see the
#: module docstring for why).
CLEARML_CONF = "sdk.development.vcs_repo_detect_async: false\n"
#: The metric name of section 1 and its (title, series) (each case logs to a task of its own).
CALL_NAME = "train/loss"
CALL_SERIES = ("train", "loss")
#: Tracelet's config for the clearml backend in every case.
TRACELET_CONFIG: dict[str, Any] = {"clearml": {"offline": True}}


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    # The Tracelet row and the in-process row queue the same number of points per repeat:
    # ClearML's cost per point written grows with the number pending (5,000 → 20,000 points
    # per flush: roughly 50 → 75 us each here), so unequal counts would skew "incl. delivery".
    tracelet_calls: int  # calls per timed repeat of the Tracelet row, section 1
    inproc_calls: int  # calls per timed repeat of report_scalar, in-process reporting
    subproc_calls: int  # calls per timed repeat of report_scalar, subprocess reporting
    repeats: int  # timed repeats per row of section 1
    points: int  # points per run in section 2 (a multiple of 4)
    rounds: int  # rounds of section 2 (one run of each case per round)

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                tracelet_calls=5_000,
                inproc_calls=5_000,
                subproc_calls=500,
                repeats=3,
                points=20_000,
                rounds=2,
            )
        return cls(
            tracelet_calls=10_000,
            inproc_calls=10_000,
            subproc_calls=2_000,
            repeats=5,
            points=100_000,
            rounds=5,
        )


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Swallow what ClearML prints when a task starts or closes (the table stays readable)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _new_task(name: str, *, subprocess: bool = False) -> Task:
    """A new offline task with ClearML's automatic capture off (what Tracelet's backend asks
    for by default), reporting in-process or, with ``subprocess``, from ClearML's reporting
    subprocess (its default on Linux)."""
    from clearml import Task

    Task.set_offline(offline_mode=True)
    # A class attribute read by Task.init: it decides the mode of the task about to start.
    Task._report_subprocess_enabled = subprocess  # type: ignore[assignment,unused-ignore]
    with _quiet_stdout():
        return Task.init(
            project_name="bench",
            task_name=name,
            reuse_last_task_id=False,
            auto_connect_frameworks=False,
            auto_connect_arg_parser=False,
            auto_resource_monitoring=False,
            auto_connect_streams=False,
        )


def _close_task(task: Task) -> Path:
    """Close ``task``; its offline session folder.

    Raises:
        RuntimeError: The task has no offline session folder (it is not offline).
    """
    folder = task.get_offline_mode_folder()
    if folder is None:
        raise RuntimeError(f"task {task.id} has no offline session folder")
    with _quiet_stdout():
        task.close()
    return Path(folder)


def _start_tracelet(name: str) -> Run:
    return tracelet.start_logging(name, "bench", "clearml", TRACELET_CONFIG)


def _tracelet_folder(run: Run) -> Path:
    """The offline session folder of a Tracelet run (its ``clearml`` location).

    Raises:
        RuntimeError: The run has no clearml location.
    """
    location = run.locations().get("clearml")
    if not location:
        raise RuntimeError(f"Tracelet run {run.name!r} has no clearml location: {run.locations()}")
    return Path(location)


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_tracelet(log: Callable[[str, float, int], None], first: int, n: int) -> None:
    name = CALL_NAME
    for step in range(first, first + n):
        log(name, 0.5, step)


def _loop_clearml(report: Callable[..., None], first: int, n: int) -> None:
    title, series = CALL_SERIES
    for step in range(first, first + n):
        report(title, series, 0.5, iteration=step)


# -- section 1: caller cost ------------------------------------------------------------------


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    calls: int
    per_call: list[float]
    #: Loop start until ClearML wrote everything, per call; None: not timed.
    delivered: list[float] | None
    #: Points logged in all, warm-up included.
    logged: int


def _time_case(
    label: str,
    body: Callable[[int, int], None],
    *,
    calls: int,
    repeats: int,
    drain: Callable[[], object] | None = None,
) -> CallCase:
    """Time ``body(first_step, calls)`` ``repeats`` times after one untimed warm-up.

    Every call gets a step of its own (``first_step`` grows), so the session read back holds
    exactly the points logged. ``drain`` (which waits until ClearML wrote everything) is timed
    after each loop, for the *incl. delivery* figure.
    """
    warm = max(calls // 10, 1)
    body(0, warm)  # warm-up: ClearML's first use of the task, the interpreter's specialisation
    if drain is not None:
        drain()
    first = warm
    per_call: list[float] = []
    delivered: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
        gc.collect()
        t0 = clock()
        body(first, calls)
        t1 = clock()
        if drain is not None:
            drain()
            delivered.append((clock() - t0) / calls)
        per_call.append((t1 - t0) / calls)
        first += calls
    return CallCase(label, calls, per_call, delivered if drain is not None else None, first)


def _us(ns: float) -> str:
    return fmt_float(ns / 1000, 2)


def _check_delivered(run: Run, expected: int) -> list[str]:
    """Stop the run; the problems found if it did not deliver exactly ``expected`` points."""
    ok = run.stop()
    problems = []
    for name, stats in run.stats().items():
        if stats.delivered != expected or stats.dropped or stats.failed:
            problems.append(
                f"backend {name!r}: {stats.delivered:,} of {expected:,} points delivered "
                f"({stats.dropped} dropped, {stats.failed} failed, {stats.pending} pending; "
                f"last error: {stats.last_error})"
            )
    if not ok and not problems:
        problems.append(f"run {run.name!r} did not stop cleanly")
    return problems


def _settings_line(run: Run) -> str:
    if run.settings is None:
        return "?"
    s = run.settings.settings
    return (
        f"batch_size={s.batch_size}, flush_interval={s.flush_interval}s, "
        f"max_queue_size={s.max_queue_size:,}, overflow_policy={s.overflow_policy}"
    )


def _check_call_points(label: str, folder: Path, logged: int) -> list[str]:
    """Read a section-1 session back: ``logged`` points of ``CALL_SERIES``, value 0.5, at
    iterations 0 .. logged-1, and no other scalar."""
    scalars: dict[tuple[str, str], list[tuple[int, float]]] = read_session(folder).scalars()
    points = sorted(scalars.pop(CALL_SERIES, []))
    problems = []
    if points != [(s, 0.5) for s in range(logged)]:
        got = {s for s, v in points if v == 0.5}
        missing = sum(1 for s in range(logged) if s not in got)
        problems.append(
            f"{label}: {len(points):,} points read back for {logged:,} logged, {missing:,} MISSING"
        )
    if scalars:
        problems.append(f"{label}: unexpected scalars {sorted(scalars)}")
    return problems


def bench_calls(sizes: Sizes) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs logger.report_scalar"))
    problems: list[str] = []

    # One ClearML task at a time: each case's task is closed before the next one starts.
    run = _start_tracelet("bench-calls")
    settings = _settings_line(run)
    ours = _time_case(
        "tracelet: run.log_metric(name, value, step) -> clearml",
        lambda first, k: _loop_tracelet(run.log_metric, first, k),
        calls=sizes.tracelet_calls,
        repeats=sizes.repeats,
        drain=run.flush,
    )
    problems += _check_delivered(run, ours.logged)
    tracelet_folder = _tracelet_folder(run)

    task = _new_task("bench-calls-in-process")
    report_logger: Logger = task.get_logger()
    inproc = _time_case(
        "clearml in-process: logger.report_scalar(title, series, v, iteration=i)",
        lambda first, k: _loop_clearml(report_logger.report_scalar, first, k),
        calls=sizes.inproc_calls,
        repeats=sizes.repeats,
        drain=lambda: report_logger.flush(wait=True),
    )
    inproc_folder = _close_task(task)

    t0 = time.perf_counter()
    task = _new_task("bench-calls-subprocess", subprocess=True)
    t1 = time.perf_counter()
    sub_logger: Logger = task.get_logger()
    subproc = _time_case(
        "clearml subprocess (default): logger.report_scalar(...)",
        lambda first, k: _loop_clearml(sub_logger.report_scalar, first, k),
        calls=sizes.subproc_calls,
        repeats=sizes.repeats,
    )
    t2 = time.perf_counter()
    subproc_folder = _close_task(task)
    t3 = time.perf_counter()

    problems += _check_call_points(ours.label, tracelet_folder, ours.logged)
    problems += _check_call_points(inproc.label, inproc_folder, inproc.logged)
    problems += _check_call_points(subproc.label, subproc_folder, subproc.logged)

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; ClearML in-process: "
        f"{sizes.inproc_calls:,}, subprocess: {sizes.subproc_calls:,} calls per repeat; "
        f"{sizes.repeats} timed repeats after a warm-up of a tenth; time.perf_counter_ns around "
        "the loop; gc enabled (collected before each repeat); every call has an iteration of "
        "its own."
    )
    print(f"Tracelet run settings (defaults): {settings}; clearml offline, in-process reporting")
    print(
        "'incl. delivery' times until run.flush() (Tracelet) or logger.flush(wait=True) "
        "(in-process) returned: ClearML has written every event to the offline session."
    )
    print(
        f"* subprocess mode: delivery not timed (logger.flush(wait=True) waits ~5 s even with "
        f"nothing pending); its Task.init took {t1 - t0:.2f}s, its task.close() "
        f"{t3 - t2:.2f}s (writes what is pending, stops the subprocess)."
    )
    tracelet_median = median(ours.per_call)
    rows = []
    for case in (ours, inproc, subproc):
        per_call = median(case.per_call)
        if case.delivered is None:
            delivered_us = delivered_rate = "n/a"
        else:
            delivered = median(case.delivered)
            delivered_us, delivered_rate = _us(delivered), fmt_int(1e9 / delivered)
        rows.append(
            [
                case.label + ("*" if case.delivered is None else ""),
                f"{case.calls:,} x {len(case.per_call)}",
                _us(per_call),
                _us(min(case.per_call)),
                delivered_us,
                delivered_rate,
                f"{per_call / tracelet_median:,.0f}x",
            ]
        )
    print(
        table(
            [
                "case",
                "calls x repeats",
                "median us/call",
                "min us/call",
                "incl. delivery us/call",
                "delivered points/s",
                "median vs tracelet",
            ],
            rows,
        )
    )
    if problems:
        for problem in problems:
            print(f"ERROR: {problem}")
    else:
        print("delivery check: every point of every row is stored (none missing)")
    return problems


# -- section 2: end to end -------------------------------------------------------------------


@dataclass
class E2eTiming:
    """One timed run of section 2, in seconds."""

    loop: float  # first call until the last call returned
    close: float  # then until run.stop() (Tracelet) or task.close() (hand-written) returned
    folder: Path  # the offline session written

    @property
    def total(self) -> float:
        return self.loop + self.close


def _log_points(log: Callable[[str, float, int], None], steps: int) -> None:
    pairs = tuple(zip(E2E_NAMES, E2E_OFFSETS, strict=True))
    for step in range(steps):
        for name, offset in pairs:
            log(name, step + offset, step)


def _report_points(report: Callable[..., None], steps: int) -> None:
    triples = tuple((t, s, o) for (t, s), o in zip(E2E_SERIES, E2E_OFFSETS, strict=True))
    for step in range(steps):
        for title, series, offset in triples:
            report(title, series, step + offset, iteration=step)


def _tracelet_e2e(n: int) -> tuple[E2eTiming, list[str]]:
    """Log ``n`` points with Tracelet and stop the run; the timing and the problems found."""
    run = _start_tracelet("bench-e2e")
    gc.collect()
    t0 = time.perf_counter()
    _log_points(run.log_metric, n // len(E2E_NAMES))
    t1 = time.perf_counter()
    stopped = run.stop()
    t2 = time.perf_counter()
    problems = [] if stopped else ["run.stop() reported that not everything was delivered"]
    stats = run.stats().get("clearml")
    if stats is None or stats.delivered != n:
        problems.append(f"tracelet run {run.name!r}: delivery stats {stats}, expected {n:,}")
    return E2eTiming(t1 - t0, t2 - t1, _tracelet_folder(run)), problems


def _baseline_e2e(n: int) -> E2eTiming:
    """Log ``n`` points by hand: ``logger.report_scalar`` per point on an in-process task, then
    ``task.close()`` (which writes what is pending)."""
    task = _new_task("bench-hand-written")
    report = task.get_logger().report_scalar
    gc.collect()
    t0 = time.perf_counter()
    _report_points(report, n // len(E2E_NAMES))
    t1 = time.perf_counter()
    folder = _close_task(task)
    t2 = time.perf_counter()
    return E2eTiming(t1 - t0, t2 - t1, folder)


@dataclass
class ReadBack:
    """What a section-2 session holds, compared with what was logged."""

    missing: int
    unexpected: int  # another value, an iteration never logged, or a series never logged
    duplicated: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated)


def _read_back(folder: Path, n: int) -> ReadBack:
    """Read a section-2 session from its folder and compare it with the points logged."""
    scalars: dict[tuple[str, str], list[tuple[int, float]]] = read_session(folder).scalars()
    steps = n // len(E2E_NAMES)
    missing = unexpected = duplicated = 0
    for key, offset in zip(E2E_SERIES, E2E_OFFSETS, strict=True):
        got = Counter(scalars.pop(key, []))
        duplicated += sum(count - 1 for count in got.values())
        expected = {(s, s + offset) for s in range(steps)}
        missing += len(expected - got.keys())
        unexpected += len(got.keys() - expected)
    unexpected += sum(len(points) for points in scalars.values())  # series never logged
    return ReadBack(missing, unexpected, duplicated)


def _median_round(timings: Sequence[E2eTiming]) -> E2eTiming:
    """The round with the median total (of an even number, the faster of the middle two).

    Raises:
        IndexError: ``timings`` is empty.
    """
    return sorted(timings, key=lambda t: t.total)[(len(timings) - 1) // 2]


def bench_end_to_end(sizes: Sizes) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    steps = n // len(E2E_NAMES)
    print(section(f"2. End to end: {n:,} points into offline ClearML tasks"))
    problems: list[str] = []
    ours: list[E2eTiming] = []
    theirs: list[E2eTiming] = []
    for r in range(sizes.rounds):
        # Alternate the order, so neither case always runs on a fresher process.
        for case in ("baseline", "tracelet") if r % 2 == 0 else ("tracelet", "baseline"):
            if case == "tracelet":
                timing, found = _tracelet_e2e(n)
                ours.append(timing)
                problems += found
            else:
                theirs.append(_baseline_e2e(n))

    mine, hand = _median_round(ours), _median_round(theirs)
    rows = [
        [
            "tracelet: run.log_metric -> clearml, then run.stop()",
            fmt_int(n),
            fmt_float(mine.loop, 3),
            fmt_float(mine.close, 3),
            fmt_float(mine.total, 3),
            fmt_int(n / mine.total),
            " / ".join(fmt_int(n / t.total) for t in ours),
            f"{hand.total / mine.total:.0%}",
        ],
        [
            "hand-written: report_scalar per point (in-process), then task.close()",
            fmt_int(n),
            fmt_float(hand.loop, 3),
            fmt_float(hand.close, 3),
            fmt_float(hand.total, 3),
            fmt_int(n / hand.total),
            " / ".join(fmt_int(n / t.total) for t in theirs),
            "100%",
        ],
    ]
    print(
        f"{len(E2E_NAMES)} metric names round-robin, explicit steps ({steps:,} steps); "
        f"{sizes.rounds} round(s), the order alternating; tasks created before the clock "
        "starts; total = first call until run.stop() returned (hand-written: until "
        "task.close() returned); median round shown. Both use ClearML's in-process reporting "
        "(the fair comparison: Tracelet's backend sets it; the subprocess default is section "
        "1's last row)."
    )
    print(
        table(
            [
                "case",
                "points",
                "logging loop s",
                "stop/close s",
                "total s",
                "points/s",
                "points/s per round",
                "rate vs hand-written",
            ],
            rows,
        )
    )
    ratio = hand.total / mine.total
    verdict = "PASS" if ratio >= E2E_TARGET else "FAIL"
    print(
        f"target: >= {E2E_TARGET:.0%} of the hand-written rate: Tracelet at {ratio:.0%} "
        f"-> {verdict}"
    )

    r0 = time.perf_counter()
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            got = _read_back(timing.folder, n)
            if not got.ok:
                problems.append(
                    f"{label} run {timing.folder.name} read back: {n - got.missing:,} of "
                    f"{n:,} points, {got.missing:,} MISSING, {got.unexpected:,} changed or "
                    f"unexpected, {got.duplicated:,} duplicated"
                )
    if not any(p.startswith("tracelet run") for p in problems):
        print(
            f"read back from the offline sessions in {time.perf_counter() - r0:.2f}s: tracelet "
            f"{n:,} of {n:,} points, none missing (every title, series, iteration and value "
            f"as logged, {len(ours)} run(s))"
        )
    if not any(p.startswith("hand-written run") for p in problems):
        print(f"hand-written: {n:,} of {n:,} points, none missing ({len(theirs)} run(s))")
    for problem in problems:
        print(f"ERROR: {problem}")
    return problems


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=("calls", "e2e"),
        help="run only this section (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    sizes = Sizes.for_mode(args.quick)
    only = set(args.only or ("calls", "e2e"))
    print(
        f"Tracelet clearml backend benchmarks ({'quick' if args.quick else 'full'}); Python "
        f"{sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{load_average()}"
    )

    problems: list[str] = []
    # Task.init replaces sys.exit and sys.excepthook (ClearML's exit hooks): put them back.
    hooks = sys.exit, sys.excepthook
    with (
        tempfile.TemporaryDirectory(prefix="tracelet-bench-clearml-home-") as tmp,
        clean_workdir(
            _ENV_PREFIXES,
            {"HOME": str(Path(tmp) / "home"), "CLEARML_CACHE_DIR": str(Path(tmp) / "cache")},
        ),
    ):
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "clearml.conf").write_text(CLEARML_CONF)
        try:
            t0 = time.perf_counter()
            import clearml
            from clearml.config import config_obj

            t1 = time.perf_counter()
            if config_obj.get("sdk.development.vcs_repo_detect_async", None) is not False:
                raise RuntimeError(f"ClearML did not read {home / 'clearml.conf'}")
            first = _new_task("bench-warm-up")
            t2 = time.perf_counter()
            _close_task(first)
            t3 = time.perf_counter()
            print(
                f"clearml {clearml.__version__}, offline; sessions under "
                f"{os.environ['CLEARML_CACHE_DIR']}; fixed costs, outside every timing: "
                f"import clearml {t1 - t0:.2f}s, first Task.init {t2 - t1:.2f}s, "
                f"task.close() of an empty task {t3 - t2:.2f}s (repository detection inside "
                "Task.init: clearml.conf)"
            )
            if "calls" in only:
                problems += bench_calls(sizes)
            if "e2e" in only:
                problems += bench_end_to_end(sizes)
        finally:
            sys.exit, sys.excepthook = hooks

    print(section("Summary"))
    print(f"finished{load_average()}")
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}")
        return 1
    print("all correctness checks passed (timing targets are reported above, not enforced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
