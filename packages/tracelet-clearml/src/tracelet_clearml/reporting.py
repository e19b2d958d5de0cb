"""Metrics and media as calls on a ClearML task's ``Logger``.

* metrics: ``report_scalar(title, series, value, iteration=step)``; a name ``a/b/c`` is title
  ``a/b`` and series ``c`` (:func:`title_series`), a name without ``/`` is both title and series;
* images: ``report_image`` of the PNG file, kept as PNG; figures: the same (matplotlib) or
  ``report_plotly``; histograms: ``report_histogram`` with one bar per bin, labelled by its
  range; text: a line ``[name @ step] text`` in the task's console log (``report_text``).

Each call raises what ClearML raises.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING

from tracelet.backend_kit import PlannedCall, ResumableLoop
from tracelet.records import Figure, Histogram, Image, Media, Text

if TYPE_CHECKING:
    from clearml import Logger


def title_series(name: str) -> tuple[str, str]:
    """ClearML's (title, series) for a metric name: ``a/b/c`` → (``a/b``, ``c``)."""
    title, _, series = name.rpartition("/")
    return (title, series) if title and series else (name, name)


def report_scalars(
    report_logger: Logger, points: ResumableLoop[tuple[str, float, int, float]]
) -> None:
    """Report the points not reported yet (a retry resumes after the last one reported)."""
    report = report_logger.report_scalar
    names: dict[str, tuple[str, str]] = {}
    for name, value, step, _ts in points:
        pair = names.get(name)
        if pair is None:
            pair = names[name] = title_series(name)
        report(pair[0], pair[1], value, iteration=step)


def media_call(report_logger: Logger, media: Media) -> PlannedCall:
    """The call that reports one media record (see the module docstring); the record's name
    gives the title and series (:func:`title_series`)."""
    title, series = title_series(media.name)
    if isinstance(media, Text):
        text = f"[{media.name} @ step {media.step}] {media.text}"
        return lambda: report_logger.report_text(text, print_console=False)
    if isinstance(media, Histogram):
        edges = media.edges
        labels = [f"{edges[i]:.4g}..{edges[i + 1]:.4g}" for i in range(len(media.counts))]
        counts = list(media.counts)
        return lambda: report_logger.report_histogram(
            title, series, values=counts, iteration=media.step, xlabels=labels
        )
    if isinstance(media, Image | Figure) and media.png is not None:
        png, step = media.png, media.step
        return lambda: report_png(report_logger, title, series, step, png)
    assert isinstance(media, Figure)
    assert media.plotly_json is not None
    figure = json.loads(media.plotly_json)
    return lambda: report_logger.report_plotly(title, series, figure=figure, iteration=media.step)


def report_png(report_logger: Logger, title: str, series: str, step: int, png: bytes) -> None:
    """Report the PNG as a file: given a picture instead, ClearML would store it as JPEG (its
    default image format), which changes the pixels. ClearML deletes the file once stored."""
    fd, path = tempfile.mkstemp(prefix="tracelet-", suffix=".png")
    with os.fdopen(fd, "wb") as file:
        file.write(png)
    report_logger.report_image(
        title, series, iteration=step, local_path=path, delete_after_upload=True
    )
