"""``TraceletCallback``: a Keras 3 callback that logs ``model.fit`` into a Tracelet run.

Importing this module imports Keras (with the backend ``KERAS_BACKEND`` names); importing
:mod:`tracelet_collectors` or its plugin does not.

What ``fit`` logs, and at which step:

* **epoch metrics** — the ``logs`` Keras passes to ``on_epoch_end``, under Keras' names
  (``loss``, ``val_loss``, ``accuracy``, ...), the values ``History`` records, at the epoch
  index Keras counts (0, 1, 2, ...; ``History.epoch``; ``initial_epoch`` continues it); plus
  ``learning_rate``, the optimizer's rate when the epoch ends, unless the logs carry one
  already (``ReduceLROnPlateau`` and ``LearningRateScheduler`` put it there);
* **batch metrics** (``log_batches``) — the logs of ``on_train_batch_end`` as
  ``batch/<name>`` at the global batch step: the number of training batches done, counted
  from the optimizer's ``iterations`` when ``fit`` starts, so a second ``fit`` of the same model
  continues the axis;
* **params** (``log_params``), once per ``fit``: ``epochs`` and ``steps_per_epoch`` (Keras'
  ``self.params``), ``optimizer/<key>`` (``optimizer.get_config()``, ``None`` values left
  out), and a bounded summary of the model: ``model/name``, ``model/class``, ``model/loss``,
  ``model/layers`` (top-level count), ``model/layer_types/<class>`` (count per class),
  ``model/params``, ``model/trainable_params``, and ``keras/backend``.

The run is the one given to the callback, else the run active when ``fit`` starts, else one
the callback starts then with its ``start_logging`` keyword arguments and stops when ``fit``
returns. Keras calls ``on_train_end`` only when ``fit`` returns: after a ``fit`` that raised,
the callback's own run is still running; the next ``fit`` with the same callback stops it as
``"failed"`` first, and an exception that ends the program stops it as ``"failed"`` at exit.
A run the callback did not start is left running when ``fit`` returns.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import keras  # type: ignore[import-untyped]

import tracelet

#: The prefix of batch metrics, keeping them apart from the epoch metrics of the same name.
BATCH_PREFIX = "batch/"


class TraceletCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Logs ``model.fit`` into a Tracelet run: epoch metrics at the epoch index, optionally
    batch metrics at the global batch step, and params (see the module documentation).

    Args:
        run: The run to log into (never stopped by the callback). Default: the run active
            when ``fit`` starts, else a run the callback starts and stops.
        log_batches: ``False`` (default): epoch metrics only. ``True``: also every training
            batch's logs, as ``batch/<name>``. An integer ``N``: at global batch steps that
            are multiples of ``N``.
        log_params: Log the params at the start of each ``fit``. Turn it off for a second
            ``fit`` into the same run whose settings differ (MLflow keeps a param's first
            value and refuses another).
        **start_logging: Keyword arguments of :func:`tracelet.start_logging` (``exp_name``,
            ``project``, ``backend``, ``config``), used only when the callback starts a run.

    Raises:
        TypeError: A keyword argument that :func:`tracelet.start_logging` does not take.
        ValueError: ``log_batches`` is neither a boolean nor a positive integer.
    """

    def __init__(
        self,
        run: tracelet.Run | None = None,
        *,
        log_batches: bool | int = False,
        log_params: bool = True,
        **start_logging: Any,
    ) -> None:
        super().__init__()
        inspect.signature(tracelet.start_logging).bind(**start_logging)
        if isinstance(log_batches, bool):
            every = 1 if log_batches else 0
        elif isinstance(log_batches, int) and log_batches > 0:
            every = log_batches
        else:
            raise ValueError(
                f"log_batches must be True, False or a positive integer; got {log_batches!r}"
            )
        self._given = run
        self._start_logging = start_logging
        self._every = every
        self._log_params = log_params
        # Keras calls batch hooks of callbacks that are all `async_safe` from its thread pool,
        # several at a time and out of order. Logging batches needs them in order, on the
        # training thread; without batch logging the hook does nothing and Keras' asynchronous
        # dispatch stays on.
        self.async_safe = not every
        self._run: tracelet.Run | None = None
        self._own: tracelet.Run | None = None
        # Batch steps: `_offset` batches were done before the current epoch, `_done` in all.
        self._offset = 0
        self._done = 0

    @property
    def run(self) -> tracelet.Run | None:
        """The run of the current ``fit``, or of the last one; ``None`` before the first."""
        return self._run

    # -- Keras hooks ---------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._own is not None and self._own.status == "running":
            # on_train_end never came: the last fit raised.
            self._own.stop("failed")
        self._own = None
        run = self._given or tracelet.get_active_run()
        if run is None:
            run = self._own = tracelet.start_logging(**self._start_logging)
        self._run = run
        self._offset = self._done = _iterations(self.model)
        if self._log_params:
            run.log_params(self._params())

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._offset = self._done

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if not self._every or self._run is None:
            return
        # `batch` is the index in the epoch of the last batch the call covers (with
        # steps_per_execution > 1, one call covers several).
        step = self._done = self._offset + batch + 1
        if step % self._every == 0:
            metrics = _numbers(logs)
            self._run.log_metrics({BATCH_PREFIX + k: v for k, v in metrics.items()}, step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._run is None:
            return
        metrics = _numbers(logs)
        if "learning_rate" not in metrics:
            rate = _learning_rate(self.model)
            if rate is not None:
                metrics["learning_rate"] = rate
        self._run.log_metrics(metrics, epoch)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        # A run the callback did not start is left running and is not flushed: its records
        # reach the backends in the background, and a slow backend must not hold up the code
        # after fit (run.flush() waits, for whoever needs it).
        if self._run is not None and self._run is self._own:
            self._own = None
            self._run.stop()

    # -- what is logged ------------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        fit = self.params or {}
        params: dict[str, Any] = {
            "epochs": fit.get("epochs"),
            "steps_per_epoch": fit.get("steps"),
            "keras": {"backend": keras.backend.backend()},
            "model": _model_summary(self.model),
        }
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            params["optimizer"] = _optimizer_config(optimizer)
        return {k: v for k, v in params.items() if v is not None}


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The numeric values of Keras ``logs`` (Keras turns tensors into floats before callbacks
    see them; anything else is left out)."""
    return {
        k: v
        for k, v in (logs or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _iterations(model: Any) -> int:
    """The optimizer's update count, or 0 when the model has none to read."""
    try:
        return int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    except Exception:  # no optimizer, or one without iterations: count from 0
        return 0


def _learning_rate(model: Any) -> float | None:
    """The optimizer's current learning rate (a schedule's value at the current iteration),
    or ``None`` when it has none to read."""
    try:
        value = model.optimizer.learning_rate
        return _float32_text(float(keras.ops.convert_to_numpy(value)))
    except Exception:  # no optimizer, or a rate that is not a number
        return None


def _float32_text(value: float) -> float:
    """A float32 value as the shortest decimal that reads back as it: ``0.01``, not the
    ``0.009999999776482582`` a float32 variable holding 0.01 gives as a Python float."""
    import numpy as np

    return float(str(np.float32(value))) if math.isfinite(value) else value


def _optimizer_config(optimizer: Any) -> dict[str, Any]:
    """``optimizer.get_config()`` without ``None`` values; a float learning rate as the
    float32 value the optimizer holds, written short."""
    try:
        config = dict(optimizer.get_config())
    except Exception:  # a custom optimizer without a config
        return {"name": type(optimizer).__name__}
    rate = config.get("learning_rate")
    if isinstance(rate, float):
        config["learning_rate"] = _float32_text(rate)
    return {str(k): v for k, v in config.items() if v is not None}


def _model_summary(model: Any) -> dict[str, Any]:
    """A bounded description of the model: its name and class, its loss, the top-level layer
    count and classes, and its parameter counts."""
    layers = list(getattr(model, "layers", []))
    summary: dict[str, Any] = {
        "name": getattr(model, "name", None),
        "class": type(model).__name__,
        "loss": _name_of(getattr(model, "loss", None)),
        "layers": len(layers),
        "layer_types": dict(sorted(Counter(type(layer).__name__ for layer in layers).items())),
    }
    try:
        summary["params"] = sum(math.prod(w.shape) for w in model.weights)
        summary["trainable_params"] = sum(math.prod(w.shape) for w in model.trainable_weights)
    except Exception:  # weights of unknown shape
        pass
    return {k: v for k, v in summary.items() if v is not None and v != {}}


def _name_of(loss: Any) -> Any:
    """A loss as a short name: a string as is, a ``Loss`` by its ``name``, a function by its
    ``__name__``; a mapping or list of them (several outputs) element by element."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Mapping):
        return {str(k): _name_of(v) for k, v in loss.items()}
    if isinstance(loss, list | tuple):
        return ", ".join(str(_name_of(v)) for v in loss)
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


__all__ = ["BATCH_PREFIX", "TraceletCallback"]
