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

import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _backend_bench as common
from _util import COLLECTORS_OFF, check_delivered, clean_workdir, section, summary

import tracelet
from tracelet.run import Run

# The reader of offline sessions lives with the tests (it is test support, not package code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# mypy does not see tests/ (it is not on mypy_path): the support names are typed Any here.
# support.clearml_reading does not import clearml.
from support.clearml_reading import read_session  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from clearml import Logger, Task

#: Metric names of the end-to-end runs, logged round-robin, and ClearML's (title, series) of
#: each, as the backend maps them (``a/b`` → title ``a``, series ``b``; a name without ``/``
#: is both). The point of name k at step s has the value s + k/4 (exact in binary).
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
E2E_SERIES = (("train", "loss"), ("train", "acc"), ("lr", "lr"), ("grad_norm", "grad_norm"))
#: Env vars removed for the run (with the rank vars): settings of Tracelet and ClearML.
_ENV_PREFIXES = ("TRACELET_", "CLEARML_")
#: ``~/clearml.conf`` of the run (HOCON): repository detection inside ``Task.init`` (see the
#: module docstring for why).
CLEARML_CONF = "sdk.development.vcs_repo_detect_async: false\n"
#: The (title, series) of section 1's metric name (each case logs to a task of its own).
CALL_SERIES = ("train", "loss")
#: Tracelet's config for the clearml backend in every case.
TRACELET_CONFIG: dict[str, Any] = {"clearml": {"offline": True}, **COLLECTORS_OFF}

