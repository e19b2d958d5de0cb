"""What automagic costs the training loop, printed as plain-text tables.

Run ``python benchmarks/bench_automagic.py`` (about half a minute) or ``--quick`` (a few
seconds). Two sections:

1. **Per-step cost, automagic on and off**: nanoseconds per training step of a loop whose step
   is one ``run.log_metric(name, value, step)``, in alternating rounds of a run with
   ``automagic`` off and one with it on, each started by a function holding hyperparameter
   variables (and assigning more after the start). "On" also turns on automatic artifact
   capture (``automagic_artifacts``) with a scan of the working folder every 50 ms, so its
   thread scans all through the loop (200 times the default pace). The runs send to the
   ``memory`` backend with delivery idle until the stop, so the rows time the caller's side
   only. Automagic installs no tracing hook: the difference should be within the off rounds'
   spread.
2. **One-off costs**: ``start_logging`` and ``run.stop()`` with automagic on and off (it reads
   the variables at both), the rule over a namespace of 1,000 variables, and
   ``describe_model`` / ``describe_dataset`` on a 20-layer torch model and a 100,000-row
   dataset with labels (skipped without torch).

Every "on" run must hold the hyperparameters with their final values and none of the loop's
counters, and the model file written after the loop as a typed artifact; every run every
point (the exit status is 1 otherwise). Timing targets print
PASS or FAIL but never change the exit status.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _util import (
    COLLECTORS_OFF,
    clean_workdir,
    fmt_float,
    header,
    section,
    summary,
    table,
    verdict,
)

import tracelet
from tracelet.automagic import describe_dataset, describe_model, find_hyperparams
from tracelet.backends.memory import stored
from tracelet.run import Run

METRIC = "train/loss"
#: Delivery waits for the stop: the timed loop measures the caller's side only.
IDLE = {"batch_size": 10_000_000, "flush_interval": 3600.0}
#: Automatic artifact capture, scanning all through the loop, in the "on" runs.
CAPTURE = {"automagic_artifacts": True, "artifact_watch_interval": 0.05}
#: What every "on" run must hold, as assigned in :func:`_train`.
EXPECTED = {"learning_rate": 0.001, "batch_size": 32, "num_epochs": 3, "dropout": 0.2}


@dataclass(frozen=True)
class Sizes:
    """How much work the benchmark does."""

    calls: int  # steps per round
    rounds: int  # rounds per configuration


QUICK = Sizes(calls=20_000, rounds=3)
FULL = Sizes(calls=200_000, rounds=7)


@dataclass
class Round:
    """One run's timings."""

    per_step_ns: float
    start_ms: float
    stop_ms: float
    problems: list[str]


def _train(automagic: bool, calls: int) -> Round:
    """A training script's shape: hyperparameters, a start, more hyperparameters, a loop."""
    learning_rate = 0.01
    batch_size = 32
    config = {**COLLECTORS_OFF, **IDLE, "automagic": automagic, **(CAPTURE if automagic else {})}
    began = time.perf_counter()
    run = tracelet.start_logging("bench-automagic", "bench", "memory", config)
    started = time.perf_counter()
    learning_rate = 0.001  # changed after the start: the final value is the one logged
    num_epochs = 3
    dropout = 0.2
    log = run.log_metric
    t0 = time.perf_counter_ns()
    for step in range(calls):
        log(METRIC, learning_rate, step)
    per_step = (time.perf_counter_ns() - t0) / calls
    Path("model.pt").write_bytes(b"weights %d" % calls)  # captured by the stop's last scan
    before_stop = time.perf_counter()
    run.stop()
    stopped = time.perf_counter()
    del batch_size, num_epochs, dropout  # automagic read them at the stop; the loop did not
    return Round(
        per_step_ns=per_step,
        start_ms=(started - began) * 1e3,
        stop_ms=(stopped - before_stop) * 1e3,
        problems=_check(run, automagic, calls),
    )


