"""``TraceletCallback``: a Ray Tune callback that logs each trial as a Tracelet run of the
experiment's group. Importing this module imports ``ray.tune``.

Give it to ``tune.Tuner(trainable, run_config=tune.RunConfig(callbacks=[TraceletCallback()]))``.
Tune calls it in the process that runs ``tuner.fit()``, never in the trial workers, which need
no Tracelet and no backend credentials:

* ``on_trial_start``: a run named as Ray names the trial (``str(trial)``, e.g.
  ``train_fn_1f2e3_00000``) starts, in the group named after the experiment
  (``RunConfig(name=...)``, else the name Ray makes up) unless ``group`` is given; the trial's
  config becomes params (nested dicts flattened with ``/``); tags ``ray.trial_id`` and
  ``ray.experiment``. Trials run at the same time, so each run starts beside the active run
  (``activate=False``) and with no collectors (:mod:`tracelet_collectors.sweeps`); a run the
  user started around the experiment is not stopped. A trial started again (after a failure it
  recovers from, or a pause) goes on in the same run.
* ``on_trial_result``: each value of the reported result that is a number becomes a metric at
  the result's ``training_iteration``; nested dicts are flattened with ``/``
  (``{"val": {"loss": 1}}`` → ``val/loss``). Left out: ``training_iteration`` itself, the keys
  Ray adds to every result (:data:`RAY_KEYS`), keys starting with ``__``, and values that are
  not numbers (strings, ``None``, lists, booleans; each name is reported once on the
  ``tracelet.collectors.ray_tune`` logger).
* ``on_trial_complete``: the run stops ``finished``; or ``killed`` when Tune stopped the trial
  early: a result came back marked ``done`` without meeting the ``stop`` criteria given as a
  dict to ``RunConfig``. That is a scheduler's decision (ASHA, HyperBand, median stopping, PBT's
  end of a trial), a ``Stopper`` object or the experiment's ``time_budget_s``. A trial that ends
  by returning, or by meeting the ``stop`` dict, is ``finished``. (A class ``Trainable`` whose
  ``step`` returns ``done=True`` itself looks the same to a callback: ``killed``.)
* ``on_trial_error``: the run stops ``failed``, with the last line of Ray's error report
  (``ValueError: ...``) in the tag ``ray.error`` and the report as the artifact ``error.txt``.
* ``on_experiment_end``: a run still open (a trial paused or pending when the experiment ended)
  stops ``killed``.

The callback is picklable (Tune saves it with the experiment's state): the runs it holds are
left out.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ray.tune import Callback
from ray.tune.result import AUTO_RESULT_KEYS, DEBUG_METRICS, DONE

from tracelet.values import metric_value
from tracelet_collectors.params import string_keys
from tracelet_collectors.sweeps import TrialRuns

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from tracelet.records import RunStatus
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.ray_tune")

#: The result key holding the step of each result's metrics (Tune counts the reports).
STEP_KEY = "training_iteration"

#: Keys Ray puts in every result itself, not metrics of the trainable: its ``AUTO_RESULT_KEYS``
#: and ``DEBUG_METRICS`` (timings, counters, where the trial ran, its config) and the flags.
RAY_KEYS = frozenset(
    {
        *AUTO_RESULT_KEYS,
        *DEBUG_METRICS,
        DONE,
        STEP_KEY,
        "should_checkpoint",
        "experiment_tag",
    }
)
#: The longest ``ray.error`` tag (the error's last line).
ERROR_TAG_LIMIT = 500


def result_metrics(result: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The ``(name, value)`` pairs of a result that may be metrics: nested dicts flattened with
    ``/``, :data:`RAY_KEYS` and ``__``-prefixed keys left out. Values are not checked here."""
    for key, value in result.items():
        name = str(key)
        if name in RAY_KEYS or name.startswith("__"):
            continue
        yield from _flat(name, value)


def _flat(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flat(f"{name}/{key}", inner)
    else:
        yield name, value


def met_stop_criteria(criteria: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
    """Whether ``result`` meets one of the ``stop`` dict's criteria (``value >= bound``), as
    Tune checks them (on the result flattened with ``/``)."""
    flat = dict(_flat_all(result))
    for key, bound in criteria.items():
        value = flat.get(key)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if value >= bound:
            return True
    return False


def _flat_all(result: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in result.items():
        yield from _flat(str(key), value)


class TraceletCallback(Callback):
    """A Ray Tune callback that logs each trial as a Tracelet run (see the module doc).

    Args:
        project: The project of the runs (default: Tracelet's, as for ``start_logging``).
        backend: A backend name or a list of names (default: Tracelet's, ``"local"``).
        config: More settings, as for ``start_logging``.
        group: The runs' group (default: the experiment's name).

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
    ) -> None:
        self._starter = TrialRuns(project, backend, config)
        self._starter.check()
        self._group = group
        self._runs: dict[str, Run] = {}
        self._stopped_early: set[str] = set()
        self._skipped: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_runs"] = {}
        state["_stopped_early"] = set()
        return state

    # -- Tune's hooks ----------------------------------------------------------------------

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Start the trial's run (unless it is a trial started again)."""
        if trial.trial_id in self._runs:
            return
        group = self._group or trial.experiment_dir_name
        run = self._starter.start(str(trial), group)
        self._runs[trial.trial_id] = run
        run.set_tags({"ray.trial_id": trial.trial_id, "ray.experiment": trial.experiment_dir_name})
        run.log_params(string_keys(trial.config))

    def on_trial_result(
        self,
        iteration: int,
        trials: list[Trial],
        trial: Trial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        """Log the result's numbers at its ``training_iteration``."""
        run = self._runs.get(trial.trial_id)
        if run is None:
            return
        metrics: dict[str, float] = {}
        for name, value in result_metrics(result):
            number = self._number(name, value)
            if number is not None:
                metrics[name] = number
        step = result.get(STEP_KEY)
        run.log_metrics(metrics, step=step if type(step) is int else None)
        if result.get(DONE) and not met_stop_criteria(trial.stopping_criterion, result):
            self._stopped_early.add(trial.trial_id)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Stop the run: ``killed`` if Tune stopped the trial early, else ``finished``."""
        early = trial.trial_id in self._stopped_early
        self._end(trial.trial_id, "killed" if early else "finished")

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Stop the run ``failed``, with Ray's error report."""
        run = self._runs.get(trial.trial_id)
        path = trial.error_file
        if run is not None and path is not None and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as report:
                lines = [line.strip() for line in report if line.strip()]
            if lines:
                run.set_tag("ray.error", lines[-1][:ERROR_TAG_LIMIT])
            run.log_artifact(path, name="error.txt")
        self._end(trial.trial_id, "failed")

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """Stop the runs of trials that did not end (paused, pending): ``killed``."""
        for trial_id in list(self._runs):
            self._end(trial_id, "killed")

    # -- helpers -----------------------------------------------------------------------------

    def _end(self, trial_id: str, status: RunStatus) -> None:
        self._stopped_early.discard(trial_id)
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.stop(status)

    def _number(self, name: str, value: Any) -> float | None:
        """``value`` as a metric value, or ``None`` (reported once per name) if it is not a
        number."""
        if not isinstance(value, bool):
            try:
                return metric_value(value, name)
            except (TypeError, ValueError):
                pass
        if name not in self._skipped:
            self._skipped.add(name)
            logger.warning(
                "tracelet: Ray Tune result %r is not a number (%s); not logged as a metric",
                name,
                type(value).__name__,
            )
        return None
