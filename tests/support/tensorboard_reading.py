"""Reading TensorBoard event files back with tensorboard's own ``EventAccumulator``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Events:
    """What the event files under one log folder (its sub-folders included) hold, by tag."""

    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    histograms: dict[str, list[int]] = field(default_factory=dict)  # tag -> steps
    images: dict[str, list[int]] = field(default_factory=dict)
    tensors: dict[str, list[int]] = field(default_factory=dict)  # text, hparams summaries


def read_events(logdir: Path) -> Events:
    """Every event folder under ``logdir``; a sub-folder's tags are prefixed with its path
    (``add_scalars`` writes ``main_tag/name`` into a sub-folder ``main_tag_name``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = Events()
    folders = sorted({p.parent for p in logdir.rglob("events.out.tfevents.*")})
    for folder in folders:
        prefix = "" if folder == logdir else f"{folder.relative_to(logdir).as_posix()}:"
        acc: Any = EventAccumulator(
            str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
        )
        acc.Reload()
        tags = acc.Tags()
        for tag in tags["scalars"]:
            events.scalars[prefix + tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
        for tag in tags["histograms"]:
            events.histograms[prefix + tag] = [e.step for e in acc.Histograms(tag)]
        for tag in tags["images"]:
            events.images[prefix + tag] = [e.step for e in acc.Images(tag)]
        for tag in tags["tensors"]:
            events.tensors[prefix + tag] = [e.step for e in acc.Tensors(tag)]
    return events
