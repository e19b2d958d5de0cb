"""Benchmarks of Tracelet's core, printed side by side as plain-text tables.

Run ``python benchmarks/bench_core.py`` (about a minute) or ``--quick`` (a few seconds, used by
the tests). Three sections:

1. **Caller cost**: nanoseconds the training loop spends in ``run.log_metric(name, value,
   step)`` with 1 and with 4 no-op backends, next to a bare ``deque.append`` of the same tuple
   and a Python method call that does nothing (the floor); also ``run.log_metrics`` with a
   10-key dict. The no-op backends are registered as a plugin object on a fresh
   ``PluginHost(load_entrypoints=False)``, so only Tracelet's own cost is measured.
2. **End to end**: points per second into the ``local`` backend, from the first call until
   ``run.stop()`` returns, read back with ``read_run`` to check that no point is missing;
   next to a hand-written loop that writes the same JSON lines in batches of 1000.
3. **Import time**: ``python -c "import tracelet"`` against ``python -c pass`` in fresh
   subprocesses, and a check that no heavy module (pydantic, pluggy, yaml, numpy, a backend
   SDK, ...) is imported by ``import tracelet``.

Sections 1 and 2 run with the default settings: ``TRACELET_*`` and rank env vars are removed
from this process and the working directory is a temporary folder (no ``tracelet.yaml``).

Timing targets are printed with PASS or FAIL but never change the exit status: they depend on
the machine. The exit status is 1 when a correctness check fails: a point missing from the run
folder read back, a no-op backend that did not receive every point, or a heavy module imported
by the module under test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _noop import NOOP_BACKENDS, noop_host
from _util import (
    check_delivered,
    clean_workdir,
    fmt_float,
    fmt_int,
    header,
    median,
    section,
    summary,
    table,
    verdict,
)

from tracelet.backends.local import RECORDS_FILE, read_run
from tracelet.plugins import PluginHost
from tracelet.run import Run
from tracelet.session import start_run

#: Target for the median caller cost of ``run.log_metric`` with 4 backends, in nanoseconds.
CALL_TARGET_NS = 1000.0
#: Settings of the "router idle" row: no wake-up and no timer tick during a timed loop.
IDLE_BATCH_SIZE = 1_000_000
IDLE_FLUSH_INTERVAL = 3600.0
#: Target for the extra wall time of ``import tracelet`` over ``python -c pass``, in ms.
IMPORT_TARGET_MS = 60.0
#: Modules ``import tracelet`` must not load (settings, plugins, YAML, array libs, backend SDKs).
HEAVY_MODULES = (
    "pydantic",
    "pydantic_settings",
    "pluggy",
    "yaml",
    "numpy",
    "torch",
    "mlflow",
    "wandb",
    "clearml",
    "aim",
)
#: Metric names of the end-to-end run, logged round-robin.
E2E_NAMES = ("train/loss", "train/acc", "lr", "grad_norm")
#: Points per ``os.write`` in the hand-written baseline (the default ``batch_size``).
BASELINE_BATCH = 1000
#: Env vars that would change the settings (rank vars go too: a non-zero rank is a no-op run).
_SETTINGS_ENV_PREFIX = "TRACELET_"


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    calls: int  # calls per timed repeat in section 1
    repeats: int  # timed repeats per case in section 1
    points: int  # points in section 2
    imports: int  # subprocesses per case in section 3

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(calls=10_000, repeats=3, points=20_000, imports=5)
        return cls(calls=100_000, repeats=7, points=200_000, imports=20)


class _Floor:
    """The cheapest call with log_metric's signature: a method that does nothing."""

    def log_metric(self, name: str, value: float, step: int) -> None:
        pass


# -- timed loops: module-level functions so every case pays the same loop overhead -----------


def _loop_empty(n: int) -> None:
    for _step in range(n):
        pass


def _loop_call(fn: Callable[[str, float, int], None], name: str, value: float, n: int) -> None:
    for step in range(n):
        fn(name, value, step)


def _loop_auto_step(fn: Callable[[str, float], None], name: str, value: float, n: int) -> None:
    for _step in range(n):
        fn(name, value)


