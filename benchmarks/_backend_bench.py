"""What the backend benchmarks (``bench_mlflow.py``, ``bench_wandb.py``, ``bench_clearml.py``,
``bench_aim.py``) share: the timing of section 1 (caller cost), the rounds of section 2 (end
to end), their tables, the read-back bookkeeping and the command line.

Each script keeps what is specific to its backend: how it creates a native run, the native
call it times, the hand-written end-to-end loop, how it reads a run back, and its labels. The
scripts import this module as ``_backend_bench`` (Python puts the script's own folder first on
``sys.path``); it imports no backend library.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from _util import fmt_float, fmt_int, header, median, table

from tracelet.run import Run

#: The metric name of section 1 (Tracelet's rows; each script maps it to its native call).
CALL_NAME = "train/loss"
#: Target: Tracelet's end-to-end rate as a fraction of the hand-written loop's.
E2E_TARGET = 0.90

#: What identifies a run written in section 2 (an MLflow run id, a folder, an AIM hash...).
R = TypeVar("R")
#: A series key of a run read back (a metric name, a (title, series) pair, ...).
K = TypeVar("K")
#: One point read back: (step, value).
Point = tuple[float, float]


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    tracelet_calls: int  # calls per timed repeat of the Tracelet row, section 1
    native_calls: Mapping[str, int]  # calls per timed repeat of each native row, by its key
    repeats: int  # timed repeats per row of section 1
    points: int  # points per run in section 2 (a multiple of 4)
    rounds: int  # rounds of section 2 (one run of each case per round)


# -- command line ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The parsed command line."""

    quick: bool
    only: frozenset[str]  # the sections to run: "calls", "e2e"

    def sizes(self, quick: Sizes, full: Sizes) -> Sizes:
        """``quick`` with ``--quick``, else ``full``."""
        return quick if self.quick else full


def parse_options(argv: Sequence[str] | None, doc: str | None, backend: str) -> Options:
    """Parse ``--quick`` and ``--only calls|e2e`` and print the heading line of the run.

    Raises:
        SystemExit: The command line is invalid, or ``--help`` was given.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=("calls", "e2e"),
        help="run only this section (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    header(f"{backend} backend", args.quick)
    return Options(bool(args.quick), frozenset(args.only or ("calls", "e2e")))


def run_sections(
    options: Options, calls: Callable[[], list[str]], e2e: Callable[[], list[str]]
) -> list[str]:
    """Run the sections ``--only`` selected (all by default); their problems, in order."""
    problems: list[str] = []
    if "calls" in options.only:
        problems += calls()
    if "e2e" in options.only:
        problems += e2e()
    return problems


@contextmanager
def exit_hooks_kept() -> Iterator[None]:
    """Put ``sys.exit`` and ``sys.excepthook`` back afterwards: wandb and ClearML replace them
    when a run starts and never restore them."""
    hooks = sys.exit, sys.excepthook
    try:
        yield
    finally:
        sys.exit, sys.excepthook = hooks


# -- section 1: caller cost ------------------------------------------------------------------


def loop_tracelet(log: Callable[[str, float, int], None], first: int, n: int) -> None:
    """``log(CALL_NAME, 0.5, step)`` for the steps ``first .. first + n - 1``.

    A module-level function, like the scripts' native loops, so every case pays the same
    loop overhead.
    """
    name = CALL_NAME
    for step in range(first, first + n):
        log(name, 0.5, step)


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    calls: int
    per_call: list[float]
    #: Loop start until the drain returned, per call; None: no drain (see ``call_table``).
    delivered: list[float] | None
    #: Points logged in all, warm-up included.
    logged: int


def time_case(
    label: str,
    body: Callable[[int, int], None],
    *,
    calls: int,
    repeats: int,
    drain: Callable[[], object] | None = None,
    collect: bool = True,
) -> CallCase:
    """Time ``body(first_step, calls)`` ``repeats`` times after one untimed warm-up.

    Every call gets a step of its own (``first_step`` grows), so the run read back holds
    exactly the points logged. ``drain`` (which waits until everything was delivered) is timed
    after each loop, for the *incl. delivery* figure. With ``collect``, the garbage collector
    runs before each repeat (it stays enabled during the loop).
    """
    warm = max(calls // 10, 1)
    body(0, warm)  # warm-up: the backend's first use of the run, the interpreter's specialisation
    if drain is not None:
        drain()
    first = warm
    per_call: list[float] = []
    delivered: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
        if collect:
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


def time_tracelet(run: Run, backend: str, sizes: Sizes, *, collect: bool = True) -> CallCase:
    """Section 1's Tracelet row: ``run.log_metric`` in the timed loop, drained by
    ``run.flush`` (``collect``: as for :func:`time_case`)."""
    return time_case(
        f"tracelet: run.log_metric(name, value, step) -> {backend}",
        lambda first, k: loop_tracelet(run.log_metric, first, k),
        calls=sizes.tracelet_calls,
        repeats=sizes.repeats,
        drain=run.flush,
        collect=collect,
    )


def settings_line(run: Run) -> str:
    """The run's dispatch settings, for the line that prints them."""
    if run.settings is None:
        return "?"
    s = run.settings.model
    return (
        f"batch_size={s.batch_size}, flush_interval={s.flush_interval}s, "
        f"max_queue_size={s.max_queue_size:,}, overflow_policy={s.overflow_policy}"
    )


