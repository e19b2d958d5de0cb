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

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _backend_bench as common
from _util import COLLECTORS_OFF, check_delivered, clean_workdir, fmt_int, section, summary

import tracelet
from tracelet.run import Run

# The reader of offline runs lives with the tests (it is test support, not package code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# mypy does not see tests/ (it is not on mypy_path): the support names are typed Any here.
# support.wandb_reading imports wandb, so it is imported only once the W&B env vars are set.
from support.wandb_env import wandb_test_env  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run as WandbRun

#: Metric names of the end-to-end runs, logged round-robin: the point of name k at step s has
#: the value s + k/4 (exact in binary floating point).
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
#: The step column of the hand-written rows (W&B's own ``_step`` just counts rows).
BASELINE_STEP = "step"
#: The step column of Tracelet's rows.
TRACELET_STEP = "tracelet/step"
#: Env vars removed for the run (with the rank vars): settings of Tracelet and W&B.
_ENV_PREFIXES = ("TRACELET_", "WANDB_")
#: Tracelet's config for the wandb backend in every case.
TRACELET_CONFIG: dict[str, Any] = {"wandb": {"mode": "offline"}, **COLLECTORS_OFF}

#: The native row of section 1: "log" (wandb_run.log).
QUICK = common.Sizes(5_000, {"log": 500}, repeats=3, points=8_000, rounds=1)
FULL = common.Sizes(10_000, {"log": 2_000}, repeats=5, points=40_000, rounds=3)


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


# -- section 1: caller cost ------------------------------------------------------------------


def _loop_wandb(log: Callable[[dict[str, Any]], None], first: int, n: int) -> None:
    """The native timed loop (module-level, like Tracelet's, for the same loop overhead)."""
    name = common.CALL_NAME
    for _ in range(first, first + n):
        log({name: 0.5})


def _check_call_points(label: str, run_dir: Path, step_key: str | None, logged: int) -> list[str]:
    """Read a section-1 run back: ``logged`` points of ``CALL_NAME``, value 0.5, exit code 0;
    with ``step_key``, at steps 0 .. logged-1."""
    run = _reading().read_finished_run(run_dir)
    problems = []
    if step_key is None:
        values = [row[common.CALL_NAME] for row in run.history if common.CALL_NAME in row]
        if len(values) != logged or any(v != 0.5 for v in values):
            problems.append(f"{label}: {len(values):,} of {logged:,} points stored as logged")
    else:
        points = _reading().metric_points(run, common.CALL_NAME, step_key)
        got = common.compare_points(
            common.call_points(common.CALL_NAME, logged), {common.CALL_NAME: points}
        )
        problems += common.read_back_problems(label, got, logged)
    if run.exit_code != 0:
        problems.append(f"{label}: exit code {run.exit_code}, expected 0")
    return problems


def bench_calls(sizes: common.Sizes, workdir: Path) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of one logged point: Tracelet vs wandb_run.log"))
    problems: list[str] = []

    run = _start_tracelet("bench-calls")
    settings = common.settings_line(run)
    ours = common.time_tracelet(run, "wandb", sizes)
    problems += check_delivered(run, ours.logged)
    tracelet_dir = _tracelet_run_dir(run)

    wandb_run = _new_wandb_run("bench-calls-wandb")
    theirs = common.time_case(
        "wandb_run.log({name: value})",
        lambda first, k: _loop_wandb(wandb_run.log, first, k),
        calls=sizes.native_calls["log"],
        repeats=sizes.repeats,
    )
    wandb_run.finish()
    problems += _check_call_points(ours.label, tracelet_dir, TRACELET_STEP, ours.logged)
    problems += _check_call_points(
        theirs.label, _reading().find_run_dir(workdir, wandb_run.id), None, theirs.logged
    )

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; W&B: "
        f"{sizes.native_calls['log']:,} calls per repeat; {sizes.repeats} timed repeats after a "
        "warm-up of a tenth; time.perf_counter_ns around the loop; gc enabled (collected before "
        "each repeat); every Tracelet call has a step of its own (one W&B history row per "
        "point, like the W&B row)."
    )
    print(f"Tracelet run settings (defaults): {settings}; wandb mode offline")
    print(
        "'incl. delivery' times until run.flush() returned: the backend's run.log calls have "
        "handed every row to wandb-core, where a wandb_run.log call* is when it returns."
    )
    common.print_call_table([ours, theirs])
    common.print_call_problems(problems)
    return problems


