"""What a backend's tests tell the contract kit: how to select the backend, what it declares
it stores, and how to read a run back through the backend's own reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost
    from tracelet.run import Run


@dataclass
class StoredRun:
    """A run as the backend stored it, in Tracelet's terms.

    Attributes:
        metrics: Metric name → ``(step, value)`` pairs in the backend's stored order.
        metric_times: Metric name → the stored timestamp (seconds since the epoch) of each point
            of :attr:`metrics`, in the same order. Leave it empty only when the harness declares
            ``timestamp_precision = None``.
        params: Param name → value as the backend stores it (compared as text).
        tags: Tag name → value.
        artifacts: Artifact path (``"models/best.pt"``; files of a logged directory as
            ``"<name>/<relative path>"``) → content.
        status: ``"finished"``, ``"failed"`` or ``"killed"`` once closed. ``None`` is accepted
            only when the harness declares ``stores_status = False``.
        name: The run's name as stored, if the backend stores one.
        images: Image name → ``(step, encoded image file)`` pairs (PNG, or any format Pillow
            reads), for a backend that declares ``images``.
        histograms: Histogram name → ``(step, counts per bin)`` pairs, for ``histograms``.
        texts: Text name → ``(step, text)`` pairs, for ``text``.
    """

    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    metric_times: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    status: str | None = None
    name: str | None = None
    images: dict[str, list[tuple[int, bytes]]] | None = None
    histograms: dict[str, list[tuple[int, list[float]]]] | None = None
    texts: dict[str, list[tuple[int, str]]] | None = None


class BackendHarness:
    """How the contract drives one backend. Subclass it; set :attr:`backend`; implement ``read``.

    Attributes:
        backend: The backend's name (what users pass as ``backend=``).
        host: The plugin host to use; ``None`` uses the default one (installed plugins).
        killed_status: What the backend reports after ``run.stop("killed")`` (a backend with no
            "killed" state may report ``"failed"``).
        stores_status: ``False`` when the tool has no run status (the kit then expects
            :attr:`StoredRun.status` to be ``None``).
        timestamp_precision: How close, in seconds, a stored point's timestamp must be to the
            time of the ``log_metric`` call. ``None`` when the tool records its own time (of
            delivery) or none: the kit then checks no timestamps.
        image_tolerance: How far a stored pixel may be from the logged one, per channel (0 for
            lossless formats; a tool that stores JPEG needs more).
    """

    backend: ClassVar[str] = ""
    host: PluginHost | None = None
    killed_status: ClassVar[str] = "killed"
    stores_status: ClassVar[bool] = True
    timestamp_precision: ClassVar[float | None] = 0.001
    image_tolerance: ClassVar[int] = 0

    def config(self) -> dict[str, Any]:
        """The ``config`` argument for ``start_logging`` (e.g. a temp dir for the backend)."""
        return {}

    def read(self, run: Run) -> StoredRun:
        """Read the (stopped) run back through the backend's own reader."""
        raise NotImplementedError
