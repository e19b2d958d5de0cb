"""``TraceletCallback``: logs each trial of an Optuna study as a Tracelet run of the study's group.

Give it to ``study.optimize(objective, n_trials=..., callbacks=[TraceletCallback()])``. Optuna
calls it in the optimizing process after each trial has ended, with the trial's record (a
``FrozenTrial``); the callback then starts a run, logs the trial into it and stops it:

* the run is named ``trial-<number>`` (``run_name``) and belongs to the group named after the
  study (``group``), so MLflow nests the study's trials under one parent run and W&B groups
  them;
* params: the trial's suggested values (``trial.params``);
* metrics: the objective value under ``value`` (a multi-objective study: the study's metric
  names from ``study.set_metric_names``, else ``value_0``, ``value_1``, ...), logged at the last
  step the trial reported (0 when it reported none), and each value given to ``trial.report``
  under ``intermediate_value`` at its step;
* tags: ``optuna.study``, ``optuna.trial_number``, ``optuna.state`` (``COMPLETE``, ``PRUNED`` or
  ``FAIL``), ``optuna.datetime_start`` and ``optuna.datetime_complete`` (ISO 8601, Optuna's local
  time);
* status: ``COMPLETE`` → ``finished``, ``PRUNED`` → ``killed`` (stopped early on purpose, as
  Tracelet's ``killed`` means a run stopped from outside before its end), ``FAIL`` → ``failed``.

Each run is started beside the active run, with no collectors
(:mod:`tracelet_collectors.sweeps`): a run the user started around the study is not stopped.
A trial whose exception escapes ``optimize`` (not in its ``catch``) is not logged: Optuna calls
no callback for it.

Importing this module imports nothing of Optuna.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracelet_collectors.sweeps import TrialRuns

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from tracelet.records import RunStatus

#: The run's status for each state a trial can end in (``TrialState`` names).
STATUS: dict[str, RunStatus] = {"COMPLETE": "finished", "PRUNED": "killed", "FAIL": "failed"}


class TraceletCallback:
    """An Optuna callback that logs each finished trial as a Tracelet run.

    Args:
        project: The project of the runs (default: Tracelet's, as for ``start_logging``).
        backend: A backend name or a list of names (default: Tracelet's, ``"local"``).
        config: More settings, as for ``start_logging``.
        group: The runs' group (default: the study's name).
        metric_name: The name of the objective's metric; for a multi-objective study, a list
            of one name per objective, or one name that gets ``_0``, ``_1``, ... appended.
            Default: the names given to ``study.set_metric_names``, else ``"value"``.
        intermediate_name: The name of the metric of the values given to ``trial.report``.
        run_name: The run's name; ``{number}`` is replaced by the trial's number.

    Raises:
        ConfigError: The settings are invalid (checked here, before any trial runs).
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        backend: str | Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
        group: str | None = None,
        metric_name: str | Sequence[str] | None = None,
        intermediate_name: str = "intermediate_value",
        run_name: str = "trial-{number}",
    ) -> None:
        self._runs = TrialRuns(project, backend, config)
        self._runs.check()
        self._group = group
        self._metric_name = metric_name
        self._intermediate_name = intermediate_name
        self._run_name = run_name

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        """Log ``trial`` as a run (Optuna calls this after each trial).

        Raises:
            ValueError: ``metric_name`` is a list whose length is not the study's number of
                objectives.
            ConfigError, BackendStartError: As :func:`tracelet.start_logging`; Optuna then
                stops the study.
        """
        names = self.metric_names(study)
        state = trial.state.name
        run = self._runs.start(
            self._run_name.format(number=trial.number), self._group or study.study_name
        )
        try:
            tags = {
                "optuna.study": study.study_name,
                "optuna.trial_number": trial.number,
                "optuna.state": state,
            }
            if trial.datetime_start is not None:
                tags["optuna.datetime_start"] = trial.datetime_start.isoformat()
            if trial.datetime_complete is not None:
                tags["optuna.datetime_complete"] = trial.datetime_complete.isoformat()
            run.set_tags(tags)
            run.log_params(trial.params)
            for step, value in sorted(trial.intermediate_values.items()):
                run.log_metric(self._intermediate_name, value, step=step)
            if trial.values is not None:
                last = trial.last_step
                step = 0 if last is None else last
                run.log_metrics(dict(zip(names, trial.values, strict=True)), step=step)
        except BaseException:
            run.stop("failed")
            raise
        run.stop(STATUS.get(state, "failed"))

    def metric_names(self, study: Study) -> list[str]:
        """The metric name of each of the study's objectives.

        Raises:
            ValueError: ``metric_name`` is a list of another length than the objectives.
        """
        count = len(study.directions)
        given = self._metric_name
        if given is None:
            if study.metric_names:
                return list(study.metric_names)
            given = "value"
        if isinstance(given, str):
            return [given] if count == 1 else [f"{given}_{i}" for i in range(count)]
        names = list(given)
        if len(names) != count:
            raise ValueError(
                f"TraceletCallback: metric_name has {len(names)} names ({names}) but the study "
                f"has {count} objective(s); give one name per objective, or one name"
            )
        return names
