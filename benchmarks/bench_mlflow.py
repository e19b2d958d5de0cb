"""Benchmarks of Tracelet's ``mlflow`` backend against MLflow's own API, on one sqlite store.

Run ``python benchmarks/bench_mlflow.py`` (a few minutes) or ``--quick`` (well under a minute,
used by the tests). Every case writes to the same fresh store, ``sqlite:///<tmp>/mlflow.db``,
created by the script in a temporary folder (also the working directory). Two sections:

1. **Caller cost**: microseconds the training loop spends per call in
   ``run.log_metric(name, value, step)`` of a Tracelet run with ``backend="mlflow"``, next to
   MLflow's fluent ``mlflow.log_metric(name, value, step=step)`` inside ``mlflow.start_run()``,
   synchronous (the default) and with ``synchronous=False``. MLflow's synchronous call writes
   to the store before it returns (milliseconds), so its rows make far fewer calls than
   Tracelet's. *incl. delivery* adds the wait until everything is stored: ``run.flush()`` for
   Tracelet, ``mlflow.flush_async_logging()`` for the asynchronous calls; a synchronous call is
   delivered when it returns.
2. **End to end**: points per second from the first call until everything is stored and the
   run ended: Tracelet (``run.log_metric`` round-robin over 4 names with explicit steps, then
   ``run.stop()``) against a hand-written loop on ``MlflowClient`` that builds
   ``mlflow.entities.Metric`` objects and calls ``log_batch`` with 1000 of them at a time, then
   ``set_terminated``. Both runs are created before the clock starts. The rounds alternate which
   case goes first (the store grows as they write); the best round of each case is compared.
   Both runs are read back with ``MlflowClient.get_metric_history``.

Fixed costs are kept out of every row: ``import mlflow``, creating the store, creating the runs
and MLflow's first use of a run (one untimed warm-up per case in section 1) happen before the
clock starts; they are printed once, for reference.

``TRACELET_*``, ``MLFLOW_*`` and rank env vars are removed from this process (and restored at
the end); ``MLFLOW_DISABLE_TELEMETRY=true`` is set.

Timing targets are printed with PASS or FAIL but never change the exit status: they depend on
the machine. The exit status is 1 when a correctness check fails: a point missing, changed or
duplicated in a run read back from MLflow, a Tracelet run that did not deliver every point or
did not end as FINISHED.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from _util import clean_workdir, fmt_float, fmt_int, load_average, median, section, table

import tracelet
from tracelet.run import Run

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: Metric names of the end-to-end runs, logged round-robin.
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
#: Metrics per ``log_batch`` call in the hand-written baseline (MLflow's maximum).
BASELINE_BATCH = 1000
#: Target: Tracelet's end-to-end rate as a fraction of the hand-written loop's.
E2E_TARGET = 0.90
#: Env vars removed for the run (with the rank vars): settings of Tracelet and MLflow.
_ENV_PREFIXES = ("TRACELET_", "MLFLOW_")
#: Set for the run: no usage reports from MLflow.
_MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: The metric name of section 1, and the fluent rows' keys (one MLflow run holds both).
CALL_NAME = "train/loss"
SYNC_KEY = "sync/loss"
ASYNC_KEY = "async/loss"


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    tracelet_calls: int  # calls per timed repeat of the Tracelet row, section 1
    sync_calls: int  # calls per timed repeat of mlflow.log_metric (synchronous)
    async_calls: int  # calls per timed repeat of mlflow.log_metric(synchronous=False)
    repeats: int  # timed repeats per row of section 1
    points: int  # points per run in section 2
    rounds: int  # rounds of section 2 (one run of each case per round)

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                tracelet_calls=10_000,
                sync_calls=50,
                async_calls=200,
                repeats=3,
                points=20_000,
                rounds=1,
            )
        return cls(
            tracelet_calls=100_000,
            sync_calls=200,
            async_calls=1000,
            repeats=5,
            points=100_000,
            rounds=2,
        )


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_tracelet(log: Callable[[str, float, int], None], first: int, n: int) -> None:
    name = CALL_NAME
    for step in range(first, first + n):
        log(name, 0.5, step)


def _loop_fluent(log: Callable[..., Any], first: int, n: int) -> None:
    key = SYNC_KEY
    for step in range(first, first + n):
        log(key, 0.5, step=step)


def _loop_fluent_async(log: Callable[..., Any], first: int, n: int) -> None:
    key = ASYNC_KEY
    for step in range(first, first + n):
        log(key, 0.5, step=step, synchronous=False)


# -- section 1: caller cost ------------------------------------------------------------------


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    calls: int
    per_call: list[float]
    #: Loop start until everything was stored, per call; None: delivered on return.
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

    Every call gets a step of its own (``first_step`` grows), so no point repeats another and
    the run read back holds exactly the points logged. ``drain`` (which waits until everything
    is stored) is timed after each loop, for the *incl. delivery* figure.
    """
    warm = max(calls // 10, 1)
    body(0, warm)  # warm-up: MLflow's first use of the run, the interpreter's specialisation
    if drain is not None:
        drain()
    first = warm
    per_call: list[float] = []
    delivered: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
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


def bench_calls(sizes: Sizes, uri: str) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    import mlflow
    from mlflow import MlflowClient

    print(section("1. Caller cost of log_metric: Tracelet vs MLflow's fluent API"))
    problems: list[str] = []

    run = tracelet.start_logging(
        "bench-calls", "bench", "mlflow", {"mlflow": {"tracking_uri": uri}}
    )
    settings = _settings_line(run)
    cases = [
        _time_case(
            "tracelet: run.log_metric(name, value, step) -> mlflow",
            lambda first, k: _loop_tracelet(run.log_metric, first, k),
            calls=sizes.tracelet_calls,
            repeats=sizes.repeats,
            drain=run.flush,
        )
    ]
    problems += _check_delivered(run, cases[0].logged)

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-fluent")
    with mlflow.start_run(run_name="bench-fluent") as active:
        fluent_id = active.info.run_id
        cases.append(
            _time_case(
                "mlflow.log_metric(name, value, step=step)",
                lambda first, k: _loop_fluent(mlflow.log_metric, first, k),
                calls=sizes.sync_calls,
                repeats=sizes.repeats,
            )
        )
        cases.append(
            _time_case(
                "mlflow.log_metric(..., synchronous=False)",
                lambda first, k: _loop_fluent_async(mlflow.log_metric, first, k),
                calls=sizes.async_calls,
                repeats=sizes.repeats,
                drain=mlflow.flush_async_logging,
            )
        )
    client = MlflowClient(uri)
    for case, key in zip(cases[1:], (SYNC_KEY, ASYNC_KEY), strict=True):
        stored = len(client.get_metric_history(fluent_id, key))
        if stored != case.logged:
            problems.append(f"{case.label}: {stored:,} of {case.logged:,} points stored")

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; MLflow: "
        f"{sizes.sync_calls:,} synchronous, {sizes.async_calls:,} asynchronous calls per repeat; "
        f"{sizes.repeats} timed repeats after a warm-up of a tenth; time.perf_counter_ns around "
        "the loop; gc enabled; every call has a step of its own."
    )
    print(f"Tracelet run settings (defaults): {settings}")
    print(
        "'incl. delivery' times until everything is stored: run.flush() for Tracelet, "
        "mlflow.flush_async_logging() for the asynchronous calls; a synchronous call* has "
        "stored its point when it returns."
    )
    tracelet_median = median(cases[0].per_call)
    rows = []
    for case in cases:
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
    close: float  # then until the run was stopped (Tracelet) or terminated (hand-written)
    run_id: str  # the MLflow run written

    @property
    def total(self) -> float:
        return self.loop + self.close


