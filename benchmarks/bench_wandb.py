"""Benchmarks of Tracelet's ``wandb`` backend against the W&B SDK's own ``run.log``, offline.

Run ``python benchmarks/bench_wandb.py`` (about a minute and a half) or ``--quick`` (under half
a minute, used by the tests). Every run is an offline W&B run (``mode="offline"``; nothing
touches the network) under a fresh temporary folder, the script's working directory; W&B's
settings, caches and staged files go to a second temporary folder (``HOME`` and the
``WANDB_*_DIR`` variables point there). Two sections:

1. **Caller cost**: microseconds the training loop spends per call in
   ``run.log_metric(name, value, step)`` of a Tracelet run with ``backend="wandb"``, next to
   ``wandb_run.log({name: value})`` on a run made with ``wandb.init(mode="offline",
   reinit="create_new")``. ``wandb_run.log`` turns the row into a record and hands it to the
   ``wandb-core`` process before it returns (~200 µs), so its row makes far fewer calls.
   *incl. delivery* adds, for Tracelet, the wait until ``run.flush()`` returns: the backend's
   own ``run.log`` calls have then returned, the point where ``wandb_run.log`` is on return.
2. **End to end**: points per second from the first call until the run has ended: Tracelet
   (``run.log_metric`` round-robin over 4 names with an explicit step per round, then
   ``run.stop()``) against the natural hand-written W&B loop, one ``wandb_run.log`` of a dict
   per step (the 4 values and a ``"step"`` key), then ``wandb_run.finish()``. Both runs are
   created before the clock starts. The rounds alternate which case goes first; the best
   round of each case is compared.

Every run is read back from its ``.wandb`` transaction log (``tests/support/wandb_reading.py``,
which decodes the records wandb itself wrote).

Fixed costs are kept out of every row: ``import wandb``, ``wandb.init`` (the first one starts
``wandb-core``) and W&B's first use of a run (one untimed warm-up per case in section 1) happen
before the clock starts; they are printed once, for reference.

``TRACELET_*``, ``WANDB_*`` and rank env vars are removed from this process (and restored at
the end); ``WANDB_MODE=offline`` is set, with the variables of ``support.wandb_env``.

Timing targets are printed with PASS or FAIL but never change the exit status: they depend on
the machine. The exit status is 1 when a correctness check fails: a point missing, changed or
duplicated in a run read back from its ``.wandb`` log, a hand-written run without one row per
step, a Tracelet run that did not deliver every point, or a run that did not end with exit
code 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _util import clean_workdir, fmt_float, fmt_int, load_average, median, section, table

import tracelet
from tracelet.run import Run

# The reader of offline runs lives with the tests (it is test support, not package code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# mypy does not see tests/ (it is not on mypy_path): the support names are typed Any here.
# support.wandb_reading imports wandb, so it is imported only once the W&B env vars are set.
from support.wandb_env import wandb_test_env  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run as WandbRun

#: Metric names of the end-to-end runs, logged round-robin, and the value offset of each: the
#: point of name k at step s has the value s + k/4 (exact in binary floating point).
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
E2E_OFFSETS = (0.0, 0.25, 0.5, 0.75)
#: The step column of the hand-written rows (W&B's own ``_step`` just counts rows).
BASELINE_STEP = "step"
#: Target: Tracelet's end-to-end rate as a fraction of the hand-written loop's.
E2E_TARGET = 0.90
#: Env vars removed for the run (with the rank vars): settings of Tracelet and W&B.
_ENV_PREFIXES = ("TRACELET_", "WANDB_")
#: The metric name of section 1 (each case logs to a run of its own).
CALL_NAME = "train/loss"
#: Tracelet's config for the wandb backend in every case.
TRACELET_CONFIG: dict[str, Any] = {"wandb": {"mode": "offline"}}


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    tracelet_calls: int  # calls per timed repeat of the Tracelet row, section 1
    wandb_calls: int  # calls per timed repeat of wandb_run.log
    repeats: int  # timed repeats per row of section 1
    points: int  # points per run in section 2 (a multiple of 4)
    rounds: int  # rounds of section 2 (one run of each case per round)

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(tracelet_calls=5_000, wandb_calls=500, repeats=3, points=8_000, rounds=1)
        return cls(tracelet_calls=10_000, wandb_calls=2_000, repeats=5, points=40_000, rounds=3)


def _wandb_settings() -> Any:
    """The settings of every hand-written run: no console capture, no system metrics, quiet
    (what Tracelet's backend asks for by default)."""
    import wandb

    return wandb.Settings(console="off", x_disable_stats=True, silent=True)


def _reading() -> Any:
    """The module ``support.wandb_reading`` (imported on first use: it imports wandb)."""
    import support.wandb_reading as reading  # type: ignore[import-not-found,unused-ignore]

    return reading


def _new_wandb_run(name: str) -> WandbRun:
    import wandb

    return wandb.init(
        project="bench",
        name=name,
        mode="offline",
        reinit="create_new",
        settings=_wandb_settings(),
    )


def _start_tracelet(name: str) -> Run:
    return tracelet.start_logging(name, "bench", "wandb", TRACELET_CONFIG)


def _tracelet_run_dir(run: Run) -> Path:
    """The offline W&B run folder of a Tracelet run, from its location ``<folder>  (upload
    with: wandb sync <folder>)``.

    Raises:
        RuntimeError: The run has no wandb location.
    """
    location = run.locations().get("wandb")
    if not location:
        raise RuntimeError(f"Tracelet run {run.name!r} has no wandb location: {run.locations()}")
    return Path(location.split("  (", 1)[0])


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_tracelet(log: Callable[[str, float, int], None], first: int, n: int) -> None:
    name = CALL_NAME
    for step in range(first, first + n):
        log(name, 0.5, step)


def _loop_wandb(log: Callable[[dict[str, Any]], None], first: int, n: int) -> None:
    name = CALL_NAME
    for _ in range(first, first + n):
        log({name: 0.5})


# -- section 1: caller cost ------------------------------------------------------------------


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    calls: int
    per_call: list[float]
    #: Loop start until everything was handed to W&B, per call; None: handed over on return.
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

    Every call gets a step of its own (``first_step`` grows), so the run read back holds
    exactly the points logged. ``drain`` (which waits until everything was handed to W&B) is
    timed after each loop, for the *incl. delivery* figure.
    """
    warm = max(calls // 10, 1)
    body(0, warm)  # warm-up: W&B's first use of the run, the interpreter's specialisation
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


def _check_call_points(label: str, run_dir: Path, step_key: str | None, logged: int) -> list[str]:
    """Read a section-1 run back: ``logged`` points of ``CALL_NAME``, value 0.5, exit code 0;
    with ``step_key``, at steps 0 .. logged-1 in order."""
    run = _reading().read_offline_run(run_dir)
    problems = []
    if step_key is None:
        values = [row[CALL_NAME] for row in run.history if CALL_NAME in row]
        if len(values) != logged or any(v != 0.5 for v in values):
            problems.append(f"{label}: {len(values):,} of {logged:,} points stored as logged")
    else:
        points: list[tuple[float, float]] = _reading().metric_points(run, CALL_NAME, step_key)
        if points != [(float(s), 0.5) for s in range(logged)]:
            got = {int(s) for s, v in points if v == 0.5}
            missing = sum(1 for s in range(logged) if s not in got)
            problems.append(
                f"{label}: {len(points):,} points read back for {logged:,} logged, "
                f"{missing:,} MISSING"
            )
    if run.exit_code != 0:
        problems.append(f"{label}: exit code {run.exit_code}, expected 0")
    return problems


def bench_calls(sizes: Sizes, workdir: Path) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs wandb_run.log"))
    problems: list[str] = []

    run = _start_tracelet("bench-calls")
    settings = _settings_line(run)
    ours = _time_case(
        "tracelet: run.log_metric(name, value, step) -> wandb",
        lambda first, k: _loop_tracelet(run.log_metric, first, k),
        calls=sizes.tracelet_calls,
        repeats=sizes.repeats,
        drain=run.flush,
    )
    problems += _check_delivered(run, ours.logged)
    tracelet_dir = _tracelet_run_dir(run)

    wandb_run = _new_wandb_run("bench-calls-wandb")
    theirs = _time_case(
        "wandb_run.log({name: value})",
        lambda first, k: _loop_wandb(wandb_run.log, first, k),
        calls=sizes.wandb_calls,
        repeats=sizes.repeats,
    )
    wandb_run.finish()
    problems += _check_call_points(ours.label, tracelet_dir, "tracelet/step", ours.logged)
    problems += _check_call_points(
        theirs.label, _reading().find_run_dir(workdir, wandb_run.id), None, theirs.logged
    )

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; W&B: {sizes.wandb_calls:,} "
        f"calls per repeat; {sizes.repeats} timed repeats after a warm-up of a tenth; "
        "time.perf_counter_ns around the loop; gc enabled (collected before each repeat); every "
        "Tracelet call has a step of its own (one W&B history row per point, like the W&B row)."
    )
    print(f"Tracelet run settings (defaults): {settings}; wandb mode offline")
    print(
        "'incl. delivery' times until run.flush() returned: the backend's run.log calls have "
        "handed every row to wandb-core, where a wandb_run.log call* is when it returns."
    )
    tracelet_median = median(ours.per_call)
    rows = []
    for case in (ours, theirs):
        per_call = median(case.per_call)
        delivered = per_call if case.delivered is None else median(case.delivered)
        rows.append(
            [
                case.label + ("*" if case.delivered is None else ""),
                f"{case.calls:,} x {len(case.per_call)}",
                _us(per_call),
                _us(min(case.per_call)),
                _us(delivered),
                fmt_int(1e9 / delivered),
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
    close: float  # then until run.stop() (Tracelet) or wandb_run.finish() returned
    run_dir: Path  # the offline W&B run written

    @property
    def total(self) -> float:
        return self.loop + self.close


def _log_points(log: Callable[[str, float, int], None], steps: int) -> None:
    pairs = tuple(zip(E2E_NAMES, E2E_OFFSETS, strict=True))
    for step in range(steps):
        for name, offset in pairs:
            log(name, step + offset, step)


def _log_rows(log: Callable[[dict[str, Any]], None], steps: int) -> None:
    pairs = tuple(zip(E2E_NAMES, E2E_OFFSETS, strict=True))
    for step in range(steps):
        row: dict[str, Any] = {name: step + offset for name, offset in pairs}
        row[BASELINE_STEP] = step
        log(row)


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
    return E2eTiming(t1 - t0, t2 - t1, _tracelet_run_dir(run)), problems


def _baseline_e2e(workdir: Path, n: int) -> E2eTiming:
    """Log ``n`` points by hand: one ``wandb_run.log`` of a dict per step, then ``finish``.

    This is what one would write with W&B alone: the step's values in one dict, with the step
    as a column of its own.
    """
    wandb_run = _new_wandb_run("bench-hand-written")
    gc.collect()
    t0 = time.perf_counter()
    _log_rows(wandb_run.log, n // len(E2E_NAMES))
    t1 = time.perf_counter()
    wandb_run.finish()
    t2 = time.perf_counter()
    return E2eTiming(t1 - t0, t2 - t1, _reading().find_run_dir(workdir, wandb_run.id))


@dataclass
class ReadBack:
    """What a section-2 run holds, compared with what was logged."""

    missing: int
    unexpected: int  # another value, a step never logged, or a metric name never logged
    duplicated: int
    rows: int  # history rows
    exit_code: int | None

    @property
    def points_ok(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated)


def _read_back(run_dir: Path, step_key: str, n: int) -> ReadBack:
    """Read a section-2 run from its ``.wandb`` log and compare it with the points logged."""
    run = _reading().read_offline_run(run_dir)
    steps = n // len(E2E_NAMES)
    missing = unexpected = duplicated = 0
    for name, offset in zip(E2E_NAMES, E2E_OFFSETS, strict=True):
        points: list[tuple[float, float]] = _reading().metric_points(run, name, step_key)
        got = Counter(points)
        duplicated += sum(count - 1 for count in got.values())
        expected = {(float(s), s + offset) for s in range(steps)}
        missing += len(expected - got.keys())
        unexpected += len(got.keys() - expected)
    ours = {*E2E_NAMES, step_key}
    names = {key for row in run.history for key in row if not key.startswith("_")}
    unexpected += len(names - ours)
    return ReadBack(missing, unexpected, duplicated, len(run.history), run.exit_code)


def bench_end_to_end(sizes: Sizes, workdir: Path) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    steps = n // len(E2E_NAMES)
    print(section(f"2. End to end: {n:,} points into offline W&B runs"))
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
                theirs.append(_baseline_e2e(workdir, n))

    best, base = min(ours, key=lambda t: t.total), min(theirs, key=lambda t: t.total)
    rows = [
        [
            "tracelet: run.log_metric -> wandb, then run.stop()",
            fmt_int(n),
            fmt_float(best.loop, 3),
            fmt_float(best.close, 3),
            fmt_float(best.total, 3),
            fmt_int(n / best.total),
            " / ".join(fmt_int(n / t.total) for t in ours),
            f"{base.total / best.total:.0%}",
        ],
        [
            "hand-written: wandb_run.log(dict) per step, then finish()",
            fmt_int(n),
            fmt_float(base.loop, 3),
            fmt_float(base.close, 3),
            fmt_float(base.total, 3),
            fmt_int(n / base.total),
            " / ".join(fmt_int(n / t.total) for t in theirs),
            "100%",
        ],
    ]
    print(
        f"{len(E2E_NAMES)} metric names round-robin, explicit steps ({steps:,} steps); "
        f"{sizes.rounds} round(s), the order alternating; runs created before the clock "
        "starts; total = first call until run.stop() returned (hand-written: until "
        "wandb_run.finish() returned); best round shown."
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
    ratio = base.total / best.total
    verdict = "PASS" if ratio >= E2E_TARGET else "FAIL"
    print(
        f"target: >= {E2E_TARGET:.0%} of the hand-written rate: Tracelet at {ratio:.0%} "
        f"-> {verdict}"
    )

    r0 = time.perf_counter()
    tracelet_rows: list[int] = []
    for label, timings, step_key in (
        ("tracelet", ours, "tracelet/step"),
        ("hand-written", theirs, BASELINE_STEP),
    ):
        for timing in timings:
            got = _read_back(timing.run_dir, step_key, n)
            where = f"{label} run {timing.run_dir.name}"
            if not got.points_ok:
                problems.append(
                    f"{where} read back: {n - got.missing:,} of {n:,} points, "
                    f"{got.missing:,} MISSING, {got.unexpected:,} changed or unexpected, "
                    f"{got.duplicated:,} duplicated"
                )
            if got.exit_code != 0:
                problems.append(f"{where}: exit code {got.exit_code}, expected 0")
            if label == "tracelet":
                tracelet_rows.append(got.rows)
            elif got.rows != steps:
                problems.append(f"{where}: {got.rows:,} history rows, expected {steps:,}")
    if not any(p.startswith("tracelet run") for p in problems):
        print(
            f"read back from the .wandb logs in {time.perf_counter() - r0:.2f}s: tracelet "
            f"{n:,} of {n:,} points, none missing (every name, step and value as logged, "
            f"exit code 0; history rows: {' / '.join(fmt_int(c) for c in tracelet_rows)} "
            f"for {steps:,} steps)"
        )
    if not any(p.startswith("hand-written run") for p in problems):
        print(f"hand-written: {steps:,} history rows of {steps:,} steps, every point as logged")
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
        f"Tracelet wandb backend benchmarks ({'quick' if args.quick else 'full'}); Python "
        f"{sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{load_average()}"
    )

    problems: list[str] = []
    # wandb's service connection replaces sys.exit and sys.excepthook for good: put them back.
    hooks = sys.exit, sys.excepthook
    with (
        tempfile.TemporaryDirectory(prefix="tracelet-bench-wandb-home-") as home,
        # wandb reads WANDB_* once per process, at its first setup: set before importing it.
        clean_workdir(
            _ENV_PREFIXES, {**wandb_test_env(Path(home)), "WANDB_MODE": "offline"}
        ) as workdir,
    ):
        t0 = time.perf_counter()
        import wandb

        t1 = time.perf_counter()
        wandb.setup()
        first = _new_wandb_run("bench-warm-up")  # starts wandb-core
        t2 = time.perf_counter()
        first.finish()
        t3 = time.perf_counter()
        _new_wandb_run("bench-warm-up-2").finish()
        t4 = time.perf_counter()
        print(
            f"wandb {wandb.__version__}, mode offline; runs under {workdir}; fixed costs, "
            f"outside every timing: import wandb {t1 - t0:.2f}s, first wandb.init "
            f"{t2 - t1:.2f}s (starts wandb-core), a later init + finish {t4 - t3:.2f}s"
        )
        try:
            if "calls" in only:
                problems += bench_calls(sizes, workdir)
            if "e2e" in only:
                problems += bench_end_to_end(sizes, workdir)
        finally:
            wandb.teardown()  # stops wandb-core before its folders are deleted
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
