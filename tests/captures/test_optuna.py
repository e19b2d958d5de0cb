"""Optuna: ``TraceletCallback`` logs each trial of a real study as a run of the study's group,
read back through MLflow's client (sqlite), W&B's offline log and the ``local`` folders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient
from support.mlflow_reading import metric_history
from support.mlflow_server import MLFLOW_ENV
from support.processes import run as run_process
from support.wandb_env import wandb_test_env
from support.wandb_reading import WandbRun, read_finished_run

import tracelet
from tracelet.backends.local import list_runs, read_run
from tracelet_collectors.optuna import TraceletCallback

#: The trials of the study, by their ``x`` (enqueued, so every run makes the same trials): how
#: each one ends.
TRIALS = {
    3.0: "COMPLETE",
    4.0: "COMPLETE",
    8.0: "PRUNED",  # by the MedianPruner, at step 1
    9.0: "FAIL",  # raises ValueError, caught by optimize
    7.0: "PRUNED",  # raises optuna.TrialPruned itself
    2.8: "COMPLETE",
}
MLFLOW_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
TRACELET_STATUS = {"COMPLETE": "finished", "PRUNED": "killed", "FAIL": "failed"}
WANDB_EXIT_CODE = {"COMPLETE": 0, "PRUNED": 130, "FAIL": 1}


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(verbosity)


def objective(trial: optuna.Trial) -> float:
    """``(x - 3)²``, after reporting ``(x - 3)² + 5 - step`` at steps 0 to 4."""
    x = trial.suggest_float("x", 0.0, 10.0)
    for step in range(5):
        trial.report((x - 3) ** 2 + 5 - step, step)
        if x == 9.0 and step == 1:
            raise ValueError("diverged")
        if x == 7.0:
            raise optuna.TrialPruned()
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (x - 3) ** 2


def run_study(callback: TraceletCallback, name: str = "lr-sweep") -> optuna.Study:
    """The study of :data:`TRIALS`, in that order, logged by ``callback``."""
    study = optuna.create_study(
        study_name=name, pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    )
    for x in TRIALS:
        study.enqueue_trial({"x": x})
    study.optimize(objective, n_trials=len(TRIALS), callbacks=[callback], catch=(ValueError,))
    assert [t.state.name for t in study.trials] == list(TRIALS.values())
    return study


def test_the_trials_are_runs_nested_under_the_study_in_mlflow(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    callback = TraceletCallback(
        project="optuna-mlflow", backend="mlflow", config={"mlflow": {"tracking_uri": uri}}
    )
    study = run_study(callback)

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("optuna-mlflow")
    found = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in found if r.data.tags.get("tracelet.group_parent") == "true"]
    assert (parent.info.run_name, parent.data.tags["tracelet.group"]) == ("lr-sweep", "lr-sweep")
    children = {r.info.run_name: r for r in found if r is not parent}
    assert sorted(children) == [f"trial-{n}" for n in range(6)]
    for trial in study.trials:
        child = children[f"trial-{trial.number}"]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["tracelet.group"] == "lr-sweep"
        assert child.info.status == MLFLOW_STATUS[trial.state.name]
        assert child.data.tags["optuna.state"] == trial.state.name
        assert child.data.tags["optuna.trial_number"] == str(trial.number)
        assert child.data.tags["optuna.study"] == "lr-sweep"
        assert {k: float(v) for k, v in child.data.params.items()} == trial.params
        points = metric_history(uri, child.info.run_id, "intermediate_value")
        assert [(step, value) for step, value, _ in points] == sorted(
            trial.intermediate_values.items()
        )
        if trial.value is None:  # the failed trial
            assert "value" not in child.data.metrics
        else:  # a pruned trial's value is its last intermediate value (Optuna sets it)
            (point,) = metric_history(uri, child.info.run_id, "value")
            assert point[:2] == (trial.last_step, trial.value)


@pytest.fixture
def wandb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B's quiet test environment; W&B replaces ``sys.exit`` and ``sys.excepthook`` and
    never puts them back. The runs go to ``<cwd>/wandb``."""
    for name, value in wandb_test_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "exit", sys.exit)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    return tmp_path / "wandb"


def wandb_runs(folder: Path, group: str) -> dict[str, WandbRun]:
    """The offline W&B runs under ``folder`` in ``group``, by name."""
    runs = [read_finished_run(d) for d in sorted(folder.glob("offline-run-*"))]
    return {str(r.name): r for r in runs if r.group == group}


def test_the_trials_are_one_wandb_group(wandb_dir: Path) -> None:
    callback = TraceletCallback(
        project="optuna-wandb", backend="wandb", config={"wandb": {"mode": "offline"}}
    )
    study = run_study(callback)

    runs = wandb_runs(wandb_dir, "lr-sweep")
    assert sorted(runs) == [f"trial-{n}" for n in range(6)]
    for trial in study.trials:
        stored = runs[f"trial-{trial.number}"]
        assert stored.project == "optuna-wandb"
        assert stored.exit_code == WANDB_EXIT_CODE[trial.state.name]
        assert stored.config["x"] == trial.params["x"]
        assert f"optuna.state:{trial.state.name}" in stored.tags
        values = [row["value"] for row in stored.history if "value" in row]
        assert values == ([] if trial.value is None else [trial.value])


