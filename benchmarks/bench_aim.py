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

import atexit
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import _backend_bench as common
from _util import COLLECTORS_OFF, check_delivered, clean_workdir, section, summary

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
#: Env vars removed for the run (with the rank vars): settings of Tracelet and AIM.
_ENV_PREFIXES = ("TRACELET_", "AIM_")
#: What AIM tracks section 1's metric name as (each case logs to a run of its own).
CALL_TRACK: tuple[str, dict[str, str]] = ("loss", {"subset": "train"})
#: The AIM experiment of every run (Tracelet's default: the project).
EXPERIMENT = "bench"

#: The native row of section 1: "track" (aim_run.track).
QUICK = common.Sizes(2_000, {"track": 500}, repeats=3, points=8_000, rounds=1)
FULL = common.Sizes(10_000, {"track": 2_000}, repeats=5, points=40_000, rounds=3)


class AimRun(Protocol):
    """What the script uses of ``aim.Run`` (aim ships no type hints)."""

    @property
    def hash(self) -> str: ...

    def track(
        self, value: Any, name: str | None = ..., step: int | None = ..., *, context: Any = ...
    ) -> None: ...

    def close(self) -> None: ...


def _series_key(track: tuple[str, dict[str, str]]) -> SeriesKey:
    name, context = track
    return name, tuple(sorted(context.items()))


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
    return tracelet.start_logging(
        name, EXPERIMENT, "aim", {"aim": {"repo_path": str(repo)}, **COLLECTORS_OFF}
    )


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


def _read_back(
    repo: Path, run_hash: str, expected: dict[SeriesKey, set[tuple[float, float]]], ours: bool
) -> common.ReadBack:
    """Read a run from the repo and compare its series with ``expected``; a run without an end
    time (or, with ``ours``, without ``tracelet_status`` ``finished``) is an issue."""
    stored = _reading().read_run(str(repo), run_hash)
    series: dict[SeriesKey, list[tuple[int, float]]] = stored.metrics
    result = common.compare_points(expected, series)
    if stored.raw.end_time is None:
        result.issues.append("no end time (not closed)")
    elif ours and stored.raw.get("tracelet_status", None) != "finished":
        status = stored.raw.get("tracelet_status", None)
        result.issues.append(f"tracelet_status {status!r}, not 'finished'")
    return result


# -- section 1: caller cost ------------------------------------------------------------------


def _loop_aim(track: Callable[..., None], first: int, n: int) -> None:
    """The native timed loop (module-level, like Tracelet's, for the same loop overhead)."""
    name, context = CALL_TRACK
    for step in range(first, first + n):
        track(0.5, name=name, step=step, context=context)


def bench_calls(sizes: common.Sizes, repo: Path) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs aim_run.track"))
    problems: list[str] = []

    run = _start_tracelet("bench-calls", repo)
    settings = common.settings_line(run)
    ours = common.time_tracelet(run, "aim", sizes)
    problems += check_delivered(run, ours.logged)
    tracelet_hash = _tracelet_hash(run)

    aim_run = _new_aim_run(repo)
    theirs = common.time_case(
        'aim_run.track(value, name, step, context={"subset": "train"})',
        lambda first, k: _loop_aim(aim_run.track, first, k),
        calls=sizes.native_calls["track"],
        repeats=sizes.repeats,
    )
    aim_hash = str(aim_run.hash)
    aim_run.close()
    for case, run_hash, is_tracelet in ((ours, tracelet_hash, True), (theirs, aim_hash, False)):
        expected = common.call_points(_series_key(CALL_TRACK), case.logged)
        got = _read_back(repo, run_hash, expected, is_tracelet)
        problems += common.read_back_problems(case.label, got, case.logged)

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; AIM: "
        f"{sizes.native_calls['track']:,} calls per repeat; {sizes.repeats} timed repeats after "
        "a warm-up of a tenth; time.perf_counter_ns around the loop; gc enabled (collected "
        "before each repeat); every call has a step of its own."
    )
    print(f"Tracelet run settings (defaults): {settings}")
    print(
        "'incl. delivery' times until run.flush() returned: the backend's aim_run.track calls "
        "have stored every point, where an aim_run.track call* is when it returns."
    )
    common.print_call_table([ours, theirs])
    common.print_call_problems(problems)
    return problems


# -- section 2: end to end -------------------------------------------------------------------


def _track_points(track: Callable[..., None], n: int) -> None:
    tracks = E2E_TRACKS
    for i in range(n):
        name, context = tracks[i & 3]
        track(i * 0.25, name=name, step=i >> 2, context=context)


def _baseline_e2e(repo: Path, n: int) -> common.E2eTiming[str]:
    """Log ``n`` points by hand: one ``aim_run.track`` per point, then ``close``.

    This is what one would write with AIM alone for the same series: each point tracked as
    it comes, its context a dict made once per series.
    """
    aim_run = _new_aim_run(repo)
    loop, close, _ = common.time_e2e(lambda: _track_points(aim_run.track, n), aim_run.close)
    return common.E2eTiming(loop, close, str(aim_run.hash))


def bench_end_to_end(sizes: common.Sizes, repo: Path) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    print(section(f"2. End to end: {n:,} points into a local AIM repo"))
    ours, theirs, problems = common.run_rounds(
        sizes.rounds,
        lambda: common.tracelet_e2e(
            _start_tracelet("bench-e2e", repo),
            lambda run: common.log_points(run.log_metric, E2E_NAMES, n),
            _tracelet_hash,
        ),
        lambda: _baseline_e2e(repo, n),
    )
    common.print_e2e_table(
        n,
        ours,
        theirs,
        labels=(
            "tracelet: run.log_metric -> aim, then run.stop()",
            "hand-written: aim_run.track per point, then close()",
        ),
        note=(
            f"{len(E2E_NAMES)} metric names round-robin ({', '.join(E2E_NAMES)}), explicit "
            f"steps ({n // len(E2E_NAMES):,} steps); {sizes.rounds} round(s), the order "
            "alternating; runs created before the clock starts; total = first call until "
            "run.stop() returned (hand-written: until aim_run.close() returned); best round "
            "shown."
        ),
    )

    r0 = time.perf_counter()
    expected = common.e2e_points([_series_key(track) for track in E2E_TRACKS], n)
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            got = _read_back(repo, timing.run, expected, label == "tracelet")
            problems += common.read_back_problems(f"{label} run {timing.run}", got, n)
    return common.report_read_back(
        problems,
        f"read back through aim's Repo in {time.perf_counter() - r0:.2f}s: tracelet "
        f"{n:,} of {n:,} points, none missing (every series, step and value as logged, "
        "run closed with tracelet_status 'finished')",
        f"hand-written: {n:,} of {n:,} points, every point as logged, run closed",
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    options = common.parse_options(argv, __doc__, "aim")
    sizes = options.sizes(QUICK, FULL)
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
        problems = common.run_sections(
            options,
            lambda: bench_calls(sizes, repo),
            lambda: bench_end_to_end(sizes, repo),
        )
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