# Native rows of section 1: "inproc" (in-process reporting), "subproc" (the reporting
# subprocess). The Tracelet row and the in-process row queue the same number of points per
# repeat: ClearML's cost per point written grows with the number pending (5,000 → 20,000
# points per flush: roughly 50 → 75 us each here), so unequal counts would skew "incl.
# delivery".
QUICK = common.Sizes(5_000, {"inproc": 5_000, "subproc": 500}, repeats=3, points=20_000, rounds=2)
FULL = common.Sizes(
    10_000, {"inproc": 10_000, "subproc": 2_000}, repeats=5, points=100_000, rounds=5
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


def _read_back(
    folder: Path, expected: dict[tuple[str, str], set[tuple[float, float]]]
) -> common.ReadBack:
    """Read a session from its folder and compare its scalars with ``expected`` (a series never
    logged counts as unexpected)."""
    scalars: dict[tuple[str, str], list[tuple[int, float]]] = read_session(folder).scalars()
    return common.compare_points(expected, scalars)


# -- section 1: caller cost ------------------------------------------------------------------


def _loop_clearml(report: Callable[..., None], first: int, n: int) -> None:
    """The native timed loop (module-level, like Tracelet's, for the same loop overhead)."""
    title, series = CALL_SERIES
    for step in range(first, first + n):
        report(title, series, 0.5, iteration=step)


def bench_calls(sizes: common.Sizes) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs logger.report_scalar"))
    problems: list[str] = []

    # One ClearML task at a time: each case's task is closed before the next one starts.
    run = _start_tracelet("bench-calls")
    settings = common.settings_line(run)
    ours = common.time_tracelet(run, "clearml", sizes)
    problems += check_delivered(run, ours.logged)
    tracelet_folder = _tracelet_folder(run)

    task = _new_task("bench-calls-in-process")
    report_logger: Logger = task.get_logger()
    inproc = common.time_case(
        "clearml in-process: logger.report_scalar(title, series, v, iteration=i)",
        lambda first, k: _loop_clearml(report_logger.report_scalar, first, k),
        calls=sizes.native_calls["inproc"],
        repeats=sizes.repeats,
        drain=lambda: report_logger.flush(wait=True),
    )
    inproc_folder = _close_task(task)

    t0 = time.perf_counter()
    task = _new_task("bench-calls-subprocess", subprocess=True)
    t1 = time.perf_counter()
    sub_logger: Logger = task.get_logger()
    subproc = common.time_case(
        "clearml subprocess (default): logger.report_scalar(...)",
        lambda first, k: _loop_clearml(sub_logger.report_scalar, first, k),
        calls=sizes.native_calls["subproc"],
        repeats=sizes.repeats,
    )
    t2 = time.perf_counter()
    subproc_folder = _close_task(task)
    t3 = time.perf_counter()

    for case, folder in (
        (ours, tracelet_folder),
        (inproc, inproc_folder),
        (subproc, subproc_folder),
    ):
        got = _read_back(folder, common.call_points(CALL_SERIES, case.logged))
        problems += common.read_back_problems(case.label, got, case.logged)

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; ClearML in-process: "
        f"{sizes.native_calls['inproc']:,}, subprocess: {sizes.native_calls['subproc']:,} calls "
        f"per repeat; {sizes.repeats} timed repeats after a warm-up of a tenth; "
        "time.perf_counter_ns around the loop; gc enabled (collected before each repeat); every "
        "call has an iteration of its own."
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
    common.print_call_table([ours, inproc, subproc], undrained="n/a")
    common.print_call_problems(problems)
    return problems


# -- section 2: end to end -------------------------------------------------------------------


def _report_points(report: Callable[..., None], steps: int) -> None:
    triples = tuple((t, s, k / len(E2E_SERIES)) for k, (t, s) in enumerate(E2E_SERIES))
    for step in range(steps):
        for title, series, offset in triples:
            report(title, series, step + offset, iteration=step)


def _tracelet_e2e(n: int) -> tuple[common.E2eTiming[Path], list[str]]:
    """Log ``n`` points with Tracelet and stop the run; the timing and the problems found."""
    run = _start_tracelet("bench-e2e")
    timing, problems = common.tracelet_e2e(
        run, lambda r: common.log_points(r.log_metric, E2E_NAMES, n), _tracelet_folder
    )
    stats = run.stats().get("clearml")
    if stats is None or stats.delivered != n:
        problems.append(f"tracelet run {run.name!r}: delivery stats {stats}, expected {n:,}")
    return timing, problems


def _baseline_e2e(n: int) -> common.E2eTiming[Path]:
    """Log ``n`` points by hand: ``logger.report_scalar`` per point on an in-process task, then
    ``task.close()`` (which writes what is pending)."""
    task = _new_task("bench-hand-written")
    report = task.get_logger().report_scalar
    loop, close, folder = common.time_e2e(
        lambda: _report_points(report, n // len(E2E_SERIES)), lambda: _close_task(task)
    )
    return common.E2eTiming(loop, close, folder)


def bench_end_to_end(sizes: common.Sizes) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    steps = n // len(E2E_NAMES)
    print(section(f"2. End to end: {n:,} points into offline ClearML tasks"))
    ours, theirs, problems = common.run_rounds(
        sizes.rounds, lambda: _tracelet_e2e(n), lambda: _baseline_e2e(n)
    )
    # The median round, not the best: on a shared machine one lucky round of either case
    # decided the verdict.
    common.print_e2e_table(
        n,
        ours,
        theirs,
        labels=(
            "tracelet: run.log_metric -> clearml, then run.stop()",
            "hand-written: report_scalar per point (in-process), then task.close()",
        ),
        note=(
            f"{len(E2E_NAMES)} metric names round-robin, explicit steps ({steps:,} steps); "
            f"{sizes.rounds} round(s), the order alternating; tasks created before the clock "
            "starts; total = first call until run.stop() returned (hand-written: until "
            "task.close() returned); median round shown. Both use ClearML's in-process "
            "reporting (the fair comparison: Tracelet's backend sets it; the subprocess default "
            "is section 1's last row)."
        ),
        pick=common.median_round,
    )

    r0 = time.perf_counter()
    expected = common.e2e_points(E2E_SERIES, n)
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            got = _read_back(timing.run, expected)
            problems += common.read_back_problems(f"{label} run {timing.run.name}", got, n)
    return common.report_read_back(
        problems,
        f"read back from the offline sessions in {time.perf_counter() - r0:.2f}s: tracelet "
        f"{n:,} of {n:,} points, none missing (every title, series, iteration and value "
        f"as logged, {len(ours)} run(s))",
        f"hand-written: {n:,} of {n:,} points, none missing ({len(theirs)} run(s))",
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    options = common.parse_options(argv, __doc__, "clearml")
    sizes = options.sizes(QUICK, FULL)
    with (
        common.exit_hooks_kept(),  # Task.init replaces them (ClearML's exit hooks)
        tempfile.TemporaryDirectory(prefix="tracelet-bench-clearml-home-") as tmp,
        clean_workdir(
            _ENV_PREFIXES,
            {"HOME": str(Path(tmp) / "home"), "CLEARML_CACHE_DIR": str(Path(tmp) / "cache")},
        ),
    ):
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "clearml.conf").write_text(CLEARML_CONF)
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
        problems = common.run_sections(
            options,
            lambda: bench_calls(sizes),
            lambda: bench_end_to_end(sizes),
        )
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
