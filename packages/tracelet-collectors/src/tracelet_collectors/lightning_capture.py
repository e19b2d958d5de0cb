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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracelet.threads import in_tracelet
from tracelet_collectors.lightning_logger import is_tracelet_logger, logger_class
from tracelet_collectors.patching import PatchCollector, RunPatcher, Wrap
from tracelet_collectors.tensorboard import uncaptured

if TYPE_CHECKING:
    from tracelet.run import Run

#: Trainer module → the package its loggers belong to.
TRAINER_MODULES = {
    "lightning.pytorch.trainer.trainer": "lightning.pytorch",
    "pytorch_lightning.trainer.trainer": "pytorch_lightning",
}
#: The methods of a TensorBoardLogger whose SummaryWriter calls are left out of the capture.
_TENSORBOARD_LOGGER_METHODS = ("log_metrics", "log_hyperparams", "log_graph")


def _init_wrapper(package: str) -> Wrap:
    def wrap(original: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(original)
        def __init__(trainer: Any, *args: Any, **kwargs: Any) -> None:
            original(trainer, *args, **kwargs)
            run = _patcher.run
            if run is None or in_tracelet():  # a Trainer a backend builds is its own
                return
            if kwargs.get("logger", True) is not False:
                add_tracelet_logger(trainer, package, run)

        return __init__

    return wrap


_patcher = RunPatcher(
    list(TRAINER_MODULES),
    "Trainer",
    lambda module: {"__init__": _init_wrapper(TRAINER_MODULES[module.__name__])},
)


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
                setattr(lg, method, uncaptured(getattr(lg, method)))


def create(settings: Any) -> PatchCollector | None:
    """The factory: a capture when ``capture_lightning`` is on."""
    return PatchCollector(_patcher) if settings.capture_lightning else None