def _check(run: Run, automagic: bool, calls: int) -> list[str]:
    store = stored(run)
    label = "on" if automagic else "off"
    problems = []
    if len(store.metrics.get(METRIC, [])) != calls:
        problems.append(f"automagic {label}: {len(store.metrics.get(METRIC, []))} of {calls}")
    want = EXPECTED if automagic else {}
    got = {k: v for k, v in store.params.items() if k in EXPECTED or k in ("step", "calls")}
    if got != want:
        problems.append(f"automagic {label}: params {got}, expected {want}")
    captured = store.artifacts.get("model/model.pt/v0/model.pt")
    if automagic and captured != b"weights %d" % calls:
        problems.append(f"automagic on: model.pt captured as {captured!r}")
    if not automagic and any(name.startswith("model/") for name in store.artifacts):
        problems.append("automagic off: a file was captured")
    return problems


def bench_steps(sizes: Sizes) -> tuple[list[str], dict[str, list[Round]]]:
    """Section 1. Returns the problems and every round by configuration."""
    print(section("1. Per-step cost of a training loop, automagic on and off"))
    rounds: dict[str, list[Round]] = {"automagic off": [], "automagic on": []}
    _train(True, 1000)  # warm-up: imports, plugin loading
    for _ in range(sizes.rounds):
        for label, done in rounds.items():
            done.append(_train(label == "automagic on", sizes.calls))
    rows = []
    for label, done in rounds.items():
        per = [r.per_step_ns for r in done]
        rows.append(
            [
                label,
                fmt_float(statistics.median(per), 0),
                fmt_float(min(per), 0),
                fmt_float(max(per), 0),
            ]
        )
    print(f"{sizes.rounds} alternating rounds of {sizes.calls:,} steps per configuration")
    print(table(["", "median ns/step", "min ns/step", "max ns/step"], rows))
    off = [r.per_step_ns for r in rounds["automagic off"]]
    on = [r.per_step_ns for r in rounds["automagic on"]]
    diff = statistics.median(on) - statistics.median(off)
    allowed = max(max(off) - min(off), 0.05 * statistics.median(off))
    print(
        f"target: automagic on costs nothing measurable per step: {diff:+.1f} ns/step vs off, "
        f"within the off rounds' spread or 5% ({allowed:.1f} ns) -> "
        f"{verdict(diff, allowed, digits=1)}"
    )
    problems = [p for done in rounds.values() for r in done for p in r.problems]
    return problems, rounds


def _ms(action: Callable[[], object], repeats: int = 5) -> str:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1e3)
    return fmt_float(statistics.median(times), 2)


def bench_one_off(rounds: dict[str, list[Round]]) -> list[str]:
    """Section 2. Returns the problems."""
    print(section("2. One-off costs"))
    rows = [
        [f"start_logging, {label}", fmt_float(statistics.median(r.start_ms for r in done), 2)]
        for label, done in rounds.items()
    ]
    rows += [
        [f"run.stop(), {label}", fmt_float(statistics.median(r.stop_ms for r in done), 2)]
        for label, done in rounds.items()
    ]
    namespace = {f"var_{i}_{'lr' if i % 2 else 'path'}": float(i) for i in range(1000)}
    problems = []
    if len(find_hyperparams([namespace])) != 500:
        problems.append("the rule did not find the 500 *_lr variables of 1,000")
    rows.append(["the rule over 1,000 variables", _ms(lambda: find_hyperparams([namespace]))])
    try:
        import torch
    except ImportError as exc:
        print(f"models and datasets skipped: {exc}")
    else:
        model = torch.nn.Sequential(*(torch.nn.Linear(256, 256) for _ in range(20)))
        facts = describe_model(model)
        if facts["total_params"] != 20 * (256 * 256 + 256):
            problems.append(f"describe_model counted {facts['total_params']} parameters")
        rows.append(["describe_model, 20 x Linear(256, 256)", _ms(lambda: describe_model(model))])
        ds = torch.utils.data.TensorDataset(torch.zeros(100_000, 8), torch.arange(100_000) % 10)
        if describe_dataset(ds).get("num_classes") != 10:
            problems.append("describe_dataset did not count 10 classes")
        rows.append(
            ["describe_dataset, 100,000 rows, 10 classes", _ms(lambda: describe_dataset(ds))]
        )
    print(table(["", "median ms"], rows))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    header("automagic", args.quick)
    with clean_workdir(("TRACELET_",)):
        problems, rounds = bench_steps(sizes)
        problems += bench_one_off(rounds)
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
