"""Benchmarks of Tracelet's ``aim`` backend against AIM's own ``run.track``, in a local repo.

Run ``python benchmarks/bench_aim.py`` (about a minute) or ``--quick`` (under half a
minute, used by the tests). Every run goes to one fresh local AIM repo, created by the script
in a temporary folder of its own (removed at exit, once AIM has closed its files); the script
works in a second temporary folder. Two sections:

1. **Caller cost**: microseconds the training loop spends per call in
   ``run.log_metric(name, value, step)`` of a Tracelet run with ``backend="aim"``, next to
   ``aim_run.track(value, name=..., step=..., context={"subset": "train"})`` on a run made by
   hand with ``aim.Run(repo=..., experiment=..., system_tracking_interval=None,
   log_system_params=False, capture_terminal_logs=False)`` (what the backend asks for by
   default). ``track`` writes the point to the repo's RocksDB before it returns (~100-250
   µs), so its row makes far fewer calls. *incl. delivery* adds, for Tracelet, the wait until
   ``run.flush()`` returns: the backend's own ``track`` calls have then returned, the point
   where an ``aim_run.track`` call is on return.
2. **End to end**: points per second from the first call until the run is closed: Tracelet
   (``run.log_metric`` round-robin over 4 names with explicit steps, then ``run.stop()``)
   against a hand-written loop of one ``aim_run.track`` per point, with the AIM names and
   contexts the backend maps Tracelet's names to (``train/loss`` → ``loss`` with context
   ``{"subset": "train"}``; ``lr`` → ``lr`` with ``{}``), then ``aim_run.close()``. Both runs
   are created before the clock starts. The rounds alternate which case goes first; the best
   round of each case is compared.

Every run is read back through AIM's own ``Repo`` (``tests/support/aim_reading.py``, which
indexes the closed run first, as ``aim up`` does).

Fixed costs are kept out of every row: ``import aim``, creating the repo and the runs, and
AIM's first use of a run (one untimed warm-up per case in section 1) happen before the clock
starts; they are printed once, for reference.

``TRACELET_*``, ``AIM_*`` and rank env vars are removed from this process (and restored at the
end).

Timing targets are printed with PASS or FAIL but never change the exit status: they depend on
the machine. The exit status is 1 when a correctness check fails: a point missing, changed or
duplicated in a run read back from the repo, a series the run should not have, a Tracelet run
that did not deliver every point, or a run that was not closed (no end time; for Tracelet, no
``tracelet_status`` of ``finished``).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

from _util import clean_workdir, fmt_float, fmt_int, load_average, median, section, table

import tracelet
from tracelet.run import Run

# The repo reader lives with the tests (it is test support, not package code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

#: A series key as ``support.aim_reading`` gives it: AIM name and sorted context items.
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]

#: Metric names of the end-to-end runs, logged round-robin: the point i has the name
#: ``E2E_NAMES[i % 4]``, the step ``i // 4`` and the value ``i / 4`` (exact in binary).
E2E_NAMES = ("train/loss", "train/acc", "val/loss", "lr")
#: What the backend tracks each of them as: AIM name and context (the hand-written loop uses
#: these; both runs are checked against them).
E2E_TRACKS: tuple[tuple[str, dict[str, str]], ...] = (
    ("loss", {"subset": "train"}),
    ("acc", {"subset": "train"}),
    ("loss", {"subset": "val"}),
    ("lr", {}),
)
#: Target: Tracelet's end-to-end rate as a fraction of the hand-written loop's.
E2E_TARGET = 0.90
#: Env vars removed for the run (with the rank vars): settings of Tracelet and AIM.
_ENV_PREFIXES = ("TRACELET_", "AIM_")
#: The metric name of section 1 and what AIM tracks it as (each case logs to a run of its own).
CALL_NAME = "train/loss"
CALL_TRACK: tuple[str, dict[str, str]] = ("loss", {"subset": "train"})
#: The AIM experiment of every run (Tracelet's default: the project).
EXPERIMENT = "bench"


class AimRun(Protocol):
    """What the script uses of ``aim.Run`` (aim ships no type hints)."""

    @property
    def hash(self) -> str: ...

    def track(
        self, value: Any, name: str | None = ..., step: int | None = ..., *, context: Any = ...
    ) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    tracelet_calls: int  # calls per timed repeat of the Tracelet row, section 1
    aim_calls: int  # calls per timed repeat of aim_run.track
    repeats: int  # timed repeats per row of section 1
    points: int  # points per run in section 2 (a multiple of 4)
    rounds: int  # rounds of section 2 (one run of each case per round)

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(tracelet_calls=2_000, aim_calls=500, repeats=3, points=8_000, rounds=1)
        return cls(tracelet_calls=10_000, aim_calls=2_000, repeats=5, points=40_000, rounds=3)


def _reading() -> Any:
    """The module ``support.aim_reading`` (imported on first use; mypy does not see tests/)."""
    import support.aim_reading as reading  # type: ignore[import-not-found,unused-ignore]

    return reading


def _new_aim_run(repo: Path) -> AimRun:
    """A run made by hand as the backend makes its own: no system tracking, no terminal
    capture, no system params."""
    from aim.sdk.run import Run

    run: AimRun = Run(
        repo=str(repo),
        experiment=EXPERIMENT,
        system_tracking_interval=None,
        log_system_params=False,
        capture_terminal_logs=False,
    )
    return run


def _start_tracelet(name: str, repo: Path) -> Run:
    return tracelet.start_logging(name, EXPERIMENT, "aim", {"aim": {"repo_path": str(repo)}})


def _tracelet_hash(run: Run) -> str:
    """The AIM run hash of a Tracelet run, from its location ``aim up --repo <repo>  (run
    <hash>)``.

    Raises:
        RuntimeError: The run has no aim location.
    """
    location = run.locations().get("aim")
    if not location or not location.endswith(")"):
        raise RuntimeError(f"Tracelet run {run.name!r} has no aim location: {run.locations()}")
    return location.rstrip(")").split()[-1]


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_tracelet(log: Callable[[str, float, int], None], first: int, n: int) -> None:
    name = CALL_NAME
    for step in range(first, first + n):
        log(name, 0.5, step)


def _loop_aim(track: Callable[..., None], first: int, n: int) -> None:
    name, context = CALL_TRACK
    for step in range(first, first + n):
        track(0.5, name=name, step=step, context=context)


# -- section 1: caller cost ------------------------------------------------------------------


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    calls: int
    per_call: list[float]
    #: Loop start until everything was handed to AIM, per call; None: stored on return.
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
    exactly the points logged (AIM keeps one value per step). ``drain`` (which waits until
    everything was handed to AIM) is timed after each loop, for the *incl. delivery* figure.
    """
    warm = max(calls // 10, 1)
    body(0, warm)  # warm-up: AIM's first use of the series, the interpreter's specialisation
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


@dataclass
class ReadBack:
    """What a run holds, compared with what was logged."""

    missing: int
    unexpected: int  # another value, a step never logged, or a series never logged
    duplicated: int
    closed: str | None  # why the run does not count as closed; None: it does

    @property
    def points_ok(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated)


def _read_back(
    repo: Path, run_hash: str, expected: dict[SeriesKey, dict[int, float]], tracelet_run: bool
) -> ReadBack:
    """Read a run from the repo and compare its series with ``expected`` (step -> value per
    series)."""
    reading = _reading()
    stored = reading.read_run(str(repo), run_hash)
    series: dict[SeriesKey, list[tuple[int, float]]] = stored.metrics
    missing = unexpected = duplicated = 0
    for key, points in series.items():
        want = expected.get(key)
        if want is None:
            unexpected += len(points)
            continue
        steps = [step for step, _ in points]
        duplicated += len(steps) - len(set(steps))
        unexpected += sum(1 for step, value in points if want.get(step) != value)
    for key, want in expected.items():
        got = {step for step, _ in series.get(key, ())}
        missing += sum(1 for step in want if step not in got)
    closed = None
    if stored.raw.end_time is None:
        closed = "no end time (not closed)"
    elif tracelet_run and stored.raw.get("tracelet_status", None) != "finished":
        closed = f"tracelet_status {stored.raw.get('tracelet_status', None)!r}, not 'finished'"
    return ReadBack(missing, unexpected, duplicated, closed)


def _read_problems(label: str, got: ReadBack, n: int) -> list[str]:
    problems = []
    if not got.points_ok:
        problems.append(
            f"{label} read back: {n - got.missing:,} of {n:,} points, {got.missing:,} MISSING, "
            f"{got.unexpected:,} changed or unexpected, {got.duplicated:,} duplicated"
        )
    if got.closed is not None:
        problems.append(f"{label}: {got.closed}")
    return problems


def _call_points(logged: int) -> dict[SeriesKey, dict[int, float]]:
    name, context = CALL_TRACK
    return {(name, tuple(sorted(context.items()))): dict.fromkeys(range(logged), 0.5)}


def bench_calls(sizes: Sizes, repo: Path) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs aim_run.track"))
    problems: list[str] = []

    run = _start_tracelet("bench-calls", repo)
    settings = _settings_line(run)
    ours = _time_case(
        "tracelet: run.log_metric(name, value, step) -> aim",
        lambda first, k: _loop_tracelet(run.log_metric, first, k),
        calls=sizes.tracelet_calls,
        repeats=sizes.repeats,
        drain=run.flush,
    )
    problems += _check_delivered(run, ours.logged)
    tracelet_hash = _tracelet_hash(run)

    aim_run = _new_aim_run(repo)
    theirs = _time_case(
        'aim_run.track(value, name, step, context={"subset": "train"})',
        lambda first, k: _loop_aim(aim_run.track, first, k),
        calls=sizes.aim_calls,
        repeats=sizes.repeats,
    )
    aim_hash = str(aim_run.hash)
    aim_run.close()
    for case, run_hash, is_tracelet in ((ours, tracelet_hash, True), (theirs, aim_hash, False)):
        got = _read_back(repo, run_hash, _call_points(case.logged), is_tracelet)
        problems += _read_problems(case.label, got, case.logged)

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; AIM: {sizes.aim_calls:,} calls "
        f"per repeat; {sizes.repeats} timed repeats after a warm-up of a tenth; "
        "time.perf_counter_ns around the loop; gc enabled (collected before each repeat); every "
        "call has a step of its own."
    )
    print(f"Tracelet run settings (defaults): {settings}")
    print(
        "'incl. delivery' times until run.flush() returned: the backend's aim_run.track calls "
        "have stored every point, where an aim_run.track call* is when it returns."
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
    close: float  # then until run.stop() (Tracelet) or aim_run.close() returned
    run_hash: str  # the AIM run written

    @property
    def total(self) -> float:
        return self.loop + self.close


def _log_points(log: Callable[[str, float, int], None], n: int) -> None:
    names = E2E_NAMES
    for i in range(n):
        log(names[i & 3], i * 0.25, i >> 2)


def _track_points(track: Callable[..., None], n: int) -> None:
    tracks = E2E_TRACKS
    for i in range(n):
        name, context = tracks[i & 3]
        track(i * 0.25, name=name, step=i >> 2, context=context)


def _tracelet_e2e(repo: Path, n: int) -> tuple[E2eTiming, list[str]]:
    """Log ``n`` points with Tracelet and stop the run; the timing and the problems found."""
    run = _start_tracelet("bench-e2e", repo)
    gc.collect()
    t0 = time.perf_counter()
    _log_points(run.log_metric, n)
    t1 = time.perf_counter()
    stopped = run.stop()
    t2 = time.perf_counter()
    problems = (
        [] if stopped else [f"run.stop() reported that not everything was delivered: {run.stats()}"]
    )
    return E2eTiming(t1 - t0, t2 - t1, _tracelet_hash(run)), problems


def _baseline_e2e(repo: Path, n: int) -> E2eTiming:
    """Log ``n`` points by hand: one ``aim_run.track`` per point, then ``close``.

    This is what one would write with AIM alone for the same series: each point tracked as
    it comes, its context a dict made once per series.
    """
    aim_run = _new_aim_run(repo)
    gc.collect()
    t0 = time.perf_counter()
    _track_points(aim_run.track, n)
    t1 = time.perf_counter()
    aim_run.close()
    t2 = time.perf_counter()
    return E2eTiming(t1 - t0, t2 - t1, str(aim_run.hash))


def _e2e_points(n: int) -> dict[SeriesKey, dict[int, float]]:
    expected: dict[SeriesKey, dict[int, float]] = {}
    for k, (name, context) in enumerate(E2E_TRACKS):
        key = (name, tuple(sorted(context.items())))
        expected[key] = {i >> 2: i * 0.25 for i in range(k, n, len(E2E_TRACKS))}
    return expected


def bench_end_to_end(sizes: Sizes, repo: Path) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    print(section(f"2. End to end: {n:,} points into a local AIM repo"))
    problems: list[str] = []
    ours: list[E2eTiming] = []
    theirs: list[E2eTiming] = []
    for r in range(sizes.rounds):
        # Alternate the order: the repo grows with every run, which could favour the first.
        for case in ("baseline", "tracelet") if r % 2 == 0 else ("tracelet", "baseline"):
            if case == "tracelet":
                timing, found = _tracelet_e2e(repo, n)
                ours.append(timing)
                problems += found
            else:
                theirs.append(_baseline_e2e(repo, n))

    best, base = min(ours, key=lambda t: t.total), min(theirs, key=lambda t: t.total)
    rows = [
        [
            "tracelet: run.log_metric -> aim, then run.stop()",
            fmt_int(n),
            fmt_float(best.loop, 3),
            fmt_float(best.close, 3),
            fmt_float(best.total, 3),
            fmt_int(n / best.total),
            " / ".join(fmt_int(n / t.total) for t in ours),
            f"{base.total / best.total:.0%}",
        ],
        [
            "hand-written: aim_run.track per point, then close()",
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
        f"{len(E2E_NAMES)} metric names round-robin ({', '.join(E2E_NAMES)}), explicit steps "
        f"({n // len(E2E_NAMES):,} steps); {sizes.rounds} round(s), the order alternating; runs "
        "created before the clock starts; total = first call until run.stop() returned "
        "(hand-written: until aim_run.close() returned); best round shown."
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
    expected = _e2e_points(n)
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            got = _read_back(repo, timing.run_hash, expected, label == "tracelet")
            problems += _read_problems(f"{label} run {timing.run_hash}", got, n)
    if not any(p.startswith("tracelet run") for p in problems):
        print(
            f"read back through aim's Repo in {time.perf_counter() - r0:.2f}s: tracelet "
            f"{n:,} of {n:,} points, none missing (every series, step and value as logged, "
            "run closed with tracelet_status 'finished')"
        )
    if not any(p.startswith("hand-written run") for p in problems):
        print(f"hand-written: {n:,} of {n:,} points, every point as logged, run closed")
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
        f"Tracelet aim backend benchmarks ({'quick' if args.quick else 'full'}); Python "
        f"{sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{load_average()}"
    )

    problems: list[str] = []
    # The repo gets a folder of its own, removed at interpreter exit after AIM's own exit hook
    # (atexit runs hooks last-registered first; AIM registers its hook when it opens its first
    # RocksDB store, below): AIM closes its stores in that hook, flushing them to their files,
    # and when a flush fails (the folder already gone) that hook never returns.
    repo = Path(tempfile.mkdtemp(prefix="tracelet-bench-aim-repo-"))
    atexit.register(shutil.rmtree, repo, ignore_errors=True)
    with clean_workdir(_ENV_PREFIXES):
        t0 = time.perf_counter()
        import aim  # noqa: F401  (the import is what is timed)
        from aim.sdk.repo import Repo

        t1 = time.perf_counter()
        Repo.from_path(str(repo), init=True)
        t2 = time.perf_counter()
        first = _new_aim_run(repo)
        t3 = time.perf_counter()
        first.close()
        t4 = time.perf_counter()
        _new_aim_run(repo).close()
        t5 = time.perf_counter()
        print(
            f"aim {version('aim')}; repo {repo}; fixed costs, outside every "
            f"timing: import aim {t1 - t0:.2f}s, new repo {t2 - t1:.2f}s, first aim.Run "
            f"{t3 - t2:.2f}s + close {t4 - t3:.2f}s, a later aim.Run + close {t5 - t4:.2f}s"
        )
        if "calls" in only:
            problems += bench_calls(sizes, repo)
        if "e2e" in only:
            problems += bench_end_to_end(sizes, repo)

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
