"""One run folder read for a report: what it holds, with every curve cut down for display.

:func:`read_snapshot` reads the metric points with :class:`~tracelet.viewer.series.RunCurves`
and reduces each curve with :func:`~tracelet.viewer.series.downsample` (first, minimum, maximum
and last point of each bucket, so no spike is lost). The other records (params, tags, media)
are a few lines among millions of metric points: :func:`scan_records` finds the lines that are
JSON objects (``{`` at the start of a line) with ``find`` on a memory map and decodes only
those. Only complete lines are read, as far as the metric reader got, so a run still being
written gives a consistent snapshot. Typed artifact versions are read from their manifests
(:meth:`~tracelet.backends.local.LocalRun.typed_artifacts`), not from the records.

A :class:`RunSnapshot` holds plain data (arrays, bytes, dicts), so it is cheap to send back from
a worker process: :mod:`tracelet.viewer.report` reads several runs in parallel.
"""

from __future__ import annotations

import math
import mmap
import os
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tracelet.artifacts import ArtifactInfo
from tracelet.journal import RECORDS_FILE, RUN_FILE

#: Metric names with these prefixes are system metrics (the ``system`` and ``gpu`` collectors
#: log under ``system/``, also as ``system/rank.<r>/`` in multi-process runs; ``gpu/`` is what
#: other tools use).
SYSTEM_PREFIXES = ("system/", "gpu/")


@dataclass
class CurveSnapshot:
    """One metric of one run, ready to draw.

    Attributes:
        steps, values: The points kept by downsampling, in logging order.
        seconds: When each kept point was logged, in seconds since the run started.
        points: How many points the run logged for this metric.
        last_step, last: The last point logged.
        low, high: The smallest and largest value logged (NaN left out; ``None`` when every
            value is NaN). Downsampling keeps each bucket's extremes, so these are exact.
    """

    steps: array[float]
    values: array[float]
    seconds: array[float]
    points: int
    last_step: int
    last: float
    low: float | None
    high: float | None


@dataclass
class MediaItem:
    """An image, figure, text or histogram record, with what it points at read in.

    Attributes:
        kind: ``image``, ``figure``, ``text`` or ``histogram``.
        name, step, seq: As logged.
        png: The image, or a matplotlib figure rendered at logging time.
        figure: A plotly figure (decoded JSON: ``data``, ``layout``).
        text: A text record's text.
        edges, counts: A histogram's bins.
        caption: An image's caption.
        missing: Why the file could not be read (it was deleted, or is not what it should be).
    """

    kind: str
    name: str
    step: int
    seq: int
    png: bytes | None = None
    figure: dict[str, Any] | None = None
    text: str | None = None
    edges: list[float] | None = None
    counts: list[float] | None = None
    caption: str | None = None
    missing: str | None = None


@dataclass
class PlainArtifact:
    """A file or folder logged with ``log_artifact(path)`` (not a typed artifact).

    Attributes:
        name: Its name as logged (the last record of that name counts).
        path: Its copy in the run folder, or ``None`` when its source was gone before the copy.
        is_dir: Whether it is a folder.
    """

    name: str
    path: Path | None
    is_dir: bool


@dataclass
class RunSnapshot:
    """A run folder as the report shows it."""

    path: Path
    meta: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    curves: dict[str, CurveSnapshot] = field(default_factory=dict)
    media: list[MediaItem] = field(default_factory=list)
    #: Media records left out by the cap (kept: the last ``media_limit`` of each name).
    media_left_out: int = 0
    #: Typed artifact versions (by name, then version) and the other artifacts (by name).
    typed_artifacts: list[ArtifactInfo] = field(default_factory=list)
    artifacts: list[PlainArtifact] = field(default_factory=list)
    points: int = 0
    size: int = 0
    last_time: float | None = None