def _us(ns: float) -> str:
    return fmt_float(ns / 1000, 2)


def print_call_table(cases: Sequence[CallCase], *, undrained: str = "on return") -> None:
    """Print the table of section 1; the first case is Tracelet's (the ratios' reference).

    A case without a drain gets a ``*`` after its label. ``undrained`` says what its *incl.
    delivery* columns show: ``"on return"`` (it delivered when its call returned: its own
    time) or ``"n/a"`` (not timed).
    """
    tracelet_median = median(cases[0].per_call)
    rows = []
    for case in cases:
        per_call = median(case.per_call)
        if case.delivered is not None or undrained == "on return":
            delivered = per_call if case.delivered is None else median(case.delivered)
            delivered_us, delivered_rate = _us(delivered), fmt_int(1e9 / delivered)
        else:
            delivered_us = delivered_rate = "n/a"
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


def print_call_problems(problems: Sequence[str]) -> None:
    """Print the problems of section 1, or that every point was stored."""
    if problems:
        for problem in problems:
            print(f"ERROR: {problem}")
    else:
        print("delivery check: every point of every row is stored (none missing)")


# -- section 2: end to end -------------------------------------------------------------------


@dataclass
class E2eTiming(Generic[R]):
    """One timed run of section 2, in seconds."""

    loop: float  # first call until the last call returned
    close: float  # then until the run was stopped (Tracelet) or closed (hand-written)
    run: R  # what identifies the run written, to read it back

    @property
    def total(self) -> float:
        return self.loop + self.close