# -- section 2: end to end -------------------------------------------------------------------


def _log_rows(log: Callable[[dict[str, Any]], None], steps: int) -> None:
    pairs = tuple((name, k / len(E2E_NAMES)) for k, name in enumerate(E2E_NAMES))
    for step in range(steps):
        row: dict[str, Any] = {name: step + offset for name, offset in pairs}
        row[BASELINE_STEP] = step
        log(row)


def _baseline_e2e(workdir: Path, n: int) -> common.E2eTiming[Path]:
    """Log ``n`` points by hand: one ``wandb_run.log`` of a dict per step, then ``finish``.

    This is what one would write with W&B alone: the step's values in one dict, with the step
    as a column of its own.
    """
    wandb_run = _new_wandb_run("bench-hand-written")
    loop, close, _ = common.time_e2e(
        lambda: _log_rows(wandb_run.log, n // len(E2E_NAMES)), wandb_run.finish
    )
    return common.E2eTiming(loop, close, _reading().find_run_dir(workdir, wandb_run.id))


def _read_back(run_dir: Path, step_key: str, n: int) -> tuple[common.ReadBack, int]:
    """Read a section-2 run from its ``.wandb`` log and compare it with the points logged;
    the comparison (an exit code other than 0 is an issue) and the number of history rows."""
    run = _reading().read_finished_run(run_dir)
    got = {name: _reading().metric_points(run, name, step_key) for name in E2E_NAMES}
    result = common.compare_points(common.e2e_points(E2E_NAMES, n), got)
    names = {key for row in run.history for key in row if not key.startswith("_")}
    result.unexpected += len(names - {*E2E_NAMES, step_key})
    if run.exit_code != 0:
        result.issues.append(f"exit code {run.exit_code}, expected 0")
    return result, len(run.history)


def bench_end_to_end(sizes: common.Sizes, workdir: Path) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    steps = n // len(E2E_NAMES)
    print(section(f"2. End to end: {n:,} points into offline W&B runs"))
    ours, theirs, problems = common.run_rounds(
        sizes.rounds,
        lambda: common.tracelet_e2e(
            _start_tracelet("bench-e2e"),
            lambda run: common.log_points(run.log_metric, E2E_NAMES, n),
            _tracelet_run_dir,
        ),
        lambda: _baseline_e2e(workdir, n),
    )
    common.print_e2e_table(
        n,
        ours,
        theirs,
        labels=(
            "tracelet: run.log_metric -> wandb, then run.stop()",
            "hand-written: wandb_run.log(dict) per step, then finish()",
        ),
        note=(
            f"{len(E2E_NAMES)} metric names round-robin, explicit steps ({steps:,} steps); "
            f"{sizes.rounds} round(s), the order alternating; runs created before the clock "
            "starts; total = first call until run.stop() returned (hand-written: until "
            "wandb_run.finish() returned); best round shown."
        ),
    )

    r0 = time.perf_counter()
    tracelet_rows: list[int] = []
    for label, timings, step_key in (
        ("tracelet", ours, TRACELET_STEP),
        ("hand-written", theirs, BASELINE_STEP),
    ):
        for timing in timings:
            got, rows = _read_back(timing.run, step_key, n)
            if label == "tracelet":
                tracelet_rows.append(rows)
            elif rows != steps:
                got.issues.append(f"{rows:,} history rows, expected {steps:,}")
            problems += common.read_back_problems(f"{label} run {timing.run.name}", got, n)
    return common.report_read_back(
        problems,
        f"read back from the .wandb logs in {time.perf_counter() - r0:.2f}s: tracelet "
        f"{n:,} of {n:,} points, none missing (every name, step and value as logged, "
        f"exit code 0; history rows: {' / '.join(fmt_int(c) for c in tracelet_rows)} "
        f"for {steps:,} steps)",
        f"hand-written: {steps:,} history rows of {steps:,} steps, every point as logged",
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    options = common.parse_options(argv, __doc__, "wandb")
    sizes = options.sizes(QUICK, FULL)
    with (
        common.exit_hooks_kept(),  # wandb's service connection replaces them for good
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
            problems = common.run_sections(
                options,
                lambda: bench_calls(sizes, workdir),
                lambda: bench_end_to_end(sizes, workdir),
            )
        finally:
            wandb.teardown()  # stops wandb-core before its folders are deleted
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
