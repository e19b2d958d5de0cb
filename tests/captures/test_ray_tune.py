"""Ray Tune: ``TraceletCallback`` logs each trial of a real ``Tuner.fit`` (a local Ray of two
CPUs) as a run of the experiment's group, read back through MLflow's client (sqlite), W&B's
offline log and the ``local`` folders.

Starting Ray takes seconds and each ``fit`` several more (its trial actors start), so one Ray
session serves the module and one ``fit`` logs to the three backends at once.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from mlflow import MlflowClient
from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from support.mlflow_reading import metric_history
from support.mlflow_server import MLFLOW_ENV
from support.wandb_env import wandb_test_env
from support.wandb_reading import WandbRun, read_finished_run

import tracelet
from tracelet.backends.local import list_runs, read_run
from tracelet_collectors.ray_tune import TraceletCallback, met_stop_criteria, result_metrics

#: How each trial of the experiment ends, by its ``mode``: the run's status in each backend.
ENDS = {
    "returns": ("finished", "FINISHED", 0),  # its function returns after 2 reports
    "meets-stop": ("finished", "FINISHED", 0),  # RunConfig's stop dict ends it at 3
    "stopped": ("killed", "KILLED", 130),  # the scheduler stops it at 2
    "fails": ("failed", "FAILED", 1),  # raises at its second iteration
}
#: The iterations each trial reports (``training_iteration`` 1, 2, ...).
REPORTED = {"returns": 2, "meets-stop": 3, "stopped": 2, "fails": 1}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """A local Ray with two CPUs for the module, its session folder in a temp dir (short: Ray
    puts sockets there)."""
    temp = tempfile.mkdtemp(prefix="ray-")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def backends_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's and W&B's quiet test environments; W&B replaces ``sys.exit`` and
    ``sys.excepthook`` and never puts them back."""
    for name, value in {**MLFLOW_ENV, **wandb_test_env(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "exit", sys.exit)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)


class StopMarked(FIFOScheduler):  # type: ignore[misc]
    """Stops the trial of mode ``stopped`` at its second result, as ASHA stops a bad trial."""

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if trial.config["mode"] == "stopped" and result["training_iteration"] >= 2:
            return str(TrialScheduler.STOP)
        return str(TrialScheduler.CONTINUE)


def trainable() -> Callable[[dict[str, Any]], None]:
    """The trial function, made here so that Ray ships it by value (the workers cannot import
    this test module)."""

    def train(config: dict[str, Any]) -> None:
        for i in range(1, (2 if config["mode"] == "returns" else 5) + 1):
            if config["mode"] == "fails" and i == 2:
                raise ValueError("diverged")
            tune.report({"loss": config["lr"] / i, "val": {"acc": i / 10}, "phase": "warm"})

    return train


def fit(tmp_path: Path, callback: TraceletCallback) -> tune.ResultGrid:
    tuner = tune.Tuner(
        trainable(),
        param_space={
            "lr": 0.1,
            "optimizer": {"name": "sgd", "momentum": 0.9},
            "mode": tune.grid_search(list(ENDS)),
        },
        tune_config=tune.TuneConfig(scheduler=StopMarked(), reuse_actors=True),
        run_config=tune.RunConfig(
            name="lr-sweep",
            storage_path=str(tmp_path / "ray-results"),
            callbacks=[callback],
            stop={"training_iteration": 3},
            verbose=0,
        ),
    )
    return tuner.fit()


