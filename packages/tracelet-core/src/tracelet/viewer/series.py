"""Metric curves of a run folder, read for display: fast, incremental, and downsampled.

:class:`RunCurves` reads a run folder's ``records.jsonl`` from where it stopped last time (only
complete lines), so a live run can be redrawn every second without parsing the file again.
Metric points are decoded to small structs by msgspec and kept in ``array`` columns; the other
records are left to :class:`tracelet.backends.local.LocalRun`.

:func:`downsample` reduces a curve to a few points per screen column or pixel while keeping its
extremes: the points are cut into equal buckets by position, and each bucket keeps its first,
minimum, maximum and last point, in order. A spike of one point in ten million still shows,
and a flat stretch stays flat.
"""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Union

import msgspec

from tracelet.journal import RECORDS_FILE


class _Point(msgspec.Struct, array_like=True, gc=False):
    """A metric point as the journal writes it: ``[name, value, step, ts, seq]``; a value that
    is not finite is the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""

    name: str
    value: Union[float, str]  # noqa: UP007 (msgspec needs Union)
    step: int
    ts: float
    seq: int


_decoder = msgspec.json.Decoder(Union[_Point, dict])  # noqa: UP007
#: How much of the file is decoded at once.
_CHUNK = 32 * 1024 * 1024


@dataclass
class Curve:
    """One metric's points, in logging order."""

    steps: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))

    def __len__(self) -> int:
        return len(self.values)


class RunCurves:
    """The metric curves of one run folder, read incrementally with :meth:`update`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / RECORDS_FILE
        self.curves: dict[str, Curve] = {}
        self.offset = 0

    def update(self) -> int:
        """Read what was appended since the last call; returns the number of new points."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            return 0
        # Millions of short-lived objects would set off the cycle collector again and again;
        # none of them can be part of a cycle.
        collecting = gc.isenabled()
        gc.disable()
        try:
            added = self._read(fh)
        finally:
            if collecting:
                gc.enable()
        return added

    def _read(self, fh: BinaryIO) -> int:
        """Read complete lines from ``self.offset`` to the end of ``fh``."""
        added = 0
        pending = b""  # the start of a line that goes on in the next chunk
        with fh:
            fh.seek(self.offset)
            while chunk := fh.read(_CHUNK):
                data = pending + chunk
                end = data.rfind(b"\n") + 1
                if end:
                    added += self._add(data[:end])
                    self.offset += end
                pending = data[end:]
        return added

    def _add(self, lines: bytes) -> int:
        """Add the metric points of complete journal lines; returns how many there were."""
        curves = self.curves
        added = 0
        # One pass, appending to the columns: each point decodes to a small untracked struct,
        # and three array appends cost less than boxing rows into tuples and transposing them.
        for line in _decoder.decode_lines(lines):
            if type(line) is _Point:
                name, value, step, ts = line.name, line.value, line.step, line.ts
            elif line.get("type") == "metric":  # format version 1 wrote points as objects
                name, value, step, ts = line["name"], line["value"], line["step"], line["ts"]
            else:
                continue  # a param, tag, artifact or media record
            curve = curves.get(name)
            if curve is None:
                curve = curves[name] = Curve()
            curve.values.append(value if type(value) is float else float(value))
            curve.steps.append(step)
            curve.times.append(ts)
            added += 1
        return added


def downsample(
    xs: Sequence[float], ys: Sequence[float], buckets: int
) -> tuple[list[float], list[float]]:
    """At most ``4 * buckets`` points of the curve ``(xs, ys)`` that keep its shape: each of
    ``buckets`` equal runs of points keeps its first, minimum, maximum and last point, in order.
    A curve that already fits is returned whole. NaN values are kept out of min and max."""
    n = len(ys)
    if n <= 4 * buckets:
        return list(xs), list(ys)
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        seg = ys[lo:hi]
        if not seg:
            continue
        keep = {lo, hi - 1}
        if math.isnan(sum(seg)):  # a NaN (or inf and -inf): compare the finite values only
            finite = [v for v in seg if not math.isnan(v)]
            seg = finite if finite else []
        if seg:
            # min/max and index run in C; index finds the value's first place in the bucket.
            keep.add(lo + ys[lo:hi].index(min(seg)))
            keep.add(lo + ys[lo:hi].index(max(seg)))
        for i in sorted(keep):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y