def log_points(log: Callable[[str, float, int], None], names: Sequence[str], n: int) -> None:
    """Tracelet's loop of section 2: ``n`` points, ``names`` round-robin, an explicit step per
    round; point i goes to ``names[i % k]`` at step ``i // k`` with the value ``i / k`` (k names;
    see ``e2e_points``)."""
    pairs = tuple((name, j / len(names)) for j, name in enumerate(names))
    for step in range(n // len(names)):
        for name, offset in pairs:
            log(name, step + offset, step)


def time_e2e(log: Callable[[], object], close: Callable[[], R]) -> tuple[float, float, R]:
    """Collect garbage, then time ``log()`` and ``close()``; (loop s, close s, what close
    returned)."""
    gc.collect()
    t0 = time.perf_counter()
    log()
    t1 = time.perf_counter()
    closed = close()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, closed


def tracelet_e2e(
    run: Run, log: Callable[[Run], object], where: Callable[[Run], R]
) -> tuple[E2eTiming[R], list[str]]:
    """Time ``log(run)`` and ``run.stop()``; the timing (its run found by ``where(run)``) and
    the problems found."""
    loop, close, stopped = time_e2e(lambda: log(run), run.stop)
    problems = (
        [] if stopped else [f"run.stop() reported that not everything was delivered: {run.stats()}"]
    )
    return E2eTiming(loop, close, where(run)), problems


def run_rounds(
    rounds: int,
    tracelet: Callable[[], tuple[E2eTiming[R], list[str]]],
    baseline: Callable[[], E2eTiming[R]],
) -> tuple[list[E2eTiming[R]], list[E2eTiming[R]], list[str]]:
    """Run ``rounds`` rounds of both cases; (Tracelet's timings, the hand-written loop's, the
    problems Tracelet's runs reported).

    The order alternates (hand-written first in even rounds): the store grows with every run
    and the process ages, which could favour whichever always ran first.
    """
    ours: list[E2eTiming[R]] = []
    theirs: list[E2eTiming[R]] = []
    problems: list[str] = []
    for r in range(rounds):
        for case in ("baseline", "tracelet") if r % 2 == 0 else ("tracelet", "baseline"):
            if case == "tracelet":
                timing, found = tracelet()
                ours.append(timing)
                problems += found
            else:
                theirs.append(baseline())
    return ours, theirs, problems


def best_round(timings: Sequence[E2eTiming[R]]) -> E2eTiming[R]:
    """The round with the smallest total.

    Raises:
        ValueError: ``timings`` is empty.
    """
    return min(timings, key=lambda t: t.total)


def median_round(timings: Sequence[E2eTiming[R]]) -> E2eTiming[R]:
    """The round with the median total (of an even number, the faster of the middle two).

    Raises:
        IndexError: ``timings`` is empty.
    """
    return sorted(timings, key=lambda t: t.total)[(len(timings) - 1) // 2]


def print_e2e_table(
    n: int,
    ours: Sequence[E2eTiming[R]],
    theirs: Sequence[E2eTiming[R]],
    *,
    labels: tuple[str, str],
    note: str,
    pick: Callable[[Sequence[E2eTiming[R]]], E2eTiming[R]] = best_round,
) -> None:
    """Print ``note``, the table of section 2 (the round of each case chosen by ``pick``) and
    the verdict on ``E2E_TARGET``. ``labels``: Tracelet's row, the hand-written row."""
    mine, hand = pick(ours), pick(theirs)
    rows = [
        [
            label,
            fmt_int(n),
            fmt_float(t.loop, 3),
            fmt_float(t.close, 3),
            fmt_float(t.total, 3),
            fmt_int(n / t.total),
            " / ".join(fmt_int(n / r.total) for r in rounds),
            ratio,
        ]
        for label, t, rounds, ratio in (
            (labels[0], mine, ours, f"{hand.total / mine.total:.0%}"),
            (labels[1], hand, theirs, "100%"),
        )
    ]
    print(note)
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


# -- reading runs back -----------------------------------------------------------------------


@dataclass
class ReadBack:
    """What a run holds, compared with what was logged."""

    missing: int
    unexpected: int  # another value, a step never logged, or a series never logged
    duplicated: int
    #: Other problems of the run (its status, its exit code...), each a short phrase.
    issues: list[str] = field(default_factory=list)


def compare_points(
    expected: Mapping[K, Collection[Point]], got: Mapping[K, Sequence[Point]]
) -> ReadBack:
    """Compare the points read back, per series, with the points logged.

    A point logged twice counts as duplicated; a point of a series never logged, or with a
    step or value never logged, as unexpected; a logged point not read back as missing.
    """
    missing = unexpected = duplicated = 0
    for key, points in got.items():
        want = expected.get(key)
        if want is None:
            unexpected += len(points)
            continue
        counts = Counter(points)
        duplicated += sum(count - 1 for count in counts.values())
        unexpected += sum(1 for point in counts if point not in want)
    for key, want in expected.items():
        have = set(got.get(key, ()))
        missing += sum(1 for point in want if point not in have)
    return ReadBack(missing, unexpected, duplicated)


def read_back_problems(where: str, got: ReadBack, n: int) -> list[str]:
    """The problems of a run read back (``where`` names it), which should hold ``n`` points."""
    problems = []
    if got.missing or got.unexpected or got.duplicated:
        problems.append(
            f"{where} read back: {n - got.missing:,} of {n:,} points, {got.missing:,} MISSING, "
            f"{got.unexpected:,} changed or unexpected, {got.duplicated:,} duplicated"
        )
    problems += [f"{where}: {issue}" for issue in got.issues]
    return problems


def report_read_back(
    problems: list[str], tracelet: str, hand_written: str | None = None
) -> list[str]:
    """Print the read-back verdict: ``tracelet`` when no problem is about a Tracelet run (those
    start with ``"tracelet run"``), ``hand_written`` when none is about a hand-written run (if
    given), then every problem as an ERROR line. Returns ``problems``."""
    if not any(p.startswith("tracelet run") for p in problems):
        print(tracelet)
    if hand_written is not None and not any(p.startswith("hand-written run") for p in problems):
        print(hand_written)
    for problem in problems:
        print(f"ERROR: {problem}")
    return problems


def e2e_points(names: Sequence[K], n: int) -> dict[K, set[Point]]:
    """The points of section 2 per series, as both cases log them: point i goes to
    ``names[i % 4]`` at step ``i // 4`` with the value ``i / 4`` (exact in binary)."""
    k = len(names)
    return {name: {(i // k, i / k) for i in range(j, n, k)} for j, name in enumerate(names)}


def call_points(key: K, logged: int) -> dict[K, set[Point]]:
    """The points of a section-1 run: ``logged`` points of value 0.5 at steps 0, 1, ..."""
    return {key: {(step, 0.5) for step in range(logged)}}