def test_each_trial_is_a_run_of_the_experiments_group(
    ray_session: None, backends_env: None, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = {
        "mlflow": {"tracking_uri": uri},
        "wandb": {"mode": "offline"},
        "local": {"path": "runs"},
    }
    # Ray's own TensorBoard logger writes every trial's results in this process: they do not
    # go into the user's run, although the TensorBoard capture is on (the default).
    own = {"local": {"path": "runs"}}
    mine = tracelet.start_logging("mine", "ray", "local", config=own)
    callback = TraceletCallback(project="ray", backend=["mlflow", "wandb", "local"], config=config)
    results = fit(tmp_path, callback)
    assert len(results) == 4
    assert tracelet.get_active_run() is mine  # the trials' runs ran beside it
    assert mine.status == "running"
    assert mine.stop()
    assert read_run(mine.locations()["local"]).metrics == {}

    # local
    local = {r.params["mode"]: r for r in list_runs("runs", group="lr-sweep")}
    assert sorted(local) == sorted(ENDS)
    for mode, stored in local.items():
        assert stored.status == ENDS[mode][0], mode
        assert stored.name.startswith("train_")
        assert stored.tags["ray.experiment"] == "lr-sweep"
        assert stored.params == {
            "lr": 0.1,
            "optimizer/name": "sgd",
            "optimizer/momentum": 0.9,
            "mode": mode,
        }
        assert sorted(stored.metrics) == ["loss", "val/acc"]  # none of Ray's own keys
        steps = list(range(1, REPORTED[mode] + 1))
        assert [(p.step, p.value) for p in stored.metric_history("loss")] == [
            (i, 0.1 / i) for i in steps
        ]
        assert [p.step for p in stored.metric_history("val/acc")] == steps
    assert local["fails"].tags["ray.error"] == "ValueError: diverged"
    assert "ValueError: diverged" in local["fails"].artifact_files()["error.txt"].read_text()

    # MLflow
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name("ray").experiment_id])
    (parent,) = [r for r in found if r.data.tags.get("tracelet.group_parent") == "true"]
    assert parent.info.run_name == "lr-sweep"
    children = {r.data.params["mode"]: r for r in found if r is not parent}
    assert sorted(children) == sorted(ENDS)
    for mode, child in children.items():
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == ENDS[mode][1], mode
        assert child.data.params["optimizer/momentum"] == "0.9"
        history = metric_history(uri, child.info.run_id, "loss")
        assert [step for step, _, _ in history] == list(range(1, REPORTED[mode] + 1))
    assert children["fails"].data.tags["ray.error"] == "ValueError: diverged"

    # W&B
    runs = [read_finished_run(d) for d in sorted((tmp_path / "wandb").glob("offline-run-*"))]
    grouped: dict[str, WandbRun] = {r.config["mode"]: r for r in runs if r.group == "lr-sweep"}
    assert sorted(grouped) == sorted(ENDS)
    for mode, stored in grouped.items():
        assert stored.exit_code == ENDS[mode][2], mode
        assert stored.config["optimizer/name"] == "sgd"
        assert len([row for row in stored.history if "loss" in row]) == REPORTED[mode]


def test_the_metrics_of_a_result_leave_rays_own_keys_out() -> None:
    result = {
        "loss": 0.5,
        "val": {"acc": 0.9, "f1": {"macro": 0.7}},
        "phase": "warm",
        "training_iteration": 3,
        "timestamp": 1796025640,
        "checkpoint_dir_name": None,
        "done": False,
        "trial_id": "0ff49_00004",
        "date": "2026-11-30_08-00-40",
        "time_this_iter_s": 0.1,
        "time_total_s": 0.3,
        "pid": 9630,
        "hostname": "vm",
        "node_ip": "192.0.2.2",
        "config": {"lr": 0.3},
        "time_since_restore": 0.3,
        "iterations_since_restore": 3,
        "should_checkpoint": True,
        "__duplicate__": True,
    }
    assert dict(result_metrics(result)) == {
        "loss": 0.5,
        "val/acc": 0.9,
        "val/f1/macro": 0.7,
        "phase": "warm",  # not a number: the callback leaves it out
    }


def test_the_stop_criteria_are_read_as_tune_reads_them() -> None:
    assert met_stop_criteria({"training_iteration": 3}, {"training_iteration": 3})
    assert met_stop_criteria({"val/acc": 0.9}, {"val": {"acc": 0.95}})
    assert not met_stop_criteria({"training_iteration": 3}, {"training_iteration": 2})
    assert not met_stop_criteria({"loss": 0.1}, {"training_iteration": 2})
    assert not met_stop_criteria({}, {"training_iteration": 2})


def test_the_callback_pickles_without_its_runs() -> None:
    callback = TraceletCallback(group="g", config={"local": {"path": "runs"}})
    trial = type(
        "FakeTrial",
        (),
        {
            "trial_id": "t1",
            "experiment_dir_name": "exp",
            "config": {"lr": 0.1, "layers": {1: 64}},
            "__str__": lambda self: "train_t1",
        },
    )()
    callback.on_trial_start(0, [trial], trial)
    copy = pickle.loads(pickle.dumps(callback))
    assert copy._runs == {}
    callback.on_experiment_end([trial])
    (stored,) = list_runs("runs", group="g")
    assert (stored.name, stored.status) == ("train_t1", "killed")
    assert stored.params == {"lr": 0.1, "layers/1": 64}  # int keys as strings


def test_a_configuration_mistake_is_reported_when_the_callback_is_made() -> None:
    with pytest.raises(tracelet.ConfigError, match="mlfow"):
        TraceletCallback(backend="mlfow")
