"""``tracelet show RUN...``: a run's curves in the terminal, then what it holds.

For each run named (a folder, a run id, a run name or ``latest``): the charts of its metrics
(several runs overlaid), then its identity, params, tags, a summary of each metric, its
artifacts and media as paths to open, and what each backend still lacks. ``--json`` prints the
summary only (one object for one run, a list for several). ``--watch`` redraws the charts while
the runs are live, reading only what was appended to their journals.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracelet.backends.local import LocalRun, read_run
from tracelet.textout import number, print_table, show_value, when
from tracelet.viewer.series import RunCurves
from tracelet.viewer.terminal import ChartRun, render

#: Exit codes shared with :mod:`tracelet.cli`.
EXIT_CONFIG_ERROR, EXIT_USAGE = 1, 2
#: ANSI: cursor home, clear the screen (``--watch`` in a terminal).
_CLEAR = "\x1b[H\x1b[2J"


def resolve_runs(specs: list[str], root: Callable[[], str | None]) -> list[Path]:
    """The run folders named by ``specs``: folders as given, ids, names and ``latest`` looked up
    under ``root()`` (the configured ``local.path``).

    Raises:
        FileNotFoundError: A spec names no run (the message says which).
        LookupError: ``root()`` gave ``None``: the configuration is invalid (already reported).
    """
    from tracelet.syncing import find_runs

    folders: list[Path] = []
    for spec in specs:
        if Path(spec).is_dir():
            folders.append(Path(spec))
            continue
        base = root()
        if base is None:
            raise LookupError(spec)
        folders.extend(find_runs([spec], Path(base))[:1])
    return folders


def show(args: argparse.Namespace, root: Callable[[], str | None]) -> int:
    """Run ``tracelet show`` with parsed ``args``; returns the exit code."""
    try:
        folders = resolve_runs(args.runs, root)
        runs = [read_run(folder) for folder in folders]
    except LookupError:
        return EXIT_CONFIG_ERROR
    except FileNotFoundError as exc:
        print(f"tracelet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        summaries = [run_summary(run) for run in runs]
        print(json.dumps(summaries[0] if len(runs) == 1 else summaries, indent=2, default=str))
        return 0
    curves = [RunCurves(run.path) for run in runs]
    plot = not args.no_plot
    if args.watch is not None and plot:
        _watch(runs, curves, args)
        runs = [read_run(run.path) for run in runs]
    elif plot:
        charts = _charts(runs, curves, args)
        if charts:
            print(charts + "\n")
    for i, run in enumerate(runs):
        if i:
            print("\n" + "-" * 40 + "\n")
        print_summary(run, run_summary(run))
    return 0


def _charts(runs: list[LocalRun], curves: list[RunCurves], args: argparse.Namespace) -> str:
    for reader in curves:
        reader.update()
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    chart_runs = [
        ChartRun(_label(run, runs), reader.curves, run.meta.get("start_time"))
        for run, reader in zip(runs, curves, strict=True)
    ]
    return render(chart_runs, width=max(width - 2, 40), color=color, x=args.x, patterns=args.metric)


def _label(run: LocalRun, runs: list[LocalRun]) -> str:
    """The run's name, or its id where several runs share the name."""
    return run.id if sum(r.name == run.name for r in runs) > 1 else run.name


def _watch(runs: list[LocalRun], curves: list[RunCurves], args: argparse.Namespace) -> None:
    """Redraw the charts every ``args.watch`` seconds until no run is ``running`` (or Ctrl-C)."""
    clear = _CLEAR if sys.stdout.isatty() else ""
    try:
        while True:
            live = [read_run(run.path) for run in runs]
            charts = _charts(live, curves, args)
            points = sum(len(c) for reader in curves for c in reader.curves.values())
            state = ", ".join(f"{r.name}: {r.status}" for r in live)
            print(f"{clear}{charts}\n\n{state} · {points:,} points · {time.strftime('%H:%M:%S')}")
            sys.stdout.flush()
            if all(r.status != "running" for r in live):
                return
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return


