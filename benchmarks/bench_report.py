"""Benchmarks of ``tracelet report``: reading many long runs, writing the page, drawing it.

Run ``python benchmarks/bench_report.py`` (about three minutes) or ``--quick`` (a few seconds,
used by the tests). Two sections:

1. **Read and write**: :func:`tracelet.viewer.report.write_report` on synthetic run folders
   written straight in the journal format (``records.jsonl`` lines as the ``local`` backend
   writes them, ``run.json``, PNG files under ``media/``): 20 runs of 1,000,000 points each,
   with the default worker processes and with ``jobs=1``, and one run of 10,000,000 points.
   Each run has four training metrics logged round-robin (``train/loss``, ``train/acc``,
   ``val/loss``, ``lr``), two system metrics every 25 steps, params (``lr`` differs between
   runs), tags, three images, and one spike in ``train/loss``. Table: read seconds (the
   snapshots: decode, downsample, media), build seconds (the page), the HTML size, the points
   drawn and the peak memory of the process and of its workers.
2. **Drawing**: each report opened in headless chromium (``tests/viewer/browser.py``), timed
   from navigation until ``<html data-status="ready">`` (every chart of the Metrics tab drawn).
   Skipped, and said so, without chromium.

Targets (PASS/FAIL, never the exit status): 20 runs of 1M points reported in under 60 s; the
10M-point run in under 60 s; each page drawn in under 10 s. The exit status is 1 when a
correctness check fails: a report without one chart per metric, a chart without one line per
run, a spike missing from the drawn values, or a run missing from the page.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import resource
import sys
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import msgspec
from _util import clean_workdir, fmt_float, fmt_int, header, load_average, section, summary, table

from tracelet.media import encode_png
from tracelet.viewer.report import write_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

#: Training metrics, logged round-robin: one point each per step.
TRAIN = ("train/loss", "train/acc", "val/loss", "lr")
#: System metrics, logged every SYSTEM_EVERY steps.
SYSTEM = ("system/cpu_percent", "system/memory_used_mb")
SYSTEM_EVERY = 25
#: A metric point as the journal writes it: name, value, step, time, seq.
_Point = tuple[str, float, int, float, int]
#: Seconds allowed, for the PASS/FAIL lines.
TARGET_MANY_S = 60.0
TARGET_LONG_S = 60.0
TARGET_DRAW_S = 10.0


@dataclass(frozen=True)
class Sizes:
    runs: int
    points: int  # per run of the many-runs case
    long: int  # points of the one long run

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(runs=3, points=20_000, long=100_000)
        return cls(runs=20, points=1_000_000, long=10_000_000)


# -- synthetic runs ----------------------------------------------------------------------------


def spike_of(index: int) -> float:
    """The one extreme ``train/loss`` value of run ``index``."""
    return 1000.0 + index


def _points(index: int, lr: float, t0: float, spike_step: int, seq: int) -> Iterator[_Point]:
    """Metric points of run ``index`` from record ``seq`` on, endlessly."""
    step = 0
    while True:
        ts = t0 + step * 0.01
        loss = 2.0 / (1.0 + lr * step) + ((step * 7919 + index) % 1000) * 1e-4
        if step == spike_step:
            loss = spike_of(index)
        for name, value in zip(TRAIN, (loss, 1.0 - loss / 4, loss * 1.1, lr), strict=True):
            yield (name, value, step, ts, seq)
            seq += 1
        if step % SYSTEM_EVERY == 0:
            for name in SYSTEM:
                yield (name, 50.0 + (step % 97), step // SYSTEM_EVERY, ts, seq)
                seq += 1
        step += 1


def make_run(root: Path, index: int, points: int) -> Path:
    """A run folder of ``points`` metric points (see the module docstring)."""
    run_id = f"20261130-000000-{index:06x}"
    folder = root / "bench" / run_id
    (folder / "media" / "images").mkdir(parents=True)
    t0 = 1_796_000_000.0 + index * 1000
    encode = msgspec.json.Encoder()
    lines: list[bytes] = []
    seq = 0

    def record(**fields: object) -> None:
        nonlocal seq
        lines.append(encode.encode({**fields, "seq": seq}) + b"\n")
        seq += 1

    lr = 10.0 ** -(1 + index % 4)
    record(type="param", name="lr", value=lr)
    record(type="param", name="optimizer", value="adam" if index % 2 else "sgd")
    record(type="param", name="batch_size", value=64)
    record(type="tag", name="bench", value="report")
    steps = int(points / (len(TRAIN) + len(SYSTEM) / SYSTEM_EVERY))
    end = t0
    with open(folder / "records.jsonl", "wb") as fh:
        fh.write(b"".join(lines))
        lines.clear()
        source = islice(_points(index, lr, t0, steps // 3 + index, seq), points)
        while chunk := list(islice(source, 200_000)):
            fh.write(encode.encode_lines(chunk))
            seq, end = chunk[-1][4] + 1, chunk[-1][3]
        for k in range(3):
            pixels = bytes((x * 7 + k * 50 + index * 20) % 256 for x in range(32 * 32 * 3))
            path = f"media/images/{seq:08d}-samples.png"
            (folder / path).write_bytes(encode_png(pixels, 32, 32, 3))
            record(
                type="image", name="samples", path=path, width=32, height=32, caption=None,
                step=k * 1000, ts=t0 + k,
            )  # fmt: skip
        fh.write(b"".join(lines))
    meta = {
        "format": 2,
        "id": run_id,
        "name": f"run{index:02d}",
        "project": "bench",
        "group": "bench",
        "status": "finished",
        "start_time": t0,
        "end_time": end,
        "pid": 0,
        "host": "bench",
        "backends": ["local"],
        "tracelet_version": "bench",
    }
    (folder / "run.json").write_text(json.dumps(meta))
    return folder


# -- checks ------------------------------------------------------------------------------------


def _floats(b64: str) -> array[float]:
    values = array("d")
    values.frombytes(base64.b64decode(b64))
    if sys.byteorder != "little":
        values.byteswap()
    return values


def check_report(path: Path, runs: int, first_index: int = 0) -> list[str]:
    """Problems with the written page (none expected): charts, lines per run, spikes."""
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text)
    if found is None:
        return [f"{path.name}: no data block"]
    data = json.loads(found.group(1))
    problems = []
    if len(data["runs"]) != runs:
        problems.append(f"{path.name}: {len(data['runs'])} runs on the page, expected {runs}")
    lines = {c["name"]: c for c in data["charts"] if c["kind"] == "line"}
    if sorted(lines) != sorted((*TRAIN, *SYSTEM)):
        problems.append(f"{path.name}: charts {sorted(lines)}")
    for name, chart in lines.items():
        if len(chart["traces"]) != runs:
            problems.append(f"{path.name}: {name} has {len(chart['traces'])} lines, not {runs}")
    for trace in lines.get("train/loss", {"traces": []})["traces"]:
        spike = spike_of(first_index + trace["run"])
        if max(_floats(trace["y"])) != spike:
            problems.append(f"{path.name}: run {trace['run']}: spike {spike} not drawn")
    return problems


# -- sections ----------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    runs: int
    points: int
    read_s: float
    build_s: float
    size: int
    drawn: int
    cpu_s: float
    peak_mb: float
    path: Path


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the reading workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _peak_mb() -> float:
    """Peak resident memory of this process and of its (waited-for) children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def bench_read_write(sizes: Sizes, workdir: Path) -> tuple[list[Row], list[str]]:
    """Section 1."""
    print(section("1. Read and write: synthetic runs to one HTML file"))
    started = time.perf_counter()
    many = [make_run(workdir / "many", i, sizes.points) for i in range(sizes.runs)]
    long = make_run(workdir / "long", sizes.runs, sizes.long)
    made = time.perf_counter() - started
    total = sizes.runs * sizes.points + sizes.long
    print(
        f"{fmt_int(total)} points written as journal lines in {made:.1f}s (not timed below); "
        f"{os.cpu_count()} CPUs{load_average()}"
    )
    cases = [
        (f"{sizes.runs} runs x {fmt_int(sizes.points)} points", many, None),
        (f"{sizes.runs} runs x {fmt_int(sizes.points)} points, jobs=1", many, 1),
        (f"1 run x {fmt_int(sizes.long)} points", [long], None),
    ]
    rows: list[Row] = []
    problems: list[str] = []
    for i, (label, folders, jobs) in enumerate(cases):
        out = workdir / f"report-{i}.html"
        cpu = _cpu_seconds()
        written = write_report(folders, out, jobs=jobs, progress=False)
        cpu = _cpu_seconds() - cpu
        rows.append(
            Row(
                label,
                written.runs,
                written.points,
                written.read_seconds,
                written.build_seconds,
                written.size,
                written.plotted,
                cpu,
                _peak_mb(),
                out,
            )
        )
        first = sizes.runs if folders == [long] else 0
        problems += check_report(out, len(folders), first)
    print(
        table(
            [
                "case",
                "points",
                "read s",
                "build s",
                "total s",
                "CPU s**",
                "HTML MB",
                "drawn",
                "peak MB*",
            ],
            [
                [
                    r.label,
                    fmt_int(r.points),
                    fmt_float(r.read_s, 2),
                    fmt_float(r.build_s, 2),
                    fmt_float(r.read_s + r.build_s, 2),
                    fmt_float(r.cpu_s, 1),
                    fmt_float(r.size / 1e6, 1),
                    fmt_int(r.drawn),
                    fmt_int(r.peak_mb),
                ]
                for r in rows
            ],
        )
    )
    print(
        "* peak resident memory so far of this process or of one worker (they read in "
        "parallel), cumulative down the table\n"
        "** CPU time of this process and its worker processes: what the work costs whatever "
        "else runs on the machine (with other work running, wall time can be far longer)"
    )
    many_s = rows[0].read_s + rows[0].build_s
    long_s = rows[2].read_s + rows[2].build_s
    print(_target(f"{sizes.runs} runs of {fmt_int(sizes.points)} points", many_s, TARGET_MANY_S))
    print(_target(f"1 run of {fmt_int(sizes.long)} points", long_s, TARGET_LONG_S))
    if not problems:
        print(
            "every report: one chart per metric, one line per run, every spike among the drawn "
            "values"
        )
    return rows, problems


