"""Helpers for backend authors: what every backend that wraps an SDK needs once.

A backend turns each batch into a plan of SDK calls (:mod:`tracelet.resumable`) and runs them
with a :class:`BatchWriter`. This module holds the pieces the built-in backends (MLflow, W&B,
ClearML, AIM) would otherwise each write in their own shape:

* :class:`BatchWriter`: a :class:`~tracelet.resumable.ResumableWriter` whose planned calls may
  raise :class:`~tracelet.errors.RejectedError` to refuse the records they store; the other
  calls still run, and the refusals are reported once the batch is done.
* :func:`artifact_source`: an artifact's file, or the refusal when it was deleted before upload.
* :func:`typed_manifest`: the typed artifact (:mod:`tracelet.artifacts`) a folder record
  carries, to store it natively; ``None`` for a plain file or folder.
* The media call shape: ``media_call(media) -> PlannedCall``. The conversion (PNG to a picture,
  bins to the SDK's histogram) happens when the batch is planned; the returned call stores the
  record and may raise ``RejectedError`` for a record the SDK cannot take (a plotly figure with
  plotly missing). :func:`pil_image` turns a record's PNG bytes into the picture most SDKs want.
* :class:`ResumableLoop`: one planned call that stores many items (a metric point per SDK
  call), which a retry continues after the last item stored instead of repeating them.
* :class:`WarnOnce`: a warning logged once per key, from any thread.

A backend's plan with them (the docs' "Helpers for backend authors" runs a complete one)::

    def _plan(self, batch: Batch) -> WritePlan:  # self._writer = BatchWriter(self._plan)
        plan = WritePlan(batch)
        points = ResumableLoop(batch.metrics)
        plan.calls.append(lambda: [sdk.log(*point) for point in points])
        plan.calls.extend(
            lambda a=a: sdk.upload(artifact_source(a), a.name) for a in batch.artifacts
        )
        return plan
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from tracelet.artifacts.store import typed_manifest
from tracelet.errors import RejectedError
from tracelet.records import Artifact, Batch, Media
from tracelet.resumable import ResumableWriter, WritePlan

if TYPE_CHECKING:
    import PIL.Image

__all__ = [
    "ARTIFACT_DELETED",
    "BatchWriter",
    "MediaCall",
    "PlannedCall",
    "ResumableLoop",
    "WarnOnce",
    "artifact_source",
    "pil_image",
    "typed_manifest",
]

T = TypeVar("T")

#: One SDK call of a plan: it stores its records, or raises (see :class:`BatchWriter`).
PlannedCall = Callable[[], None]
#: The shape of a backend's media conversion: a record in, the planned call storing it out.
MediaCall = Callable[[Media], PlannedCall]

#: The refusal of an artifact whose file or folder is gone when its upload comes.
ARTIFACT_DELETED = "artifact source deleted before upload: {path}"


# -- writing a batch ------------------------------------------------------------------------


class BatchWriter(ResumableWriter):
    """A :class:`~tracelet.resumable.ResumableWriter` whose calls may refuse their records.

    A planned call that raises :class:`~tracelet.errors.RejectedError` counts as done: its
    message is added to the plan's ``refused`` lines (``count`` times, one line per record),
    the calls after it run, and :meth:`write` raises one ``RejectedError`` for every refused
    record once the batch is done, so the dispatcher counts them as failed and retries
    nothing. Any other exception still means "retry the batch from this call".
    """

    def __init__(self, plan: Callable[[Batch], WritePlan]) -> None:
        def refusable_plan(batch: Batch) -> WritePlan:
            planned = plan(batch)
            planned.calls = [_refusable(call, planned.refused) for call in planned.calls]
            return planned

        super().__init__(refusable_plan)


def _refusable(call: PlannedCall, refused: list[str]) -> PlannedCall:
    def run() -> None:
        try:
            call()
        except RejectedError as exc:
            refused.extend([str(exc)] * exc.count)

    return run


class ResumableLoop(Generic[T]):
    """The items one planned call stores one by one, resumable after a failure.

    Iterating yields the items not stored yet, and counts an item as stored when the loop asks
    for the next one (or ends). When the loop's body raises on item ``k``, the dispatcher
    retries the batch, the writer runs the same call again, and iterating starts at item ``k``:
    the items before it are not stored twice. A ``break`` leaves the current item unstored.

    Attributes:
        items: The items, in order.
        done: How many of them are stored.
    """

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.done = 0

    def __iter__(self) -> Iterator[T]:
        items = self.items
        while self.done < len(items):
            yield items[self.done]
            self.done += 1

    def __len__(self) -> int:
        """How many items are left to store."""
        return len(self.items) - self.done


# -- records --------------------------------------------------------------------------------


def artifact_source(artifact: Artifact) -> Path:
    """The artifact's file or folder, checked when its upload runs.

    Raises:
        RejectedError: The source was deleted since it was logged: retrying cannot bring it
            back, so this one record is refused (message :data:`ARTIFACT_DELETED`).
    """
    if not artifact.path.exists():
        raise RejectedError(ARTIFACT_DELETED.format(path=artifact.path))
    return artifact.path


def pil_image(png: bytes) -> PIL.Image.Image:
    """The PIL image of PNG bytes (an image record's or a matplotlib figure's ``png``).

    PIL reads the pixels lazily, from an in-memory copy: the image stays valid after the batch.

    Raises:
        ImportError: Pillow is not installed (every SDK that takes PIL images requires it).
        PIL.UnidentifiedImageError: The bytes are not an image.
    """
    import PIL.Image

    return PIL.Image.open(io.BytesIO(png))


# -- warnings -------------------------------------------------------------------------------


class WarnOnce:
    """Logs a warning the first time each key comes, from any thread.

    Args:
        logger: Where the warnings go.
        prefix: Put before every message (e.g. ``"tracelet: mlflow: "``).
        suffix: Added to the warning only (e.g. ``" (warned once per run)"``), not to repeats.
        repeat_level: The level the message is logged at for a key seen before; ``None`` (the
            default) logs nothing then.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        prefix: str = "",
        suffix: str = "",
        repeat_level: int | None = None,
    ) -> None:
        self.logger = logger
        self.prefix = prefix
        self.suffix = suffix
        self.repeat_level = repeat_level
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """Whether ``key`` comes for the first time: ``True`` exactly once per key, whichever
        threads ask at the same time."""
        if key in self._seen:  # the common case, without the lock
            return False
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def __call__(self, key: Hashable, message: str, *args: object) -> bool:
        """Log ``prefix + message % args + suffix`` as a warning if ``key`` is new, else
        ``prefix + message % args`` at ``repeat_level``. Without ``args`` the message is logged
        as it is (a ``%`` in it is kept).

        Returns:
            Whether the warning was logged.
        """
        if self.first(key):
            self.logger.warning(self.prefix + message + self.suffix, *args)
            return True
        if self.repeat_level is not None:
            self.logger.log(self.repeat_level, self.prefix + message, *args)
        return False