def test_the_trials_are_one_local_group() -> None:
    callback = TraceletCallback(project="optuna-local", config={"local": {"path": "runs"}})
    study = run_study(callback, name="local-study")

    runs = list_runs("runs", group="local-study")
    assert [r.name for r in runs] == [f"trial-{n}" for n in range(6)]
    for trial, stored in zip(study.trials, runs, strict=True):
        assert stored.project == "optuna-local"
        assert stored.status == TRACELET_STATUS[trial.state.name]
        assert stored.params == trial.params
        assert stored.tags["optuna.state"] == trial.state.name
        assert stored.tags["optuna.datetime_start"] == trial.datetime_start.isoformat()
        intermediate = [(p.step, p.value) for p in stored.metric_history("intermediate_value")]
        assert intermediate == sorted(trial.intermediate_values.items())
    assert list_runs("runs", group="other") == []


def test_the_users_own_run_goes_on_untouched() -> None:
    mine = tracelet.start_logging("mine", "optuna-local", config={"local": {"path": "runs"}})
    run_study(TraceletCallback(project="optuna-local", config={"local": {"path": "runs"}}))
    assert tracelet.get_active_run() is mine
    assert mine.status == "running"
    mine.log_metric("best", 0.0, step=0)
    assert mine.stop()
    assert list(read_run(mine.locations()["local"]).metrics) == ["best"]
    assert len(list_runs("runs", group="lr-sweep")) == 6


def test_trials_of_parallel_jobs_are_each_a_run() -> None:
    """``n_jobs=2``: Optuna calls the callback from two threads at once."""
    study = optuna.create_study(study_name="threads")
    callback = TraceletCallback(config={"local": {"path": "runs"}})
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8, n_jobs=2, callbacks=[callback])
    runs = list_runs("runs", group="threads")
    assert sorted(r.name for r in runs) == sorted(f"trial-{n}" for n in range(8))
    by_name = {r.name: r for r in runs}
    for trial in study.trials:
        stored = by_name[f"trial-{trial.number}"]
        assert stored.status == "finished"
        assert [p.value for p in stored.metric_history("value")] == [trial.value]


def test_the_names_of_the_runs_and_metrics_can_be_chosen() -> None:
    study = optuna.create_study(study_name="named")
    callback = TraceletCallback(
        config={"local": {"path": "runs"}},
        metric_name="loss",
        intermediate_name="val/loss",
        run_name="named/{number}",
        group="chosen",
    )
    study.optimize(objective, n_trials=1, callbacks=[callback])
    (stored,) = list_runs("runs", group="chosen")
    (trial,) = study.trials
    assert stored.name == "named/0"
    assert sorted(stored.metrics) == ["loss", "val/loss"]
    assert [(p.step, p.value) for p in stored.metric_history("loss")] == [(4, trial.value)]
    assert stored.tags["optuna.study"] == "named"


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    return x, 1 - x


@pytest.mark.filterwarnings("ignore:.*set_metric_names is experimental")
@pytest.mark.parametrize(
    ("metric_name", "study_names", "expected"),
    [
        (None, None, ["value_0", "value_1"]),
        (None, ["loss", "acc"], ["loss", "acc"]),
        ("score", None, ["score_0", "score_1"]),
        (["a", "b"], ["loss", "acc"], ["a", "b"]),
    ],
)
def test_the_metrics_of_a_multi_objective_study(
    metric_name: Any, study_names: list[str] | None, expected: list[str]
) -> None:
    study = optuna.create_study(study_name="multi", directions=["minimize", "maximize"])
    if study_names is not None:
        study.set_metric_names(study_names)
    callback = TraceletCallback(config={"local": {"path": "runs"}}, metric_name=metric_name)
    study.optimize(two_objectives, n_trials=1, callbacks=[callback])
    (stored,) = list_runs("runs", group="multi")
    (trial,) = study.trials
    assert sorted(stored.metrics) == sorted(expected)
    for name, value in zip(expected, trial.values, strict=True):
        assert [(p.step, p.value) for p in stored.metric_history(name)] == [(0, value)]


def test_a_wrong_number_of_metric_names_stops_the_study_before_any_run() -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    callback = TraceletCallback(config={"local": {"path": "runs"}}, metric_name=["a", "b", "c"])
    with pytest.raises(ValueError, match="metric_name has 3 names"):
        study.optimize(two_objectives, n_trials=1, callbacks=[callback])
    assert list_runs("runs") == []


def test_a_configuration_mistake_is_reported_when_the_callback_is_made() -> None:
    with pytest.raises(tracelet.ConfigError, match="mlfow"):
        TraceletCallback(backend="mlfow")


def test_importing_the_plugin_or_the_callback_imports_no_optuna(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import tracelet_collectors.plugin, tracelet_collectors.optuna\n"
        "assert 'optuna' not in sys.modules and 'ray' not in sys.modules, sys.modules\n"
    )
    result = run_process([sys.executable, "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