def _log_points(log: Callable[[str, float, int], None], n: int) -> None:
    names = E2E_NAMES
    for i in range(n):
        log(names[i & 3], i * 0.25, i >> 2)


def _tracelet_run_id(client: MlflowClient, run: Run) -> str:
    """The MLflow run holding this Tracelet run (found by its ``tracelet.run_id`` tag).

    Raises:
        RuntimeError: Not exactly one MLflow run carries the tag.
    """
    from mlflow.entities import ViewType

    from tracelet_mlflow.backend import RUN_ID_TAG

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    found = client.search_runs(experiments, f"tags.`{RUN_ID_TAG}` = '{run.id}'")
    if len(found) != 1:
        raise RuntimeError(f"{len(found)} MLflow runs carry {RUN_ID_TAG}={run.id}")
    return str(found[0].info.run_id)


def _tracelet_e2e(uri: str, client: MlflowClient, n: int) -> tuple[E2eTiming, list[str]]:
    """Log ``n`` points with Tracelet and stop the run; the timing and the problems found."""
    run = tracelet.start_logging("bench-e2e", "bench", "mlflow", {"mlflow": {"tracking_uri": uri}})
    gc.collect()
    t0 = time.perf_counter()
    _log_points(run.log_metric, n)
    t1 = time.perf_counter()
    stopped = run.stop()
    t2 = time.perf_counter()
    problems = [] if stopped else ["run.stop() reported that not everything was delivered"]
    return E2eTiming(t1 - t0, t2 - t1, _tracelet_run_id(client, run)), problems


