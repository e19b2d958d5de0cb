"""What the collectors cost the training loop, printed as plain-text tables.

Run ``python benchmarks/bench_collectors.py`` (about a minute and a half) or ``--quick`` (about
15 seconds, used by the tests). Two sections:

1. **Caller cost with collectors on and off**: microseconds per ``run.log_metric(name, value,
   step)`` into the ``local`` backend, timed over loops of 1,000 calls each followed by a 2 ms
   "training step" (a sleep: the interpreter lock is free, as while torch kernels run), in
   alternating rounds of three configurations: every collector off; every collector on with
   the default settings (system and GPU samples every 10 s, git of this checkout,
   environment); every collector on with system samples every 0.1 s (100 times the default
   rate, so that many samples land in each round). Next to them, the native work the
   collectors do on their own threads: one psutil sample.
2. **One-off costs**: ``start_logging`` and ``run.stop()`` with the collectors on and off, and
   each collector's own work: one system sample (psutil), the environment (installed
   distributions), the git state (GitPython and the git program).
3. **TensorBoard capture**: microseconds per ``SummaryWriter.add_scalar`` without a run (the
   native call) and captured into a run (the event file is still written): into a ``memory``
   run whose router waits for the stop, the capture's own work; into a ``local`` run, with the
   delivery threads' work competing for the interpreter lock. Skipped without torch.

Every round's run folder is read back: each point logged by the loop must be there once, and
with the fast sampling, system samples must be there too (the exit status is 1 otherwise).
Timing targets print PASS or FAIL but never change the exit status.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from _util import (
    COLLECTORS_OFF,
    clean_workdir,
    fmt_float,
    header,
    median,
    section,
    summary,
    table,
    verdict,
)

import tracelet
from tracelet.backends.local import read_run
from tracelet.run import Run

CHECKOUT = Path(__file__).resolve().parents[1]
METRIC = "train/loss"

#: The configurations of section 1: label → config (the local backend's path is added).
CONFIGS: dict[str, Mapping[str, object]] = {
    "collectors off": COLLECTORS_OFF,
    "all collectors on (defaults)": {"git_repo_path": str(CHECKOUT)},
    "all collectors on, system every 0.1 s": {
        "git_repo_path": str(CHECKOUT),
        "system_metrics_interval": 0.1,
    },
}


@dataclass(frozen=True)
class Sizes:
    rounds: int
    calls: int  # per timed loop
    seconds: float  # timed loops per round: as many as fit in this time (at least one)


FULL = Sizes(rounds=7, calls=1_000, seconds=3.0)
QUICK = Sizes(rounds=2, calls=1_000, seconds=0.6)
#: After each timed loop, the "training step": a pause with the interpreter lock released, as
#: while torch kernels run. The collectors' threads do their Python work in such pauses.
STEP_SECONDS = 0.002


@dataclass
class Timings:
    per_call_ns: list[float] = field(default_factory=list)  # the median loop of each round
    start_ms: list[float] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)


def _round(label: str, config: Mapping[str, object], sizes: Sizes, into: Timings) -> list[str]:
    """One run: time the loops, stop, read the run folder back. Returns the problems found."""
    t0 = time.perf_counter()
    run = tracelet.start_logging(
        "bench-collectors", "bench", "local", {**config, "local": {"path": "runs"}}
    )
    into.start_ms.append((time.perf_counter() - t0) * 1e3)
    log_metric = run.log_metric
    loops: list[float] = []
    step = 0
    until = time.perf_counter() + sizes.seconds
    while not loops or time.perf_counter() < until:
        began = time.perf_counter_ns()
        for _ in range(sizes.calls):
            log_metric(METRIC, 0.5, step)
            step += 1
        loops.append((time.perf_counter_ns() - began) / sizes.calls)
        time.sleep(STEP_SECONDS)
    into.per_call_ns.append(median(loops))
    t0 = time.perf_counter()
    ok = run.stop()
    into.stop_ms.append((time.perf_counter() - t0) * 1e3)
    return _check(label, run, ok, logged=step, sampled="0.1 s" in label)


def _check(label: str, run: Run, ok: bool, logged: int, sampled: bool) -> list[str]:
    location = run.locations()["local"]
    assert location is not None
    stored = read_run(location)
    steps = [m.step for m in stored.metric_history(METRIC)]
    problems = []
    if not ok:
        problems.append(f"{label}: the run did not stop cleanly")
    if steps != list(range(logged)):
        problems.append(f"{label}: {len(steps):,} of {logged:,} points of {METRIC!r} stored")
    system = [n for n in stored.metrics if n.startswith("system/")]
    if sampled and not system:
        problems.append(f"{label}: no system sample stored")
    if not sampled and "off" in label and (system or stored.params):
        problems.append(f"{label}: collectors recorded something although off")
    return problems


def bench_loop(sizes: Sizes) -> tuple[list[str], dict[str, Timings]]:
    print(section("1. Caller cost of run.log_metric with collectors on and off"))
    timings = {label: Timings() for label in CONFIGS}
    problems: list[str] = []
    for label, config in CONFIGS.items():  # warm-up: imports, first sqlite of nothing, caches
        _round(label, config, Sizes(1, 1_000, 0.0), Timings())
    for _ in range(sizes.rounds):
        for label, config in CONFIGS.items():
            problems += _round(label, config, sizes, timings[label])
    rows = []
    for label, t in timings.items():
        rows.append(
            [
                label,
                fmt_float(median(t.per_call_ns) / 1e3, 3),
                fmt_float(min(t.per_call_ns) / 1e3, 3),
                fmt_float(max(t.per_call_ns) / 1e3, 3),
            ]
        )
    reader_us = _system_sample_us()
    rows.append(
        ["native: one psutil system sample (collector thread)", fmt_float(reader_us, 0), "", ""]
    )
    print(
        f"{sizes.rounds} rounds x {sizes.seconds} s of loops of {sizes.calls:,} calls, each "
        f"followed by a {STEP_SECONDS * 1e3:g} ms step; per round, the median loop"
    )
    print(table(["", "median us/call", "min us/call", "max us/call"], rows))
    off = timings["collectors off"].per_call_ns
    spread = max(off) - min(off)
    for label in list(CONFIGS)[1:]:
        on = timings[label].per_call_ns
        diff = median(on) - median(off)
        allowed = max(spread, 0.05 * median(off))
        print(
            f"target: {label} costs nothing measurable: {diff / 1e3:+.3f} us/call vs off, "
            f"within the off rounds' spread ({allowed / 1e3:.3f} us) -> "
            f"{verdict(diff / 1e3, allowed / 1e3, 3)}"
        )
    return problems, timings


def _system_sample_us(samples: int = 50) -> float:
    from tracelet_collectors.system import SystemReader

    reader = SystemReader()
    reader.prepare()
    began = time.perf_counter()
    for _ in range(samples):
        reader.read()
    return (time.perf_counter() - began) / samples * 1e6


def bench_one_off(timings: dict[str, Timings]) -> None:
    print(section("2. One-off costs"))
    from tracelet_collectors.environment import installed_distributions
    from tracelet_collectors.git import read_git_info

    rows = [
        [f"start_logging, {label}", fmt_float(median(t.start_ms), 1)]
        for label, t in timings.items()
    ]
    rows += [
        [f"run.stop(), {label}", fmt_float(median(t.stop_ms), 1)] for label, t in timings.items()
    ]
    rows.append(["environment: installed distributions (thread)", _ms(installed_distributions)])
    rows.append(
        ["git: state of this checkout (at start)", _ms(lambda: read_git_info(str(CHECKOUT), False))]
    )
    print(table(["", "median ms"], rows))


def _ms(action: object, repeats: int = 5) -> str:
    assert callable(action)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1e3)
    return fmt_float(statistics.median(times), 1)


def bench_tensorboard(sizes: Sizes) -> list[str]:
    """Section 3: ``SummaryWriter.add_scalar`` with the capture off and on. Returns problems."""
    print(section("3. SummaryWriter.add_scalar with the TensorBoard capture"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        print(f"skipped: {exc}")
        return []
    calls = sizes.calls * (10 if sizes is FULL else 2)
    rows, problems = [], []
    #: The router waits for run.stop(): the row times the capture's own work only.
    idle = {"batch_size": 10_000_000, "flush_interval": 3600.0}
    cases = (
        ("native (no run)", None, {}),
        ("captured, delivery idle (memory run)", "memory", idle),
        ("captured into a local run, delivery running", "local", {}),
    )
    for label, backend, extra in cases:
        run = None
        if backend is not None:
            config = {**COLLECTORS_OFF, **extra, "local": {"path": "runs"}}
            run = tracelet.start_logging("bench-tb", "bench", backend, config)
        writer = SummaryWriter(f"tb-{backend}")
        per_call = []
        for r in range(sizes.rounds + 1):
            began = time.perf_counter_ns()
            for step in range(calls):
                writer.add_scalar("train/loss", 0.5, r * calls + step)
            if r:  # the first round warms up
                per_call.append((time.perf_counter_ns() - began) / calls)
        writer.close()
        if run is not None:
            run.stop()
            delivered = run.stats()[backend].delivered
            if delivered != calls * (sizes.rounds + 1):
                problems.append(
                    f"tensorboard: {delivered:,} of {calls * (sizes.rounds + 1):,} points"
                )
        rows.append(
            [label, fmt_float(median(per_call) / 1e3, 1), fmt_float(min(per_call) / 1e3, 1)]
        )
    print(f"{sizes.rounds} rounds of {calls:,} calls after a warm-up round")
    print(table(["add_scalar", "median us/call", "min us/call"], rows))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    header("collector", args.quick)
    with clean_workdir(("TRACELET_",)):
        problems, timings = bench_loop(sizes)
        bench_one_off(timings)
        problems += bench_tensorboard(sizes)
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
