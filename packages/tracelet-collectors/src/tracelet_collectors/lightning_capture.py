"""The ``lightning`` capture: a ``Trainer`` built while a run is active logs into it.

With ``capture_lightning`` on, from run start to stop, ``Trainer.__init__`` of
``lightning.pytorch`` and of ``pytorch_lightning`` (imported before or after the start; nothing
is imported here) is wrapped: a trainer whose loggers include no ``TraceletLogger`` gets one for
the active run, after the loggers it was given. ``Trainer(logger=False)`` is left alone.

A trainer that has a ``TraceletLogger`` (added or given) and also Lightning's
``TensorBoardLogger`` would send each value twice: once through the TraceletLogger, once through
the TensorBoard capture of the ``SummaryWriter`` the TensorBoardLogger uses. That logger's calls
are therefore left out of the TensorBoard capture; its event files are written as usual.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tracelet_collectors.imports import ImportWatcher
from tracelet_collectors.lightning_logger import is_tracelet_logger, logger_class
from tracelet_collectors.patching import ClassPatch
from tracelet_collectors.tensorboard import not_captured

if TYPE_CHECKING:
    from tracelet.run import Run

#: Trainer module → the package its loggers belong to.
TRAINER_MODULES = {
    "lightning.pytorch.trainer.trainer": "lightning.pytorch",
    "pytorch_lightning.trainer.trainer": "pytorch_lightning",
}
#: The methods of a TensorBoardLogger whose SummaryWriter calls are left out of the capture.
_TENSORBOARD_LOGGER_METHODS = ("log_metrics", "log_hyperparams", "log_graph")


class _Capture:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.run: Run | None = None
        self.patches: list[ClassPatch] = []
        self.watcher: ImportWatcher | None = None

    def attach(self, run: Run) -> None:
        with self.lock:
            self.run = run
            if self.watcher is None:
                self.watcher = ImportWatcher(list(TRAINER_MODULES), self.patch_module)

    def detach(self, run: Run) -> None:
        with self.lock:
            if self.run is not run:
                return
            self.run = None
            if self.watcher is not None:
                self.watcher.close()
                self.watcher = None
            for patch in self.patches:
                patch.restore()
            self.patches.clear()

    def patch_module(self, module: ModuleType) -> None:
        package = TRAINER_MODULES[module.__name__]
        cls = getattr(module, "Trainer", None)
        with self.lock:
            if not isinstance(cls, type) or any(p.cls is cls for p in self.patches):
                return
            self.patches.append(ClassPatch(cls, {"__init__": self._init_wrapper(package)}))

    def _init_wrapper(self, package: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
        def wrap(original: Callable[..., None]) -> Callable[..., None]:
            @functools.wraps(original)
            def __init__(trainer: Any, *args: Any, **kwargs: Any) -> None:
                original(trainer, *args, **kwargs)
                run = self.run
                if run is not None and kwargs.get("logger", True) is not False:
                    add_tracelet_logger(trainer, package, run)

            return __init__

        return wrap


def add_tracelet_logger(trainer: Any, package: str, run: Run) -> None:
    """Give ``trainer`` a TraceletLogger for ``run`` unless it has one, and keep its
    TensorBoardLoggers out of the TensorBoard capture."""
    loggers = list(trainer.loggers)
    if not any(is_tracelet_logger(lg) for lg in loggers):
        loggers.append(logger_class(package)(run))
        trainer.loggers = loggers
    for lg in loggers:
        if type(lg).__name__ == "TensorBoardLogger":
            for method in _TENSORBOARD_LOGGER_METHODS:
                setattr(lg, method, _uncaptured(getattr(lg, method)))


def _uncaptured(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with not_captured():
            return method(*args, **kwargs)

    return call


_capture = _Capture()


class LightningCapture:
    """The collector: wraps ``Trainer.__init__`` from ``start`` to ``stop``."""

    def __init__(self) -> None:
        self._run: Run | None = None

    def start(self, run: Run) -> None:
        self._run = run
        _capture.attach(run)

    def stop(self) -> None:
        if self._run is not None:
            _capture.detach(self._run)


def create(settings: Any) -> LightningCapture | None:
    """The factory: a capture when ``capture_lightning`` is on."""
    return LightningCapture() if settings.capture_lightning else None