def run_summary(run: LocalRun) -> dict[str, Any]:
    """What ``tracelet show --json`` prints for one run."""
    from tracelet.gaps import delivery_gaps

    metrics = {}
    for name, points in sorted(run.metrics.items()):
        finite = [p.value for p in points if math.isfinite(p.value)]
        metrics[name] = {
            "points": len(points),
            "first_step": points[0].step,
            "last_step": points[-1].step,
            "last": points[-1].value,
            "min": min(finite) if finite else None,
            "max": max(finite) if finite else None,
        }
    media: dict[str, int] = {}
    for record in run.media:
        media[record["type"]] = media.get(record["type"], 0) + 1
    gaps = delivery_gaps(run.path)
    typed = run.typed_artifacts()
    folders = {a.folder for a in typed}
    return {
        "folder": str(run.path),
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "group": run.group,
        "status": run.status,
        "started": when(run.meta.get("start_time")),
        "ended": when(run.meta.get("end_time")),
        "params": run.params,
        "tags": run.tags,
        "metrics": metrics,
        "artifacts": sorted(n for n in run.artifacts if n not in folders),
        "typed_artifacts": [
            {
                "name": a.name,
                "type": a.type.value,
                "version": a.version,
                "files": len(a.files),
                "bytes": sum(f.size for f in a.files),
                "description": a.description,
                "folder": str(a.path),
            }
            for a in typed
        ],
        "media": media,
        "delivery": {
            g.backend: {"behind": g.behind, "failed": g.failed, "closed": g.closed} for g in gaps
        },
        "dropped": run.dropped,
    }


def print_summary(run: LocalRun, summary: dict[str, Any]) -> None:
    """The summary as text: identity, params, tags, metrics, files, delivery."""
    for key in ("name", "project", "group", "status", "started", "ended", "folder"):
        if summary[key] is not None:
            print(f"{key + ':':9} {summary[key]}")
    if run.params:
        print("\nparams")
        print_table(
            [["  NAME", "VALUE"], *([f"  {k}", show_value(v)] for k, v in run.params.items())]
        )
    if run.tags:
        print("\ntags")
        print_table([["  NAME", "VALUE"], *([f"  {k}", v] for k, v in run.tags.items())])
    metrics = summary["metrics"]
    if metrics:
        print("\nmetrics")
        table = [["  NAME", "POINTS", "STEPS", "LAST", "MIN", "MAX"]]
        for name, m in metrics.items():
            steps = f"{m['first_step']}..{m['last_step']}"
            table.append(
                [
                    f"  {name}",
                    str(m["points"]),
                    steps,
                    number(m["last"]),
                    number(m["min"]),
                    number(m["max"]),
                ]
            )
        print_table(table)
    plain = summary["artifacts"]
    if plain:
        print("\nartifacts")
        print_table([["  NAME", "FILE"], *([f"  {n}", str(run.artifacts[n])] for n in plain)])
    if summary["typed_artifacts"]:
        print("\ntyped artifacts")
        table = [["  NAME", "TYPE", "VERSION", "FILES", "SIZE", "FOLDER"]]
        for a in summary["typed_artifacts"]:
            table.append(
                [
                    f"  {a['name']}",
                    a["type"],
                    f"v{a['version']}",
                    str(a["files"]),
                    _size(a["bytes"]),
                    a["folder"],
                ]
            )
        print_table(table)
    _print_media(run)
    if run.dropped:
        print(
            f"\ndropped: {run.dropped:,} record(s) never reached the run folder "
            "(overflow_policy drop_*, or nan_policy: drop)"
        )
    _print_delivery(run)
    if run.skipped_lines:
        print(
            f"\n({run.skipped_lines} unreadable line(s) at the end: the process stopped mid-write)"
        )


def _print_media(run: LocalRun) -> None:
    """Per media name: how many records of which kind, and the file of the last one."""
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    for record in run.media:
        key = (record["name"], record["type"])
        count = latest.get(key, (0, ""))[0] + 1
        path = record.get("path")
        latest[key] = (count, str(run.path / path) if path else "-")
    if latest:
        print("\nmedia")
        rows = [["  NAME", "KIND", "COUNT", "LAST FILE"]]
        for (name, kind), (count, path) in sorted(latest.items()):
            rows.append([f"  {name}", kind, str(count), path])
        print_table(rows)


def _print_delivery(run: LocalRun) -> None:
    from tracelet.gaps import delivery_gaps

    gaps = delivery_gaps(run.path)
    if gaps:
        print("\ndelivery")
        print_table([["  BACKEND", "STATE"], *([f"  {g.backend}", g.describe()] for g in gaps)])
        if not all(g.complete for g in gaps):
            print(f"  deliver the rest with: tracelet sync {run.path}")


def _size(count: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 KB``, ``3.2 MB``, ``1.1 GB``."""
    value = float(count)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
