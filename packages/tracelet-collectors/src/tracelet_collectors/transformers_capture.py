"""The ``transformers`` capture: a Hugging Face ``Trainer`` built while a run is active logs into
it, and only through Tracelet.

With ``capture_transformers`` on, from run start to stop, ``CallbackHandler.on_init_end`` of
``transformers.trainer_callback`` (imported before or after the start; nothing is imported here)
is wrapped. ``Trainer.__init__`` calls it once, at its end, and it is the first event the
callbacks get (AIM's callback creates its run there). Before it, the trainer's callbacks are
changed:

* transformers' callbacks for a tracker the run already sends to are removed, so no value
  reaches that tracker twice: ``MLflowCallback`` (backend ``mlflow``), ``WandbCallback``
  (``wandb``), ``ClearMLCallback`` (``clearml``), and AIM's own ``aim.hugging_face.AimCallback``
  (``aim``). Only these exact classes: a subclass such as ``DagsHubCallback`` logs elsewhere.
* unless one is there, a :class:`~tracelet_collectors.transformers.TraceletCallback` for the
  active run is inserted after transformers' ``DefaultFlowCallback``: where the ``report_to``
  callbacks sit, before the callbacks that print (and may alter) the logs;
* ``TensorBoardCallback`` (``report_to="tensorboard"``) keeps writing its event files, but its
  ``SummaryWriter`` calls are left out of the TensorBoard capture: its values reach the run once,
  through the TraceletCallback.

A callback added after the trainer is built (``trainer.add_callback(MLflowCallback)``) is kept.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracelet.threads import in_tracelet
from tracelet_collectors.patching import PatchCollector, RunPatcher
from tracelet_collectors.tensorboard import uncaptured

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.transformers")

CALLBACK_MODULE = "transformers.trainer_callback"
_INTEGRATIONS = "transformers.integrations.integration_utils"
#: ``(module, class name)`` of a callback → the backend it sends to.
REPLACED_CALLBACKS = {
    (_INTEGRATIONS, "MLflowCallback"): "mlflow",
    (_INTEGRATIONS, "WandbCallback"): "wandb",
    (_INTEGRATIONS, "ClearMLCallback"): "clearml",
    ("aim.sdk.adapters.hugging_face", "AimCallback"): "aim",
}
_TENSORBOARD_CALLBACK = (_INTEGRATIONS, "TensorBoardCallback")
#: The events in which ``TensorBoardCallback`` writes.
_TENSORBOARD_EVENTS = ("on_train_begin", "on_log", "on_train_end")


def _on_init_end_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def on_init_end(handler: Any, *args: Any, **kwargs: Any) -> Any:
        run = _patcher.run
        if run is not None and not in_tracelet():  # a Trainer a backend builds is its own
            adapt_callbacks(handler.callbacks, run)
        return original(handler, *args, **kwargs)

    return on_init_end


_patcher = RunPatcher(
    [CALLBACK_MODULE], "CallbackHandler", lambda module: {"on_init_end": _on_init_end_wrapper}
)


def _kind(callback: object) -> tuple[str, str]:
    cls = type(callback)
    return cls.__module__, cls.__qualname__


def adapt_callbacks(callbacks: list[Any], run: Run) -> None:
    """Change a trainer's ``callbacks`` (its ``callback_handler.callbacks``), in place, for
    ``run`` as the module doc says."""
    from transformers.trainer_callback import DefaultFlowCallback

    from tracelet_collectors.transformers import TraceletCallback

    for callback in list(callbacks):
        backend = REPLACED_CALLBACKS.get(_kind(callback))
        if backend in run.backends:
            callbacks.remove(callback)
            logger.info(
                "tracelet: removed %s from the Trainer: the run sends to %s itself",
                type(callback).__name__,
                backend,
            )
        elif _kind(callback) == _TENSORBOARD_CALLBACK:
            for event in _TENSORBOARD_EVENTS:
                setattr(callback, event, uncaptured(getattr(callback, event)))
    if not any(isinstance(callback, TraceletCallback) for callback in callbacks):
        at = 0
        while at < len(callbacks) and isinstance(callbacks[at], DefaultFlowCallback):
            at += 1
        callbacks.insert(at, TraceletCallback(run))


def create(settings: Any) -> PatchCollector | None:
    """The factory: a capture when ``capture_transformers`` is on."""
    return PatchCollector(_patcher) if settings.capture_transformers else None
