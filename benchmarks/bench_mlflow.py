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

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import _backend_bench as common
from _util import COLLECTORS_OFF, check_delivered, clean_workdir, section, summary

import tracelet
from tracelet.run import Run

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: Metric names of the end-to-end runs, logged round-robin.
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
#: Metrics per ``log_batch`` call in the hand-written baseline (MLflow's maximum).
BASELINE_BATCH = 1000
#: Env vars removed for the run (with the rank vars): settings of Tracelet and MLflow.
_ENV_PREFIXES = ("TRACELET_", "MLFLOW_")
#: Set for the run: no usage reports from MLflow.
_MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: The fluent rows' keys of section 1 (one MLflow run holds both).
SYNC_KEY = "sync/loss"
ASYNC_KEY = "async/loss"

#: Native rows of section 1: "sync" (mlflow.log_metric), "async" (synchronous=False).
QUICK = common.Sizes(10_000, {"sync": 50, "async": 200}, repeats=3, points=20_000, rounds=1)
FULL = common.Sizes(100_000, {"sync": 200, "async": 1000}, repeats=5, points=100_000, rounds=2)


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_fluent(log: Callable[..., Any], first: int, n: int) -> None:
    key = SYNC_KEY
    for step in range(first, first + n):
        log(key, 0.5, step=step)


def _loop_fluent_async(log: Callable[..., Any], first: int, n: int) -> None:
    key = ASYNC_KEY
    for step in range(first, first + n):
        log(key, 0.5, step=step, synchronous=False)


# -- section 1: caller cost ------------------------------------------------------------------


def _start_tracelet(name: str, uri: str) -> Run:
    return tracelet.start_logging(
        name, "bench", "mlflow", {"mlflow": {"tracking_uri": uri}, **COLLECTORS_OFF}
    )


def bench_calls(sizes: common.Sizes, uri: str) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    import mlflow
    from mlflow import MlflowClient

    print(section("1. Caller cost of log_metric: Tracelet vs MLflow's fluent API"))
    problems: list[str] = []

    run = _start_tracelet("bench-calls", uri)
    settings = common.settings_line(run)
    # No gc.collect() before the repeats: a synchronous call takes milliseconds anyway.
    cases: list[common.CallCase] = [common.time_tracelet(run, "mlflow", sizes, collect=False)]
    problems += check_delivered(run, cases[0].logged)

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-fluent")
    with mlflow.start_run(run_name="bench-fluent") as active:
        fluent_id = active.info.run_id
        cases.append(
            common.time_case(
                "mlflow.log_metric(name, value, step=step)",
                lambda first, k: _loop_fluent(mlflow.log_metric, first, k),
                calls=sizes.native_calls["sync"],
                repeats=sizes.repeats,
                collect=False,
            )
        )
        cases.append(
            common.time_case(
                "mlflow.log_metric(..., synchronous=False)",
                lambda first, k: _loop_fluent_async(mlflow.log_metric, first, k),
                calls=sizes.native_calls["async"],
                repeats=sizes.repeats,
                drain=mlflow.flush_async_logging,
                collect=False,
            )
        )
    client = MlflowClient(uri)
    for case, key in zip(cases[1:], (SYNC_KEY, ASYNC_KEY), strict=True):
        stored = len(client.get_metric_history(fluent_id, key))
        if stored != case.logged:
            problems.append(f"{case.label}: {stored:,} of {case.logged:,} points stored")

    print(
        f"Tracelet: {sizes.tracelet_calls:,} calls per repeat; MLflow: "
        f"{sizes.native_calls['sync']:,} synchronous, {sizes.native_calls['async']:,} "
        f"asynchronous calls per repeat; {sizes.repeats} timed repeats after a warm-up of a "
        "tenth; time.perf_counter_ns around the loop; gc enabled; every call has a step of its "
        "own."
    )
    print(f"Tracelet run settings (defaults): {settings}")
    print(
        "'incl. delivery' times until everything is stored: run.flush() for Tracelet, "
        "mlflow.flush_async_logging() for the asynchronous calls; a synchronous call* has "
        "stored its point when it returns."
    )
    common.print_call_table(cases)
    common.print_call_problems(problems)
    return problems