def _loop_append(
    append: Callable[[tuple[str, float, int, float]], None],
    now: Callable[[], float],
    name: str,
    value: float,
    n: int,
) -> None:
    for step in range(n):
        append((name, value, step, now()))


def _loop_dict(fn: Callable[[Mapping[str, float], int], None], d: dict[str, float], n: int) -> None:
    for step in range(n):
        fn(d, step)


# -- section 1: caller cost ------------------------------------------------------------------


@dataclass
class CallCase:
    """The timings of one row of section 1, in nanoseconds per call."""

    label: str
    per_call: list[float]
    points_per_call: int = 1
    #: Loop start until ``run.flush()`` returned, per call (runs only).
    delivered: list[float] | None = None


def _time_case(
    label: str,
    body: Callable[[int], None],
    *,
    calls: int,
    repeats: int,
    points_per_call: int = 1,
    drain: Callable[[], object] | None = None,
    reset: Callable[[], object] | None = None,
) -> CallCase:
    """Time ``body(calls)`` ``repeats`` times after one untimed warm-up.

    ``drain`` (a run's ``flush``) is timed after each loop, so the second figure includes
    delivery to the backends; ``reset`` runs untimed between repeats.
    """
    body(max(calls // 10, 1))  # warm-up: lets the adaptive interpreter specialise the loop
    if drain is not None:
        drain()
    if reset is not None:
        reset()
    per_call: list[float] = []
    delivered: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
        t0 = clock()
        body(calls)
        t1 = clock()
        if drain is not None:
            drain()
            delivered.append((clock() - t0) / calls)
        per_call.append((t1 - t0) / calls)
        if reset is not None:
            reset()
    return CallCase(label, per_call, points_per_call, delivered if drain is not None else None)


def _run_cases(
    host: PluginHost,
    backends: Sequence[str],
    sizes: Sizes,
    *,
    config: Mapping[str, object] | None = None,
    note: str = "",
    with_dict: bool = True,
) -> tuple[list[CallCase], Run, int]:
    """Time ``log_metric`` (and ``log_metrics``) on one run.

    Returns:
        The timings, the run (still running) and how many points were logged to it.
    """
    run = start_run("bench-calls", "bench", list(backends), config, host=host)
    n = len(backends)
    suffix = ("1 backend" if n == 1 else f"{n} backends") + note
    metrics = {f"train/m{k}": 0.5 + k for k in range(10)}
    dict_calls = max(sizes.calls // len(metrics), 1)
    cases = [
        _time_case(
            f"run.log_metric, {suffix}",
            lambda k: _loop_call(run.log_metric, "train/loss", 0.5, k),
            calls=sizes.calls,
            repeats=sizes.repeats,
            drain=run.flush,
        )
    ]
    logged = max(sizes.calls // 10, 1) + sizes.calls * sizes.repeats
    if with_dict:
        cases.append(
            _time_case(
                f"run.log_metric, automatic step, {suffix}",
                lambda k: _loop_auto_step(run.log_metric, "train/auto", 0.5, k),
                calls=sizes.calls,
                repeats=sizes.repeats,
                drain=run.flush,
            )
        )
        logged += max(sizes.calls // 10, 1) + sizes.calls * sizes.repeats
        cases.append(
            _time_case(
                f"run.log_metrics (10 keys), {suffix}",
                lambda k: _loop_dict(run.log_metrics, metrics, k),
                calls=dict_calls,
                repeats=sizes.repeats,
                points_per_call=len(metrics),
                drain=run.flush,
            )
        )
        logged += len(metrics) * (max(dict_calls // 10, 1) + dict_calls * sizes.repeats)
    return cases, run, logged


def bench_calls(sizes: Sizes, target_ns: float = CALL_TARGET_NS) -> list[str]:
    """Section 1. Prints the table; returns the correctness problems found (none expected)."""
    print(section("1. Caller cost of a logging call"))
    floor = _Floor()
    store: deque[tuple[str, float, int, float]] = deque()
    cases = [
        _time_case(
            "empty loop (for step in range(n))",
            _loop_empty,
            calls=sizes.calls,
            repeats=sizes.repeats,
        ),
        _time_case(
            "no-op method call obj.f(name, value, step)",
            lambda k: _loop_call(floor.log_metric, "train/loss", 0.5, k),
            calls=sizes.calls,
            repeats=sizes.repeats,
        ),
        _time_case(
            "deque.append((name, value, step, time()))",
            lambda k: _loop_append(store.append, time.time, "train/loss", 0.5, k),
            calls=sizes.calls,
            repeats=sizes.repeats,
            reset=store.clear,
        ),
    ]
    host = noop_host()
    problems: list[str] = []
    config = ""
    for backends in (NOOP_BACKENDS[:1], NOOP_BACKENDS):
        run_cases, run, logged = _run_cases(host, backends, sizes)
        if run.settings is not None:
            s = run.settings.model
            config = (
                f"batch_size={s.batch_size}, flush_interval={s.flush_interval}s, "
                f"max_queue_size={s.max_queue_size:,}, overflow_policy={s.overflow_policy}, "
                f"nan_policy={s.nan_policy}"
            )
        cases.extend(run_cases)
        problems.extend(check_delivered(run, logged))
    # The same calls with the router asleep until the flush: the caller's own cost, without
    # the share of the GIL that routing and the backend threads take during the loop.
    idle_cases, run, logged = _run_cases(
        host,
        NOOP_BACKENDS,
        sizes,
        config={"batch_size": IDLE_BATCH_SIZE, "flush_interval": IDLE_FLUSH_INTERVAL},
        note=", router idle in the loop*",
        with_dict=False,
    )
    cases.extend(idle_cases)
    problems.extend(check_delivered(run, logged))

    print(
        f"{sizes.calls:,} calls per repeat (log_metrics: {sizes.calls // 10:,} calls of 10 keys),"
        f" {sizes.repeats} timed repeats after a warm-up; time.perf_counter_ns around the loop;"
        f" gc enabled; loop overhead included in every row."
    )
    print(f"run settings (defaults): {config}")
    print(
        "'incl. delivery' adds the run.flush() after the loop: the router and backend threads"
        " share the GIL with the caller, so this is the sustained cost of a tight loop."
    )
    deque_median = median(cases[2].per_call)
    rows = []
    for case in cases:
        per_point_median = median(case.per_call) / case.points_per_call
        rows.append(
            [
                case.label,
                fmt_int(median(case.per_call)),
                fmt_int(min(case.per_call)),
                fmt_int(per_point_median),
                "-" if case.delivered is None else fmt_int(median(case.delivered)),
                "-"
                if case.delivered is None
                else fmt_int(median(case.delivered) / case.points_per_call),
                f"{median(case.per_call) / deque_median:.2f}x",
            ]
        )
    print(
        table(
            [
                "case",
                "median ns/call",
                "min ns/call",
                "median ns/point",
                "incl. delivery ns/call",
                "incl. delivery ns/point",
                "vs deque.append",
            ],
            rows,
        )
    )
    print(
        f"* batch_size={IDLE_BATCH_SIZE:,} and flush_interval={IDLE_FLUSH_INTERVAL:.0f}s: the "
        "router sleeps until run.flush(), so the loop measures only the caller's own work."
    )
    four = next(c for c in cases if c.label == f"run.log_metric, {len(NOOP_BACKENDS)} backends")
    measured = median(four.per_call)
    print(
        f"target: run.log_metric with 4 backends <= {target_ns:,.0f} ns/call (median): "
        f"{measured:,.0f} ns -> {verdict(measured, target_ns)}"
    )
    if problems:
        for problem in problems:
            print(f"ERROR: {problem}")
    else:
        print("delivery check: every no-op backend received every point (none missing)")
    return problems


# -- section 2: end to end into the local backend --------------------------------------------


def _log_points(log: Callable[[str, float, int], None], n: int) -> None:
    names = E2E_NAMES
    for i in range(n):
        log(names[i & 3], i * 0.25, i >> 2)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _baseline(path: Path, n: int) -> tuple[float, float]:
    """Write the local backend's metric lines (``[name, value, step, ts, seq]``) by hand;
    returns (writing s, fsync+close s).

    This is what a careful person would write without Tracelet: each name quoted once,
    ``repr`` for finite floats (the text ``json.dumps`` gives them), one ``os.write`` per
    batch, one fsync at the end.
    """
    dumps = json.dumps
    now = time.time
    names = E2E_NAMES
    t0 = time.perf_counter()
    quoted = {name: dumps(name) for name in names}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lines: list[str] = []
    for i in range(n):
        value = i * 0.25
        text = repr(value) if value - value == 0.0 else dumps(value)
        lines.append(f"[{quoted[names[i & 3]]},{text},{i >> 2},{now()!r},{i}]")
        if len(lines) == BASELINE_BATCH:
            _write_all(fd, ("\n".join(lines) + "\n").encode("utf-8"))
            lines.clear()
    if lines:
        _write_all(fd, ("\n".join(lines) + "\n").encode("utf-8"))
    t1 = time.perf_counter()
    os.fsync(fd)
    os.close(fd)
    return t1 - t0, time.perf_counter() - t1


def _same_first_line(run_file: Path, baseline_file: Path) -> bool:
    """Whether both files start with the same JSON record, timestamp aside."""

    def first(path: Path) -> list[object]:
        with open(path, encoding="utf-8") as fh:
            name, value, step, _ts, seq = json.loads(fh.readline())  # a metric point's array
        return [name, value, step, seq]

    return first(run_file) == first(baseline_file)


def _missing_points(run_dir: str, n: int) -> tuple[int, int, str]:
    """Read the run folder back; returns (missing, unexpected or duplicated, run status)."""
    local = read_run(run_dir)
    metrics = local.metrics
    missing = unexpected = 0
    for k, name in enumerate(E2E_NAMES):
        expected = {(i >> 2, i * 0.25) for i in range(k, n, len(E2E_NAMES))}
        points = metrics.get(name, [])
        got = {(p.step, p.value) for p in points}
        missing += len(expected - got)
        unexpected += len(got - expected) + (len(points) - len(got))
    unexpected += sum(len(v) for k, v in metrics.items() if k not in E2E_NAMES)
    return missing, unexpected + local.skipped_lines, local.status


def bench_end_to_end(sizes: Sizes, workdir: Path) -> list[str]:
    """Section 2. Prints the table; returns the correctness problems found (none expected)."""
    n = sizes.points
    print(section(f"2. End to end: {n:,} points into the local backend"))
    host = PluginHost(load_entrypoints=False)
    run = start_run("bench-e2e", "bench", "local", {"local": {"path": str(workdir)}}, host=host)
    run_dir = run.locations()["local"]
    gc.collect()
    t0 = time.perf_counter()
    _log_points(run.log_metric, n)
    t1 = time.perf_counter()
    stopped = run.stop()
    t2 = time.perf_counter()

    baseline_file = workdir / "baseline.jsonl"
    gc.collect()
    b_write, b_close = _baseline(baseline_file, n)
    with open(baseline_file, "rb") as fh:
        baseline_lines = sum(1 for _ in fh)

    problems: list[str] = []
    r0 = time.perf_counter()
    missing, unexpected, status = (n, 0, "?") if run_dir is None else _missing_points(run_dir, n)
    read_s = time.perf_counter() - r0
    total, b_total = t2 - t0, b_write + b_close
    rows = [
        [
            "tracelet: run.log_metric -> local, then run.stop()",
            fmt_int(n),
            fmt_float(t1 - t0, 3),
            fmt_float(t2 - t1, 3),
            fmt_float(total, 3),
            fmt_int(n / total),
            f"{total / b_total:.2f}x",
        ],
        [
            f"hand-written: same JSON lines, os.write per {BASELINE_BATCH}, same thread",
            fmt_int(baseline_lines),
            fmt_float(b_write, 3),
            fmt_float(b_close, 3),
            fmt_float(b_total, 3),
            fmt_int(n / b_total),
            "1.00x",
        ],
    ]
    print(
        f"{len(E2E_NAMES)} metric names round-robin; one timed run each; total = first call "
        "until run.stop() returned (the baseline: until its file is fsync'ed and closed)."
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
                "total vs baseline",
            ],
            rows,
        )
    )
    if not stopped:
        problems.append("run.stop() reported that not everything was delivered")
    if status != "finished":
        problems.append(f"run.json status is {status!r}, expected 'finished'")
    if baseline_lines != n:
        problems.append(f"the baseline file has {baseline_lines:,} lines, expected {n:,}")
    if missing or unexpected:
        problems.append(
            f"read back with read_run: {n - missing:,} of {n:,} points, {missing:,} MISSING, "
            f"{unexpected:,} unexpected or duplicated"
        )
    else:
        print(f"read back with read_run in {read_s:.2f}s: {n:,} of {n:,} points, none missing")
    if run_dir is not None and not _same_first_line(Path(run_dir) / RECORDS_FILE, baseline_file):
        print(
            "note: the baseline's lines no longer match the local backend's format; "
            "update _baseline so that the comparison stays like for like"
        )
    for problem in problems:
        print(f"ERROR: {problem}")
    return problems


# -- section 3: import time ------------------------------------------------------------------

#: Run as ``python -c _MODULES_AFTER_IMPORT MODULE``: prints the modules loaded before the
#: import, a separator line, then those loaded after it.
_MODULES_AFTER_IMPORT = """\
import importlib, sys
before = sorted(sys.modules)
importlib.import_module(sys.argv[1])
sys.stdout.write("\\n".join(before) + "\\n--\\n" + "\\n".join(sorted(sys.modules)) + "\\n")
"""

#: Run with ``-X importtime``: a marker on stderr separates start-up imports from the module's.
_IMPORTTIME_MARK = "@@tracelet-bench-import@@"
_IMPORTTIME_CODE = f"""\
import importlib, sys
sys.stderr.write("{_IMPORTTIME_MARK}\\n")
sys.stderr.flush()
importlib.import_module(sys.argv[1])
"""


def _cached_env(pycache: Path) -> dict[str, str]:
    """This environment, with byte code cached under ``pycache`` as for an installed package.

    Without it, ``PYTHONDONTWRITEBYTECODE=1`` (set in some containers and CI images) would make
    every run compile Tracelet's sources, which an installed package never does.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _wall(argv: Sequence[str], env: Mapping[str, str]) -> float:
    """Wall time of one subprocess, in seconds.

    Raises:
        subprocess.CalledProcessError: The subprocess failed.
    """
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def _is_heavy(module: str) -> str | None:
    top = module.partition(".")[0]
    return top if top in HEAVY_MODULES else None


def _import_costs(module: str, env: Mapping[str, str]) -> list[tuple[str, float, int]]:
    """Self import time of what ``import module`` loads, grouped, largest first.

    Our own modules are listed one by one; others are grouped by top-level package.

    Returns:
        (group, milliseconds, number of modules) per group.
    """
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _IMPORTTIME_CODE, module],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    own = module.partition(".")[0]
    groups: dict[str, list[float]] = {}
    seen_mark = False
    for line in proc.stderr.splitlines():
        if line.strip() == _IMPORTTIME_MARK:
            seen_mark = True
            continue
        if not seen_mark or not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].strip()
        key = name if name.partition(".")[0] == own else name.partition(".")[0]
        groups.setdefault(key, []).append(int(parts[0]) / 1000)
    ranked = [(k, sum(v), len(v)) for k, v in groups.items()]
    return sorted(ranked, key=lambda item: item[1], reverse=True)


def _heavy_check(module: str) -> tuple[list[str], int]:
    """Import ``module`` in a fresh interpreter.

    Returns:
        The heavy packages loaded after the import (marked when start-up had loaded them
        already) and how many modules the import added.
    """
    out = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER_IMPORT, module],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    before_text, _, after_text = out.partition("\n--\n")
    before, after = set(before_text.split()), set(after_text.split())
    added = after - before
    heavy = sorted({top for m in after if (top := _is_heavy(m)) is not None})
    notes = [h if any(_is_heavy(m) == h for m in added) else f"{h} (at start-up)" for h in heavy]
    return notes, len(added)


def bench_import(
    sizes: Sizes, module: str, show_costs: bool, target_ms: float = IMPORT_TARGET_MS
) -> list[str]:
    """Section 3. Prints the table; returns the correctness problems found (none expected)."""
    print(section(f"3. Import time of {module!r} in a fresh interpreter"))
    exe = sys.executable
    bare = [exe, "-c", "pass"]
    with_import = [exe, "-c", f"import {module}"]
    with tempfile.TemporaryDirectory(prefix="tracelet-bench-pyc-") as pycache:
        env = _cached_env(Path(pycache))
        _wall(bare, env)  # warm-up: writes the byte-code cache, fills the OS file cache
        _wall(with_import, env)
        cases: list[tuple[str, list[str], Mapping[str, str], list[float]]] = [
            ("python -c pass", bare, env, []),
            (f'python -c "import {module}"', with_import, env, []),
        ]
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            cases.append(
                (
                    f'python -c "import {module}", no byte-code cache (this environment)',
                    with_import,
                    os.environ,
                    [],
                )
            )
        for _ in range(sizes.imports):  # interleaved, so that drift hits every case alike
            for _label, argv, case_env, times in cases:
                times.append(_wall(argv, case_env))
        costs = _import_costs(module, env)

    bare_s, import_s = cases[0][3], cases[1][3]
    extra_ms = (median(import_s) - median(bare_s)) * 1000
    rows = [
        [label, fmt_float(median(times) * 1000), fmt_float(min(times) * 1000)]
        for label, _argv, _env, times in cases
    ]
    rows.insert(
        2, ["difference", fmt_float(extra_ms), fmt_float((min(import_s) - min(bare_s)) * 1000)]
    )
    print(
        f"{sizes.imports} runs of each, interleaved, after one warm-up; byte code cached in a "
        f"temporary PYTHONPYCACHEPREFIX; {exe}"
    )
    print(table(["case", "median ms", "min ms"], rows))
    print(
        f"target: import {module} adds <= {target_ms:.0f} ms (median): "
        f"{extra_ms:.1f} ms -> {verdict(extra_ms, target_ms, 1)}"
    )

    heavy, added = _heavy_check(module)
    print(f"import {module} loads {added} modules besides those of start-up.")
    problems: list[str] = []
    if heavy:
        problems.append(f"heavy modules imported after import {module}: {', '.join(heavy)}")
        print(f"ERROR: {problems[-1]}")
    else:
        print(f"no heavy modules imported (checked: {', '.join(HEAVY_MODULES)})")

    if show_costs or heavy or extra_ms > target_ms:
        total = sum(ms for _, ms, _ in costs)
        print(
            f"\nimport cost by module (python -X importtime, self time, one run; "
            f"total {total:.1f} ms):"
        )
        rows = [[group, fmt_float(ms), str(count)] for group, ms, count in costs[:12]]
        print(table(["module (ours) or package", "self ms", "modules"], rows))
    return problems


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sections; 0 if every correctness check passed, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=("calls", "e2e", "import"),
        help="run only this section (repeatable; default: all)",
    )
    parser.add_argument(
        "--module", default="tracelet", help="module whose import section 3 measures"
    )
    parser.add_argument(
        "--importtime",
        action="store_true",
        help="always print the -X importtime breakdown (default: only over the target)",
    )
    # The tests set the targets out of reach or far above, to check both verdicts.
    parser.add_argument(
        "--call-target-ns",
        type=float,
        default=CALL_TARGET_NS,
        help=f"section 1's target (default {CALL_TARGET_NS:,.0f})",
    )
    parser.add_argument(
        "--import-target-ms",
        type=float,
        default=IMPORT_TARGET_MS,
        help=f"section 3's target (default {IMPORT_TARGET_MS:.0f})",
    )
    args = parser.parse_args(argv)
    sizes = Sizes.for_mode(args.quick)
    only = set(args.only or ("calls", "e2e", "import"))
    header("core", args.quick)

    problems: list[str] = []
    with clean_workdir((_SETTINGS_ENV_PREFIX,)) as workdir:
        if "calls" in only:
            problems += bench_calls(sizes, args.call_target_ns)
        if "e2e" in only:
            problems += bench_end_to_end(sizes, workdir / "runs")
    if "import" in only:
        problems += bench_import(sizes, args.module, args.importtime, args.import_target_ms)

    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