def bench_draw(rows: list[Row], workdir: Path) -> list[str]:
    """Section 2."""
    print(section("2. Drawing: the page in headless chromium"))
    from viewer.browser import MISSING, Chromium, chromium_path

    if chromium_path() is None:
        print(f"skipped: {MISSING}")
        return []
    problems: list[str] = []
    results = []
    for i, row in enumerate(rows):
        if "jobs=1" in row.label:
            continue  # the same page as the row above
        with Chromium(workdir / f"profile-{i}") as browser:
            started = time.perf_counter()
            browser.open(row.path.as_uri())
            browser.wait_for("document.documentElement.dataset.status === 'ready'", 120)
            seconds = time.perf_counter() - started
            charts = browser.evaluate("document.querySelectorAll('[data-rendered=yes]').length")
            log = browser.log()
        errors = log.exceptions + log.console_errors
        requests = [u for u in log.requests if not u.startswith(("data:", row.path.as_uri()))]
        if errors or requests:
            problems.append(f"{row.label}: page errors {errors}, requests {requests}")
        results.append((row.label, row.size, charts, seconds))
    print(
        table(
            ["report", "HTML MB", "charts drawn", "load + draw s"],
            [[r[0], fmt_float(r[1] / 1e6, 1), str(r[2]), fmt_float(r[3], 2)] for r in results],
        )
    )
    for label, _, _, seconds in results:
        print(_target(f"drawing {label}", seconds, TARGET_DRAW_S))
    return problems


def _target(what: str, seconds: float, limit: float) -> str:
    verdict = "PASS" if seconds <= limit else "FAIL"
    return f"target: {what} <= {limit:.0f} s: {seconds:.1f} s -> {verdict}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--no-browser", action="store_true", help="leave section 2 out")
    args = parser.parse_args(argv)
    sizes = Sizes.for_mode(args.quick)
    header("report", args.quick)
    problems: list[str] = []
    with clean_workdir(("TRACELET_",)) as workdir:
        rows, found = bench_read_write(sizes, workdir)
        problems += found
        if not args.no_browser:
            problems += bench_draw(rows, workdir)
    return summary(problems)


if __name__ == "__main__":
    sys.exit(main())
