"""What a run records, as the backends receive it.

The training loop's thread creates as little as possible: a metric point travels all the way to
the backends as a plain ``(name, value, step, timestamp)`` tuple (:data:`MetricPoint`): no
object is built per point on any thread, and tuples of atomic values are not tracked by the
garbage collector. Unpack it, or use ``Metric._make(point)`` for attribute access. Everything
else (params, tags, artifacts, media) is rare and is built as its final record at the call.

A backend receives :class:`Batch` objects. It declares which record kinds it can store with
:data:`Capability` names; the dispatcher never sends it a kind it did not declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple, TypeAlias

#: How a run ended. Backends map these onto their own vocabulary (MLflow FINISHED/FAILED/KILLED,
#: a W&B exit code, a ClearML task status).
RunStatus: TypeAlias = Literal["finished", "failed", "killed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("finished", "failed", "killed")

#: The kinds of record a backend may declare it stores.
Capability: TypeAlias = Literal[
    "metrics", "params", "tags", "artifacts", "text", "images", "histograms", "figures"
]
ALL_CAPABILITIES: frozenset[Capability] = frozenset(
    ("metrics", "params", "tags", "artifacts", "text", "images", "histograms", "figures")
)

#: Values a param can hold once normalised; anything else is stored as ``str(value)``.
ParamValue: TypeAlias = str | int | float | bool | None


#: One metric point as backends receive it in :attr:`Batch.metrics`:
#: ``(name, value, step, timestamp)``, with the meanings documented on :class:`Metric`.
MetricPoint: TypeAlias = tuple[str, float, int, float]


class Metric(NamedTuple):
    """One point of a metric, with names (what readers return; same layout as MetricPoint).

    Attributes:
        name: Metric name as the user gave it (``"train/loss"``).
        value: The value as a float; may be NaN or infinite when ``nan_policy`` is ``keep``.
        step: The step the user gave, or the next automatic step of this name (0, 1, 2, ...).
        timestamp: Wall-clock time of the call, seconds since the epoch.
    """

    name: str
    value: float
    step: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class Param:
    """A run parameter (hyperparameter). Nested mappings arrive flattened as ``a/b/c``."""

    name: str
    value: ParamValue


@dataclass(frozen=True, slots=True)
class Tag:
    """A run tag. Values are strings."""

    name: str
    value: str

    def label(self) -> str:
        """The tag as one label, for backends whose tags are labels (W&B, ClearML, AIM):
        ``name:value``, or ``name`` alone when the value is empty."""
        return f"{self.name}:{self.value}" if self.value else self.name


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file or directory to store with the run.

    Attributes:
        path: Absolute path of the file or directory, read when the backend writes the batch.
        name: Destination inside the run's artifact store (``"models/best.pt"``); for a
            directory, the folder its contents go under.
        is_dir: Whether ``path`` is a directory.
    """

    path: Path
    name: str
    is_dir: bool


@dataclass(frozen=True, slots=True)
class Text:
    """A piece of text at a step (a sample prediction, a generated caption)."""

    name: str
    text: str
    step: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class Image:
    """An image at a step, already encoded as PNG bytes by the core.

    Attributes:
        png: The PNG-encoded image.
        width: Width in pixels.
        height: Height in pixels.
        caption: Optional caption.
    """

    name: str
    png: bytes
    width: int
    height: int
    step: int
    timestamp: float
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Histogram:
    """A distribution of values at a step, binned by the core.

    ``counts[i]`` values fell in ``[edges[i], edges[i + 1])`` (the last bin is closed), so
    ``len(edges) == len(counts) + 1``. ``values`` keeps the raw values for backends whose native
    type wants them (W&B, AIM, TensorBoard); it is empty when the caller passed bins.
    """

    name: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    step: int
    timestamp: float
    values: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Figure:
    """A plot at a step. A matplotlib figure arrives rendered as PNG; a plotly one as its JSON."""

    name: str
    step: int
    timestamp: float
    png: bytes | None = None
    plotly_json: str | None = None


Media: TypeAlias = Text | Image | Histogram | Figure

#: The capability each media record needs.
MEDIA_CAPABILITY: dict[type[Media], Capability] = {
    Text: "text",
    Image: "images",
    Histogram: "histograms",
    Figure: "figures",
}

#: What the dispatcher queues: a metric point or a record.
QueuedRecord: TypeAlias = "MetricPoint | Param | Tag | Artifact | Media"


@dataclass(slots=True)
class Batch:
    """Records for one backend write, each list in the order the calls were made.

    Order across kinds is not kept: a backend may apply params, then tags, then metrics, then
    artifacts and media. A batch is shared between backends: treat it as read-only.

    Attributes:
        metrics: Points as ``(name, value, step, timestamp)`` tuples; unpack them
            (``for name, value, step, ts in batch.metrics``).
    """

    metrics: list[MetricPoint] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.metrics)
            + len(self.params)
            + len(self.tags)
            + len(self.artifacts)
            + len(self.media)
        )

    def kinds(self) -> frozenset[Capability]:
        """The capabilities a backend needs to take this whole batch."""
        kinds: set[Capability] = set()
        if self.metrics:
            kinds.add("metrics")
        if self.params:
            kinds.add("params")
        if self.tags:
            kinds.add("tags")
        if self.artifacts:
            kinds.add("artifacts")
        kinds.update(MEDIA_CAPABILITY[type(m)] for m in self.media)
        return frozenset(kinds)

    def restricted_to(self, capabilities: frozenset[Capability]) -> Batch:
        """A batch with only the records of the given kinds (``self`` when nothing is cut)."""
        if self.kinds() <= capabilities:
            return self
        return Batch(
            metrics=self.metrics if "metrics" in capabilities else [],
            params=self.params if "params" in capabilities else [],
            tags=self.tags if "tags" in capabilities else [],
            artifacts=self.artifacts if "artifacts" in capabilities else [],
            media=[m for m in self.media if MEDIA_CAPABILITY[type(m)] in capabilities],
        )

    def halves(self) -> tuple[Batch, Batch]:
        """The records split in two batches of (nearly) equal size, order kept (to find the
        record a backend refuses)."""
        kinds = ("params", "tags", "metrics", "artifacts", "media")
        flat = [(kind, record) for kind in kinds for record in getattr(self, kind)]
        first, second = Batch(), Batch()
        middle = len(flat) // 2
        for i, (kind, record) in enumerate(flat):
            getattr(first if i < middle else second, kind).append(record)
        return first, second
