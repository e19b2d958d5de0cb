"""Metric curves drawn in the terminal with plotext, one chart per metric group.

A metric's group is the part of its name before the first ``/`` (``train/loss`` and
``train/acc`` share the chart ``train``; a name without ``/`` goes to the chart ``metrics``).
System and GPU metrics (``system/...``, ``gpu/...``) are left out unless a ``--metric`` pattern
names them. Each chart holds a line per metric and per run (several runs are overlaid, each
line labelled ``<metric> · <run>``). Curves are downsampled to the chart's width with
:func:`tracelet.viewer.series.downsample`, so extremes stay visible; NaN and infinite values
are not drawn.

In a terminal the lines are told apart by color; otherwise (output to a file or a pipe) the
text has no escape codes and each line gets its own marker character, shown in the legend.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass

from tracelet.viewer.series import Curve, downsample

#: Name prefixes of the collectors' metrics, drawn only when a pattern asks for them.
SYSTEM_PREFIXES = ("system/", "gpu/")
#: Markers for the lines of a chart without colors, in order.
PLAIN_MARKERS = ("*", "x", "o", "+", "#", "@", "%", "=")
#: Charts drawn at most; the rest are named in a note.
MAX_CHARTS = 8


@dataclass(frozen=True)
class ChartRun:
    """One run's curves, with the label its lines get when several runs are drawn."""

    label: str
    curves: dict[str, Curve]
    start_time: float | None = None


def chart_groups(runs: Sequence[ChartRun], patterns: Sequence[str] = ()) -> dict[str, list[str]]:
    """Chart title → the metric names drawn in it, in name order (see the module docstring)."""
    names = sorted({name for run in runs for name in run.curves})
    if patterns:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    else:
        names = [n for n in names if not n.startswith(SYSTEM_PREFIXES)]
    groups: dict[str, list[str]] = {}
    for name in names:
        title = name.split("/", 1)[0] if "/" in name else "metrics"
        groups.setdefault(title, []).append(name)
    return groups


def render(
    runs: Sequence[ChartRun],
    *,
    width: int,
    color: bool,
    x: str = "step",
    patterns: Sequence[str] = (),
    height: int = 16,
) -> str:
    """The charts as text (``x`` is ``"step"`` or ``"time"``, seconds since each run started)."""
    import plotext as plt

    groups = chart_groups(runs, patterns)
    out: list[str] = []
    for title, names in list(groups.items())[:MAX_CHARTS]:
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("pro" if color else "clear")
        plt.title(title)
        plt.xlabel("step" if x == "step" else "seconds since start")
        lines = 0
        for run in runs:
            for name in names:
                curve = run.curves.get(name)
                if curve is None or not len(curve):
                    continue
                xs, ys = _points(curve, x, run.start_time, width)
                finite = [(a, b) for a, b in zip(xs, ys, strict=True) if math.isfinite(b)]
                if not finite:
                    continue
                label = name if len(runs) == 1 else f"{name} · {run.label}"
                marker = "braille" if color else PLAIN_MARKERS[lines % len(PLAIN_MARKERS)]
                plt.plot([a for a, _ in finite], [b for _, b in finite], label=label, marker=marker)
                lines += 1
        if lines:
            chart = plt.build()
            out.append(chart if color else plt.uncolorize(chart))
    hidden = list(groups)[MAX_CHARTS:]
    if hidden:
        out.append(f"({len(hidden)} more chart(s): {', '.join(hidden)}; choose with --metric)")
    return "\n".join(out)


def _points(
    curve: Curve, x: str, start_time: float | None, buckets: int
) -> tuple[list[float], list[float]]:
    """The curve downsampled to ``buckets``, x by step or by seconds since the start."""
    if x != "time":
        return downsample(curve.steps, curve.values, max(buckets, 1))
    xs, ys = downsample(curve.times, curve.values, max(buckets, 1))
    origin = start_time if start_time is not None else (xs[0] if xs else 0.0)
    return [t - origin for t in xs], ys
