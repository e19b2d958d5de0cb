"""The ``tensorboard`` capture: ``SummaryWriter`` calls also go to the run.

While a run with ``capture_tensorboard`` on is active, every ``SummaryWriter`` of
``torch.utils.tensorboard`` and of ``tensorboardX`` (created before or after ``start_logging``)
still writes its event files, and these calls also log into the run at the call's
``global_step`` (``None``: the name's next automatic step):

=========================================  ===================================================
``add_scalar(tag, value)``                 metric ``tag``
``add_scalars(main_tag, {name: value})``   metrics ``main_tag/name``
``add_histogram(tag, values)``             histogram ``tag``
``add_image(tag, image, dataformats=)``    image ``tag``
``add_images(tag, images, dataformats=)``  image ``tag``: the batch as one grid, 8 per row
``add_text(tag, text)``                    text ``tag``
``add_figure(tag, figure)``                figure ``tag`` (a list: ``tag/0``, ``tag/1``, ...)
``add_hparams(hparams, metrics)``          params ``hparams`` and metrics ``metrics``
=========================================  ===================================================

What TensorBoard does inside one of these calls (``add_hparams`` writes its metrics with
``add_scalar``, ``add_figure`` goes through ``add_image``) is not sent a second time. Each class
is patched once, however many runs start; the patch logs into the active run and is removed
when that run stops, leaving the classes exactly as they were. Calls made by Tracelet itself (a
backend that writes event files, on its delivery thread) are never captured
(:mod:`tracelet.threads`), nor are those of tools that keep TensorBoard files of their own
(:data:`TOOL_MODULES`: Ray Tune's result logger). A call that cannot be turned into
a record (an image format this module does not know) is written to TensorBoard, left out of the
run, and reported once per method as a warning.

Nothing is imported here: a writer module already imported is patched at start, one imported
later is patched as it is imported (:mod:`tracelet_collectors.imports`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

from tracelet.threads import in_tracelet
from tracelet_collectors.patching import PatchCollector, RunPatcher

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.tensorboard")

#: Callers whose ``SummaryWriter`` calls are never captured: tools that write TensorBoard files
#: for their own bookkeeping, such as Ray Tune's result logger in the driver (every trial's
#: results, all at the same steps), which would otherwise land in the user's own run.
TOOL_MODULES = ("ray.",)

#: The modules whose ``SummaryWriter`` class is patched.
WRITER_MODULES = ("torch.utils.tensorboard.writer", "tensorboardX.writer")

Arguments = Mapping[str, Any]


def _numpy(value: Any) -> Any:
    """A numpy array of a tensor (any device) or an array-like."""
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def to_hwc(image: Any, dataformats: str) -> Any:
    """``image`` laid out as TensorBoard's ``dataformats`` says, as an ``HW`` or ``HWC`` array; a
    batch (``NCHW``, ``NHWC``) becomes one grid, 8 images per row."""
    import numpy as np

    array = _numpy(image)
    layout = dataformats.upper()
    if layout in ("HW", "HWC"):
        return array
    if layout == "CHW":
        return array.transpose(1, 2, 0)
    if layout in ("NCHW", "NHWC"):
        batch = array.transpose(0, 2, 3, 1) if layout == "NCHW" else array
        n, h, w, c = batch.shape
        cols = min(8, n)
        rows = -(-n // cols)
        grid = np.zeros((rows * h, cols * w, c), dtype=batch.dtype)
        for i in range(n):
            r, col = divmod(i, cols)
            grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = batch[i]
        return grid
    raise ValueError(f"dataformats {dataformats!r} is not one of HW, HWC, CHW, NCHW, NHWC")


def _scalar(run: Run, a: Arguments) -> None:
    run.log_metric(a["tag"], a["scalar_value"], a["global_step"])


def _scalars(run: Run, a: Arguments) -> None:
    main = a["main_tag"]
    run.log_metrics({f"{main}/{k}": v for k, v in a["tag_scalar_dict"].items()}, a["global_step"])


def _histogram(run: Run, a: Arguments) -> None:
    run.log_histogram(a["tag"], _numpy(a["values"]), a["global_step"])


def _image(run: Run, a: Arguments) -> None:
    run.log_image(a["tag"], to_hwc(a["img_tensor"], a["dataformats"] or "CHW"), a["global_step"])


def _images(run: Run, a: Arguments) -> None:
    run.log_image(a["tag"], to_hwc(a["img_tensor"], a["dataformats"] or "NCHW"), a["global_step"])


def _text(run: Run, a: Arguments) -> None:
    run.log_text(a["tag"], a["text_string"], a["global_step"])


def _figure(run: Run, a: Arguments) -> None:
    figure, tag, step = a["figure"], a["tag"], a["global_step"]
    if isinstance(figure, list):
        for i, one in enumerate(figure):
            run.log_figure(f"{tag}/{i}", one, step)
    else:
        run.log_figure(tag, figure, step)


def _hparams(run: Run, a: Arguments) -> None:
    run.log_params(a["hparam_dict"])
    run.log_metrics(a["metric_dict"], a["global_step"])


#: Method → what it logs into the run, given the call's arguments by name (defaults applied).
FORWARDS: dict[str, Callable[[Run, Arguments], None]] = {
    "add_scalar": _scalar,
    "add_scalars": _scalars,
    "add_histogram": _histogram,
    "add_image": _image,
    "add_images": _images,
    "add_text": _text,
    "add_figure": _figure,
    "add_hparams": _hparams,
}
#: Forwarded before the writer's own call: add_figure closes the figure (close=True).
_FORWARD_FIRST = frozenset({"add_figure"})


class _Method:
    """A patched method: its name, what it logs, and how to name a call's arguments."""

    __slots__ = ("defaults", "forward", "name", "names", "signature")

    def __init__(
        self, name: str, forward: Callable[[Run, Arguments], None], original: Callable[..., Any]
    ) -> None:
        self.name = name
        self.forward = forward
        self.signature = inspect.signature(original)
        params = self.signature.parameters
        self.names = tuple(params)
        self.defaults = {n: p.default for n, p in params.items() if p.default is not p.empty}

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by name, defaults included. The writers' methods take named
        parameters only, so this is a zip (``Signature.bind`` costs ~10 us a call); a call
        that does not fit the signature raises ``TypeError`` as the method itself does."""
        if len(args) > len(self.names) or not kwargs.keys() <= self.signature.parameters.keys():
            self.signature.bind(*args, **kwargs)  # raises the TypeError that describes it
        named = dict(self.defaults)
        named.update(zip(self.names, args, strict=False))
        if kwargs:
            named.update(kwargs)
        return named


class _Capture:
    """The process-wide patch of the writer classes, and what its wrappers need."""

    def __init__(self) -> None:
        self.local = threading.local()  # .busy: inside a patched call or a not_captured block
        self.warned: set[str] = set()
        wrappers = {name: self._wrapper(name) for name in FORWARDS}
        self.patcher = RunPatcher(WRITER_MODULES, "SummaryWriter", lambda _: wrappers)

    def _wrapper(self, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        local = self.local

        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            call = _Method(method, FORWARDS[method], original)
            first = method in _FORWARD_FIRST

            @functools.wraps(original)
            def patched(*args: Any, **kwargs: Any) -> Any:
                run = self.patcher.run
                if (
                    run is None
                    or getattr(local, "busy", False)
                    or in_tracelet()
                    or _from_tool(sys._getframe(1))
                ):
                    return original(*args, **kwargs)
                local.busy = True
                try:
                    if first:
                        self._forward(call, run, args, kwargs)
                    result = original(*args, **kwargs)
                finally:
                    local.busy = False
                if not first:
                    self._forward(call, run, args, kwargs)
                return result

            return patched

        return wrap

    def _forward(
        self, call: _Method, run: Run, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """Log the call (``args`` start with the writer) into ``run``; a failure is reported
        once per method and never reaches the caller."""
        try:
            call.forward(run, call.arguments(args, kwargs))
        except Exception as exc:
            if call.name not in self.warned:
                self.warned.add(call.name)
                logger.warning(
                    "tracelet: SummaryWriter.%s was written to TensorBoard but not to the run: "
                    "%s (further such calls are not reported)",
                    call.name,
                    exc,
                )

    @contextlib.contextmanager
    def not_captured(self) -> Iterator[None]:
        """``SummaryWriter`` calls made in this block, on this thread, are not sent to the run."""
        busy = getattr(self.local, "busy", False)
        self.local.busy = True
        try:
            yield
        finally:
            self.local.busy = busy


def _from_tool(frame: FrameType) -> bool:
    """Whether the calling code is a tool's own TensorBoard logger (:data:`TOOL_MODULES`)."""
    return str(frame.f_globals.get("__name__", "")).startswith(TOOL_MODULES)


_capture = _Capture()
#: See :meth:`_Capture.not_captured` (the Lightning capture uses it for TensorBoardLogger).
not_captured = _capture.not_captured


def uncaptured(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` wrapped so that the ``SummaryWriter`` calls it makes are not sent to the run:
    for a framework's own TensorBoard logger, whose values the run gets another way."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with not_captured():
            return method(*args, **kwargs)

    return call


def create(settings: Any) -> PatchCollector | None:
    """The factory: a capture when ``capture_tensorboard`` is on."""
    return PatchCollector(_capture.patcher) if settings.capture_tensorboard else None