# -- section 2: end to end -------------------------------------------------------------------


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


def _baseline_e2e(client: MlflowClient, experiment_id: str, n: int) -> common.E2eTiming[str]:
    """Log ``n`` points by hand: ``Metric`` objects, ``log_batch`` per 1000, ``set_terminated``.

    This is what a careful person would write with MLflow alone: one timestamp per point, as
    ``mlflow.log_metric`` takes, and full batches.
    """
    from mlflow.entities import Metric

    run_id = client.create_run(experiment_id, run_name="bench-hand-written").info.run_id
    names = E2E_NAMES
    now = time.time
    log_batch = client.log_batch

    def log() -> None:
        chunk: list[Metric] = []
        for i in range(n):
            chunk.append(Metric(names[i & 3], i * 0.25, int(now() * 1000), i >> 2))
            if len(chunk) == BASELINE_BATCH:
                log_batch(run_id, metrics=chunk)
                chunk = []
        if chunk:
            log_batch(run_id, metrics=chunk)

    loop, close, _ = common.time_e2e(log, lambda: client.set_terminated(run_id, "FINISHED"))
    return common.E2eTiming(loop, close, run_id)


def _read_back(client: MlflowClient, run_id: str, n: int) -> common.ReadBack:
    """Read a run back with ``get_metric_history`` and compare it with the points logged."""
    stored = client.get_run(run_id)
    names = set(E2E_NAMES) | set(stored.data.metrics)
    got = {
        name: [(m.step, m.value) for m in client.get_metric_history(run_id, name)] for name in names
    }
    result = common.compare_points(common.e2e_points(E2E_NAMES, n), got)
    if stored.info.status != "FINISHED":
        result.issues.append(f"status {stored.info.status}, expected FINISHED")
    return result


def bench_end_to_end(sizes: common.Sizes, uri: str) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    from mlflow import MlflowClient

    n = sizes.points
    print(section(f"2. End to end: {n:,} points into MLflow (sqlite)"))
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("bench-hand-written")
    ours, theirs, problems = common.run_rounds(
        sizes.rounds,
        lambda: common.tracelet_e2e(
            _start_tracelet("bench-e2e", uri),
            lambda run: common.log_points(run.log_metric, E2E_NAMES, n),
            lambda run: _tracelet_run_id(client, run),
        ),
        lambda: _baseline_e2e(client, experiment_id, n),
    )
    common.print_e2e_table(
        n,
        ours,
        theirs,
        labels=(
            "tracelet: run.log_metric -> mlflow, then run.stop()",
            f"hand-written: MlflowClient.log_batch per {BASELINE_BATCH}, same thread",
        ),
        note=(
            f"{len(E2E_NAMES)} metric names round-robin, explicit steps; {sizes.rounds} "
            "round(s), the order alternating; runs created before the clock starts; total = "
            "first call until run.stop() returned (hand-written: until set_terminated "
            "returned); best round shown."
        ),
    )

    r0 = time.perf_counter()
    for label, timings in (("tracelet", ours), ("hand-written", theirs)):
        for timing in timings:
            got = _read_back(client, timing.run, n)
            problems += common.read_back_problems(f"{label} run {timing.run}", got, n)
    return common.report_read_back(
        problems,
        f"read back with get_metric_history in {time.perf_counter() - r0:.2f}s: tracelet "
        f"{n:,} of {n:,} points, none missing (every step and value as logged, run "
        "FINISHED)",
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    options = common.parse_options(argv, __doc__, "mlflow")
    sizes = options.sizes(QUICK, FULL)
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
        problems = common.run_sections(
            options,
            lambda: bench_calls(sizes, uri),
            lambda: bench_end_to_end(sizes, uri),
        )
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