def _baseline_e2e(client: MlflowClient, experiment_id: str, n: int) -> E2eTiming:
    """Log ``n`` points by hand: ``Metric`` objects, ``log_batch`` per 1000, ``set_terminated``.

    This is what a careful person would write with MLflow alone: one timestamp per point, as
    ``mlflow.log_metric`` takes, and full batches.
    """
    from mlflow.entities import Metric

    run_id = client.create_run(experiment_id, run_name="bench-hand-written").info.run_id
    names = E2E_NAMES
    now = time.time
    log_batch = client.log_batch
    gc.collect()
    t0 = time.perf_counter()
    chunk: list[Metric] = []
    for i in range(n):
        chunk.append(Metric(names[i & 3], i * 0.25, int(now() * 1000), i >> 2))
        if len(chunk) == BASELINE_BATCH:
            log_batch(run_id, metrics=chunk)
            chunk = []
    if chunk:
        log_batch(run_id, metrics=chunk)
    t1 = time.perf_counter()
    client.set_terminated(run_id, "FINISHED")
    t2 = time.perf_counter()
    return E2eTiming(t1 - t0, t2 - t1, run_id)


def _check_points(client: MlflowClient, run_id: str, n: int) -> tuple[int, int, int, str]:
    """Read a run back; returns (missing, changed or unexpected, duplicated, MLflow status)."""
    missing = unexpected = duplicated = 0
    for k, name in enumerate(E2E_NAMES):
        expected = {i >> 2: i * 0.25 for i in range(k, n, len(E2E_NAMES))}
        history = client.get_metric_history(run_id, name)
        got: dict[int, float] = {}
        for metric in history:
            if metric.step in got:
                duplicated += 1
            got[metric.step] = metric.value
        missing += sum(1 for step in expected if step not in got)
        unexpected += sum(1 for step, value in got.items() if expected.get(step) != value)
    keys = set(client.get_run(run_id).data.metrics)
    unexpected += len(keys - set(E2E_NAMES))
    return missing, unexpected, duplicated, client.get_run(run_id).info.status


def bench_end_to_end(sizes: Sizes, uri: str) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    from mlflow import MlflowClient

    n = sizes.points
    print(section(f"2. End to end: {n:,} points into MLflow (sqlite)"))
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("bench-hand-written")
    problems: list[str] = []
    ours: list[E2eTiming] = []
    theirs: list[E2eTiming] = []
    for r in range(sizes.rounds):
        # Alternate the order: the store grows with every run, which could favour the first.
        for case in ("baseline", "tracelet") if r % 2 == 0 else ("tracelet", "baseline"):
            if case == "tracelet":
                timing, found = _tracelet_e2e(uri, client, n)
                ours.append(timing)
                problems += found
            else:
                theirs.append(_baseline_e2e(client, experiment_id, n))

    best, base = min(ours, key=lambda t: t.total), min(theirs, key=lambda t: t.total)
    rows = [
        [
            "tracelet: run.log_metric -> mlflow, then run.stop()",
            fmt_int(n),
            fmt_float(best.loop, 3),
            fmt_float(best.close, 3),
            fmt_float(best.total, 3),
            fmt_int(n / best.total),
            " / ".join(fmt_int(n / t.total) for t in ours),
            f"{base.total / best.total:.0%}",
        ],
        [
            f"hand-written: MlflowClient.log_batch per {BASELINE_BATCH}, same thread",
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
        f"{len(E2E_NAMES)} metric names round-robin, explicit steps; {sizes.rounds} round(s), "
        "the order alternating; runs created before the clock starts; total = first call until "
        "run.stop() returned (hand-written: until set_terminated returned); best round shown."
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
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            missing, unexpected, duplicated, status = _check_points(client, timing.run_id, n)
            if missing or unexpected or duplicated:
                problems.append(
                    f"{label} run {timing.run_id} read back: {n - missing:,} of {n:,} points, "
                    f"{missing:,} MISSING, {unexpected:,} changed or unexpected, "
                    f"{duplicated:,} duplicated"
                )
            if status != "FINISHED":
                problems.append(f"{label} run {timing.run_id} is {status}, expected FINISHED")
    if not any(p.startswith("tracelet run") for p in problems):
        print(
            f"read back with get_metric_history in {time.perf_counter() - r0:.2f}s: tracelet "
            f"{n:,} of {n:,} points, none missing (every step and value as logged, run "
            "FINISHED)"
        )
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
        f"Tracelet mlflow backend benchmarks ({'quick' if args.quick else 'full'}); Python "
        f"{sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{load_average()}"
    )

    problems: list[str] = []
    with clean_workdir(_ENV_PREFIXES, _MLFLOW_ENV) as workdir:
        t0 = time.perf_counter()
        import mlflow
        from mlflow import MlflowClient

        t1 = time.perf_counter()
        uri = f"sqlite:///{workdir / 'mlflow.db'}"
        MlflowClient(uri).search_experiments()  # creates the store (schema migrations)
        t2 = time.perf_counter()
        print(
            f"MLflow {mlflow.__version__}; store {uri}; fixed costs, outside every timing: "
            f"import mlflow {t1 - t0:.2f}s, new store {t2 - t1:.2f}s"
        )
        if "calls" in only:
            problems += bench_calls(sizes, uri)
        if "e2e" in only:
            problems += bench_end_to_end(sizes, uri)

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