def read_meta(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of a run folder.

    Raises:
        FileNotFoundError: ``run_dir`` is not a run folder.
    """
    try:
        data = (run_dir / RUN_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{run_dir} is not a Tracelet run folder (no {RUN_FILE})") from None
    meta: dict[str, Any] = msgspec.json.decode(data)
    return meta


def scan_records(run_dir: Path, end: int | None = None) -> list[dict[str, Any]]:
    """Every record of ``records.jsonl`` that is not a metric point in the array form, in
    order: the lines that start with ``{``, up to byte ``end`` (default: the last complete
    line). A line that does not decode (cut by a crash) is left out."""
    path = run_dir / RECORDS_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return []
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as data:
            limit = data.rfind(b"\n") + 1 if end is None else min(end, size)
            found: list[dict[str, Any]] = []

            def next_object(after: int) -> int:
                # A one-byte search runs at memchr speed; a "{" that does not start a line
                # is inside a metric name: look further.
                at = data.find(b"{", after, limit)
                while at > 0 and data[at - 1] != 0x0A:
                    at = data.find(b"{", at + 1, limit)
                return limit if at < 0 else at

            start = next_object(0)
            while start < limit:
                stop = data.find(b"\n", start, limit)
                if stop < 0:
                    break
                try:
                    record = msgspec.json.decode(data[start:stop])
                except msgspec.DecodeError:
                    record = None
                if isinstance(record, dict):
                    found.append(record)
                start = next_object(stop)
            return found
    finally:
        os.close(fd)


def read_params(run_dir: Path) -> dict[str, Any]:
    """The run's params (the last value of each name)."""
    return {r["name"]: r.get("value") for r in scan_records(run_dir) if r.get("type") == "param"}


def read_snapshot(run_dir: Path, *, max_points: int, media_limit: int) -> RunSnapshot:
    """Read a run folder for the report.

    Args:
        run_dir: The run folder.
        max_points: At most this many points per curve (``max_points // 4`` buckets of
            first/min/max/last; a curve with fewer points is kept whole).
        media_limit: Per media name, keep only the last this many records (by step).

    Raises:
        FileNotFoundError: ``run_dir`` is not a run folder.
    """
    from tracelet.viewer.series import Curve, RunCurves

    run_dir = Path(run_dir)
    snapshot = RunSnapshot(run_dir, read_meta(run_dir))
    reader = RunCurves(run_dir)
    snapshot.points = reader.update()
    snapshot.size = reader.offset
    curves: dict[str, Curve] = reader.curves
    records = scan_records(run_dir, reader.offset)
    media: list[dict[str, Any]] = []
    plain: dict[str, dict[str, Any]] = {}
    for record in records:
        kind = record.get("type")
        if kind == "param":
            snapshot.params[record["name"]] = record.get("value")
        elif kind == "tag":
            snapshot.tags[record["name"]] = str(record.get("value"))
        elif kind in ("image", "figure", "text", "histogram"):
            media.append(record)
        elif kind == "artifact":
            plain[str(record.get("name"))] = record
    buckets = max(1, max_points // 4)
    start = snapshot.meta.get("start_time")
    for name, curve in curves.items():
        snapshot.curves[name] = _cut(curve, buckets, start)
        if curve.times:
            last = curve.times[-1]
            snapshot.last_time = (
                last if snapshot.last_time is None else max(snapshot.last_time, last)
            )
    snapshot.media, snapshot.media_left_out = _media(run_dir, media, media_limit)
    snapshot.typed_artifacts, snapshot.artifacts = _artifacts(run_dir, plain)
    return snapshot


def _artifacts(
    run_dir: Path, records: dict[str, dict[str, Any]]
) -> tuple[list[ArtifactInfo], list[PlainArtifact]]:
    """The typed artifact versions in the folder, and the artifact records that are not one.

    A typed version is journaled as a folder record too (``<type>/<name>/v<N>``): the records
    whose copy is a typed version's folder are left out of the plain ones.
    """
    from tracelet.backends.local import read_run

    typed = read_run(run_dir).typed_artifacts()
    typed_folders = {a.path for a in typed if a.path is not None}
    plain = []
    for name, record in sorted(records.items()):
        relative = record.get("path")
        path = None if relative is None else run_dir / str(relative)
        if path is None or path not in typed_folders:
            plain.append(PlainArtifact(name, path, bool(record.get("is_dir"))))
    return typed, plain


def _cut(curve: Any, buckets: int, start: float | None) -> CurveSnapshot:
    """The curve downsampled: the kept points' steps, values and times (the same points:
    :func:`downsample` picks them by position, so it runs once, on the positions)."""
    from tracelet.viewer.series import downsample

    values = curve.values
    kept, _ = downsample(range(len(values)), values, buckets)
    steps, times = curve.steps, curve.times
    origin = start if isinstance(start, (int, float)) else times[0]
    low = high = None
    picked = array("d", [values[i] for i in kept])
    finite = [v for v in picked if not math.isnan(v)]
    if finite:
        low, high = min(finite), max(finite)
    return CurveSnapshot(
        steps=array("d", [steps[i] for i in kept]),
        values=picked,
        seconds=array("d", [times[i] - origin for i in kept]),
        points=len(values),
        last_step=int(steps[-1]),
        last=float(values[-1]),
        low=low,
        high=high,
    )


def _media(run_dir: Path, records: list[dict[str, Any]], limit: int) -> tuple[list[MediaItem], int]:
    """The last ``limit`` records of each kind and name (a histogram: the last one), loaded."""
    by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        by_name.setdefault((record["type"], record["name"]), []).append(record)
    items: list[MediaItem] = []
    left_out = 0
    for (kind, _name), group in sorted(by_name.items()):
        group.sort(key=lambda r: (r.get("step", 0), r.get("seq", 0)))
        keep = 1 if kind == "histogram" else limit
        left_out += max(0, len(group) - keep)
        items.extend(_load(run_dir, r) for r in group[-keep:] if keep > 0)
    return items, left_out


def _load(run_dir: Path, record: Mapping[str, Any]) -> MediaItem:
    kind = record["type"]
    item = MediaItem(kind, record["name"], int(record.get("step", 0)), int(record.get("seq", 0)))
    if kind == "text":
        item.text = str(record.get("text", ""))
    elif kind == "histogram":
        item.edges = [float(e) for e in record.get("edges", [])]
        item.counts = [float(c) for c in record.get("counts", [])]
    else:
        item.caption = record.get("caption")
        relative = record.get("path")
        try:
            data = (run_dir / str(relative)).read_bytes()
        except OSError as exc:
            item.missing = f"{relative}: {exc.strerror or exc}"
            return item
        if str(relative).endswith(".png"):
            item.png = data
        else:
            try:
                figure = msgspec.json.decode(data)
            except msgspec.DecodeError as exc:
                item.missing = f"{relative}: not a plotly figure ({exc})"
                return item
            if isinstance(figure, dict):
                item.figure = figure
            else:
                item.missing = f"{relative}: not a plotly figure"
    return item


def is_system(name: str) -> bool:
    """Whether a metric name is a system metric (see :data:`SYSTEM_PREFIXES`)."""
    return name.startswith(SYSTEM_PREFIXES)
