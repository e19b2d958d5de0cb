"""``TraceletCallback``: a Hugging Face ``transformers.TrainerCallback`` that logs into a Tracelet
run. Importing this module imports transformers.

* At the start of ``train()``: the ``TrainingArguments`` (``args.to_dict()``, access tokens
  masked as transformers masks them) become params ``args/<name>``, and the model's config
  (``model.config.to_dict()``, when the model has one) params ``model/<name>``; nested
  mappings are flattened with ``/``.
* Each ``Trainer.log`` call (``on_log``): the values that are numbers become metrics at
  ``state.global_step``, under transformers' own names (``loss``, ``grad_norm``,
  ``learning_rate``, ``epoch``, ``eval_loss``, ``eval_<metric>``, ``train_runtime``, ...).
  ``split=True`` renames them as W&B's callback does (``eval_loss`` → ``eval/loss``,
  ``test_<x>`` → ``test/<x>``, any other ``<x>`` → ``train/<x>``); ``prefix`` is put in front
  of every name. A value that is not a number is left out (one warning per name on the
  ``tracelet.collectors.transformers`` logger).
* With ``log_model=True``, at the end of ``train()``: the model (``save_pretrained`` when it
  has it, else its ``state_dict`` in ``pytorch_model.bin``) and the processing class (a
  tokenizer...) when it can ``save_pretrained``, saved in a temporary folder, become the
  artifact folder ``model``.
* Only the world's process zero (``state.is_world_process_zero``) logs or starts a run.

The run is the one given; else the active run at the start of ``train()``; else one the
callback starts then with its keyword arguments of :func:`tracelet.start_logging`
(``exp_name``, ``project``, ``backend``, ``config``) and stops at the end of ``train()``. A
run the callback did not start is never stopped by it. A log outside ``train()`` (a
``trainer.evaluate()`` after it) goes to the same run while that is still running, else the
run is found again the same way.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

import tracelet
from tracelet.backend_kit import WarnOnce
from tracelet.values import metric_value
from tracelet_collectors.files import keep_until_exit
from tracelet_collectors.params import string_keys

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.transformers")

#: The name prefixes ``split=True`` turns into a ``<prefix>/`` group; others go under ``train/``.
SPLIT_PREFIXES = ("eval_", "test_")
#: The file holding the weights of a model that has no ``save_pretrained``.
WEIGHTS_FILE = "pytorch_model.bin"


class TraceletCallback(TrainerCallback):
    """Logs a ``transformers.Trainer``'s hyperparameters and logs into a Tracelet run.

    Args:
        run: The run to log into; default: the active run at the start of ``train()``, else
            one the callback starts with ``start_logging`` and stops at the end of ``train()``.
        log_model: Log the trained model as the artifact folder ``model`` at the end of
            ``train()``.
        split: Group the names as W&B's callback does: ``eval_loss`` → ``eval/loss``,
            ``test_<x>`` → ``test/<x>``, others ``train/<x>``. Default: transformers' names.
        prefix: Put in front of every metric name (``"hf/"``).
        **start_logging: ``exp_name``, ``project``, ``backend``, ``config`` of the run the
            callback starts when it needs one.

    Raises:
        TypeError: ``log_model`` or ``split`` is not a bool, ``prefix`` not a string.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        log_model: bool = False,
        split: bool = False,
        prefix: str = "",
        **start_logging: Any,
    ) -> None:
        for name, value, kind in (
            ("log_model", log_model, bool),
            ("split", split, bool),
            ("prefix", prefix, str),
        ):
            if not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__name__}; got {value!r}")
        self._given = run
        self._run = run
        self._owned = False
        self._log_model = log_model
        self._split = split
        self._prefix = prefix
        self._start_logging = start_logging
        self._names: dict[str, str] = {}  # transformers' name → the metric's name
        self._skipped = WarnOnce(logger)

    @property
    def run(self) -> Run | None:
        """The run logged into; ``None`` until the callback first needs one."""
        return self._run

    def _open(self) -> Run:
        """The run to log into now (see the module doc)."""
        run = self._run
        if run is not None and (run is self._given or run.status == "running"):
            return run
        active = tracelet.get_active_run()
        if active is not None:
            self._run, self._owned = active, False
            return active
        self._run, self._owned = tracelet.start_logging(**self._start_logging), True
        return self._run

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if state.is_world_process_zero:
            self._open().log_params(trainer_params(args, model))

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        names = self._names
        metrics: dict[str, float] = {}
        for key, raw in logs.items():
            if type(raw) is float:
                value = raw
            else:
                try:
                    value = metric_value(raw, key)
                except (TypeError, ValueError):
                    self._skip(key, raw)
                    continue
            try:
                metrics[names[key]] = value
            except KeyError:
                metrics[self._name(key)] = value
        if metrics:
            self._open().log_metrics(metrics, step=state.global_step)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        processing_class: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero:
            return
        run = self._open()
        if self._log_model and model is not None:
            run.log_artifact(save_model(model, processing_class), name="model")
        if self._owned:
            self._owned = False
            run.stop()

    def _name(self, key: str) -> str:
        name = key
        if self._split:
            group, sep, rest = key.partition("_")
            name = f"{group}/{rest}" if sep and f"{group}_" in SPLIT_PREFIXES else f"train/{key}"
        self._names[key] = name = self._prefix + name
        return name

    def _skip(self, key: str, value: Any) -> None:
        self._skipped(
            key,
            "tracelet: the Trainer logged %r as a %s, not a number: left out of the run "
            "(reported once)",
            key,
            type(value).__name__,
        )


def trainer_params(args: TrainingArguments, model: Any) -> dict[str, Any]:
    """The params of a training: ``{"args": args.to_dict(), "model": model.config.to_dict()}``
    (``model`` only when the model has a config), with every mapping key a string."""
    params: dict[str, Any] = {"args": string_keys(args.to_dict())}  # type: ignore[no-untyped-call]
    to_dict = getattr(getattr(model, "config", None), "to_dict", None)
    if callable(to_dict):
        params["model"] = string_keys(to_dict())
    return params


def save_model(model: Any, processing_class: Any = None) -> str:
    """Save ``model`` (and ``processing_class``, when it can ``save_pretrained``) in a new
    temporary folder, kept until the interpreter exits; returns the folder."""
    folder = keep_until_exit(tempfile.mkdtemp(prefix="tracelet-model-"))
    if callable(getattr(model, "save_pretrained", None)):
        model.save_pretrained(folder)
    else:
        import torch

        torch.save(model.state_dict(), folder / WEIGHTS_FILE)
    if callable(getattr(processing_class, "save_pretrained", None)):
        processing_class.save_pretrained(folder)
    return str(folder)


__all__ = ["TraceletCallback"]
