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
(``exp_name``, ``project``, ``backend``, ``config``, ``group``) and stops at the end of
``train()``. A run the callback did not start is never stopped by it. A log outside
``train()`` (a ``trainer.evaluate()`` after it) goes to the same run while that is still
running, else the run is found again the same way.

In a hyperparameter search (``Trainer.hyperparameter_search``: transformers calls ``train()``
once per trial, with ``state.is_hyper_param_search`` set), each trial is a run of its own,
which the callback starts at the trial's ``on_train_begin`` with
:class:`~tracelet_collectors.sweeps.TrialRuns`: beside the active run (which gets nothing of
the trials and goes on) and with no collectors.

* The trial's run is named ``state.trial_name`` (what ``hp_name`` gives), else
  ``trial-<n>``, counting the callback's trials from 0. It belongs to ``group``, else the group
  named after the run the search is in (the given or active run; else the callback's
  ``exp_name``, else a run name made up once, ``<script>-<date>-<time>``). It is started with
  the project, backends and ``config`` of that run (:meth:`TrialRuns.like
  <tracelet_collectors.sweeps.TrialRuns.like>`), else with the callback's keyword arguments.
* It holds the trial's ``args/*`` and ``model/*`` params, the trial's suggested values
  (``state.trial_params``) as ``trial/<name>``, every log from the trial's ``on_train_begin``
  until its run stops, and, with ``log_model=True``, the model of a trial that trained to its
  end.
* It stops ``finished`` at the trial's ``on_train_end``; or, when no evaluation ran while
  training, after the evaluation transformers then runs for the trial's objective (at the
  next ``on_evaluate``). A trial whose ``train()`` ends without the Trainer's training summary
  (:data:`SUMMARY_KEY`) was pruned: transformers calls ``on_train_end`` before raising
  ``optuna.TrialPruned``; its run stops ``killed``. A trial's run still open when the next
  ``train()`` begins (the trial raised) stops ``failed``; one still open at interpreter exit
  stops as any run does then.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

import tracelet
from tracelet.backend_kit import WarnOnce
from tracelet.values import metric_value
from tracelet_collectors.files import keep_until_exit
from tracelet_collectors.params import string_keys
from tracelet_collectors.sweeps import TrialRuns

if TYPE_CHECKING:
    from tracelet.records import RunStatus
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.transformers")

#: The name prefixes ``split=True`` turns into a ``<prefix>/`` group; others go under ``train/``.
SPLIT_PREFIXES = ("eval_", "test_")
#: The file holding the weights of a model that has no ``save_pretrained``.
WEIGHTS_FILE = "pytorch_model.bin"
#: A key of the training summary the Trainer logs at the end of a ``train()`` it did not cut
#: short (``train_runtime``, ``train_loss``, ...).
SUMMARY_KEY = "train_runtime"


@dataclass
class _Trial:
    """The run of the trial of a hyperparameter search being trained, and what the Trainer did
    in it so far."""

    run: Run
    summarized: bool = False  # the Trainer logged its training summary
    evaluated: bool = False  # an evaluation ran while training: transformers has the objective
    trained: bool = False  # train() ended; the objective's evaluation is still to come


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
        group: The group of the runs the callback starts: its own run, or the trials' runs in
            a hyperparameter search (default there: named after the run the search is in).
        **start_logging: ``exp_name``, ``project``, ``backend``, ``config`` of the run the
            callback starts when it needs one (in a search with no run: of each trial's run).

    Raises:
        TypeError: ``log_model`` or ``split`` is not a bool, ``prefix`` not a string, ``group``
            neither a string nor ``None``.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        log_model: bool = False,
        split: bool = False,
        prefix: str = "",
        group: str | None = None,
        **start_logging: Any,
    ) -> None:
        for name, value, kind in (
            ("log_model", log_model, bool),
            ("split", split, bool),
            ("prefix", prefix, str),
        ):
            if not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__name__}; got {value!r}")
        if group is not None and not isinstance(group, str):
            raise TypeError(f"group must be a str or None; got {group!r}")
        self._given = run
        self._run = run
        self._owned = False
        self._log_model = log_model
        self._split = split
        self._prefix = prefix
        self._group = group
        self._start_logging = start_logging
        self._names: dict[str, str] = {}  # transformers' name → the metric's name
        self._skipped = WarnOnce(logger)
        self._trial: _Trial | None = None  # in a hyperparameter search
        self._trials = 0  # the trials started
        self._made_up_group: str | None = None

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
        run = tracelet.start_logging(**self._start_logging, group=self._group)
        self._run, self._owned = run, True
        return self._run

    def _start_trial(self, args: TrainingArguments, state: TrainerState, model: Any) -> _Trial:
        """Start the run of the trial whose ``train()`` begins (see the module doc)."""
        name = state.trial_name or f"trial-{self._trials}"
        self._trials += 1
        around = self._given or tracelet.get_active_run()
        if around is not None:
            runs, group = TrialRuns.like(around), around.name
        else:
            given = self._start_logging
            config, legacy = given.get("config"), given.get("settings")
            if legacy is not None and (config is None or isinstance(config, Mapping)):
                config = {**legacy, **(config or {})}  # as start_logging merges them
            runs = TrialRuns(given.get("project"), given.get("backend"), config)
            group = given.get("exp_name") or self._default_group()
        run = runs.start(name, self._group or group)
        try:
            params = trainer_params(args, model)
            params["trial"] = string_keys(dict(state.trial_params or {}))
            run.log_params(params)
        except BaseException:
            run.stop("failed")
            raise
        return _Trial(run)

    def _default_group(self) -> str:
        """The trials' group in a search with no run and no ``exp_name``: a run name made up
        once, for all the callback's trials."""
        from tracelet.session import default_run_name

        if self._made_up_group is None:
            self._made_up_group = default_run_name()
        return self._made_up_group

    def _end_trial(self, status: RunStatus) -> None:
        trial, self._trial = self._trial, None
        if trial is not None:
            trial.run.stop(status)

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero:
            return
        self._end_trial("failed")  # the previous trial raised before its run could stop
        if state.is_hyper_param_search:
            self._trial = self._start_trial(args, state, model)
        else:
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
        trial = self._trial
        if trial is not None and SUMMARY_KEY in logs:
            trial.summarized = True
        if metrics:
            run = self._open() if trial is None else trial.run
            run.log_metrics(metrics, step=state.global_step)

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        trial = self._trial
        if not state.is_world_process_zero or trial is None:
            return
        if trial.trained:  # the evaluation of the trial's objective, after its train()
            self._end_trial("finished")
        else:
            trial.evaluated = True

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
        trial = self._trial
        if trial is not None:
            self._trial_trained(trial, model, processing_class)
            return
        run = self._open()
        if self._log_model and model is not None:
            run.log_artifact(save_model(model, processing_class), name="model")
        if self._owned:
            self._owned = False
            run.stop()

    def _trial_trained(self, trial: _Trial, model: Any, processing_class: Any) -> None:
        """The trial's ``train()`` ended: stop its run now (``killed`` if it was pruned), or
        after the evaluation of its objective when none ran while training."""
        if not trial.summarized:  # cut short by transformers, which raises TrialPruned next
            self._end_trial("killed")
            return
        if self._log_model and model is not None:
            trial.run.log_artifact(save_model(model, processing_class), name="model")
        if trial.evaluated:
            self._end_trial("finished")
        else:
            trial.trained = True

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
