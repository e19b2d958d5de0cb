"""Hugging Face ``Trainer``: ``TraceletCallback`` and the capture that adds it, with the real
transformers on a tiny torch model built here (nothing is downloaded), read back from the
``local`` backend and from MLflow (sqlite)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
import transformers
from support.mlflow_reading import find_run, metric_history
from support.mlflow_server import MLFLOW_ENV
from support.processes import run as run_process

import tracelet
from tracelet.backends.local import list_runs, read_run
from tracelet_collectors.transformers import TraceletCallback

STEPS = 30
EVAL_STEPS = 10
#: What the Trainer reports through ``on_log`` at every step, and at each evaluation.
TRAIN_KEYS = ("loss", "grad_norm", "learning_rate", "epoch")
EVAL_KEYS = ("eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, value in MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite MLflow store for the module (creating one takes seconds); each test writes
    to experiments of its own."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


class Regressor(torch.nn.Module):  # type: ignore[misc]
    """Two linear layers; ``forward`` returns ``{"loss": ...}`` as a Trainer needs."""

    def __init__(self, config: Any = None, *, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, hidden)
        self.out = torch.nn.Linear(hidden, 1)
        if config is not None:
            self.config = config

    def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
        pred = self.out(torch.relu(self.hidden(x))).squeeze(-1)
        return {"loss": torch.nn.functional.mse_loss(pred, labels)}


def dataset(n: int, seed: int) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return [{"x": row, "labels": row.sum()} for row in x]


class Recorder(transformers.TrainerCallback):  # type: ignore[misc]
    """Keeps what the Trainer passed to ``on_log``: ``(global_step, logs)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, float]]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.seen.append((state.global_step, dict(logs)))

    def points(self, key: str) -> list[tuple[int, float]]:
        return [(step, logs[key]) for step, logs in self.seen if key in logs]


def trainer(
    tmp_path: Path, *, callbacks: list[Any] | None = None, config: Any = None, **args: Any
) -> Any:
    options: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": STEPS,
        "logging_steps": 1,
        "eval_strategy": "steps",
        "eval_steps": EVAL_STEPS,
        "per_device_train_batch_size": 8,
        "learning_rate": 0.01,
        "use_cpu": True,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        **args,
    }
    return transformers.Trainer(
        model=Regressor(config),
        args=transformers.TrainingArguments(**options),
        train_dataset=dataset(64, 0),
        eval_dataset=dataset(16, 1),
        callbacks=callbacks,
    )


def start(store: str, project: str, **config: Any) -> tracelet.Run:
    return tracelet.start_logging(
        exp_name="hf",
        project=project,
        backend=["local", "mlflow"],
        config={"local": {"path": "runs"}, "mlflow": {"tracking_uri": store}, **config},
    )


def names(fit: Any) -> list[str]:
    return [type(cb).__name__ for cb in fit.callback_handler.callbacks]


def assert_stored_what_hf_reported(run: tracelet.Run, store: str, recorder: Recorder) -> None:
    """Every numeric value the Trainer passed to ``on_log`` is in the run, in ``local`` and in
    MLflow, at the Trainer's ``global_step``, under its own name."""
    local = read_run(run.locations()["local"])
    mlrun = find_run(store, run)
    for key in (*TRAIN_KEYS, *EVAL_KEYS, "train_loss", "train_runtime", "total_flos"):
        expected = recorder.points(key)
        assert expected, f"the Trainer reported no {key!r}"
        assert [(m.step, m.value) for m in local.metric_history(key)] == expected, key
        stored = [(s, v) for s, v, _ in metric_history(store, mlrun.info.run_id, key)]
        if key == "epoch":  # logged twice at each evaluation's step, with the same value
            assert sorted(set(stored)) == sorted(set(expected))
        else:
            assert stored == expected, key
    assert [s for s, _ in recorder.points("loss")] == list(range(1, STEPS + 1))
    assert [s for s, _ in recorder.points("eval_loss")] == [10, 20, 30]


def test_a_trainer_built_in_a_run_logs_what_hf_reports(tmp_path: Path, store: str) -> None:
    run = start(store, "captured")
    recorder = Recorder()
    fit = trainer(tmp_path, callbacks=[recorder])
    assert names(fit) == ["DefaultFlowCallback", "TraceletCallback", "Recorder", "PrinterCallback"]
    fit.train()
    assert run.status == "running", "the user's run stays open after train()"
    assert run.stop()

    assert_stored_what_hf_reported(run, store, recorder)
    local = read_run(run.locations()["local"])
    mlparams = find_run(store, run).data.params
    for key, value in (
        ("args/learning_rate", 0.01),
        ("args/max_steps", STEPS),
        ("args/per_device_train_batch_size", 8),
        ("args/eval_strategy", "steps"),
        ("args/report_to", "[]"),
        ("args/hub_token", "<HUB_TOKEN>"),
    ):
        assert local.params[key] == value, key
        assert mlparams[key] == str(value), key
    assert not any(k.startswith("model/") for k in local.params)  # a model without a config


def test_report_to_mlflow_reaches_mlflow_once(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hf-once")
    run = start(store, "hf-once")
    recorder = Recorder()
    fit = trainer(tmp_path, callbacks=[recorder], report_to=["mlflow"])
    assert "MLflowCallback" not in names(fit)
    fit.train()
    mlflow.flush_async_logging()
    assert run.stop()

    assert loss_points(store, "hf-once") == [recorder.points("loss")]
    assert_stored_what_hf_reported(run, store, recorder)


def test_with_the_capture_off_both_callbacks_log(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the capture prevents: HF's MLflowCallback and a TraceletCallback, both to MLflow."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hf-twice")
    run = start(store, "hf-twice", capture_transformers=False)
    recorder = Recorder()
    fit = trainer(tmp_path, callbacks=[TraceletCallback(), recorder], report_to=["mlflow"])
    assert names(fit).count("MLflowCallback") == 1
    fit.train()
    mlflow.flush_async_logging()
    assert run.stop()

    assert loss_points(store, "hf-twice") == [recorder.points("loss")] * 2


def loss_points(store: str, experiment: str) -> list[list[tuple[int, float]]]:
    """The ``loss`` history of each MLflow run of ``experiment`` that has one."""
    from mlflow import MlflowClient

    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    histories = []
    for mlrun in client.search_runs([found.experiment_id]):
        history = [(s, v) for s, v, _ in metric_history(store, mlrun.info.run_id, "loss")]
        if history:
            histories.append(history)
    return histories


def test_the_capture_leaves_alone_what_it_should(tmp_path: Path) -> None:
    from transformers.trainer_callback import CallbackHandler

    original = vars(CallbackHandler)["on_init_end"]
    run = tracelet.start_logging("hf", backend="local", config={"local": {"path": "runs"}})
    given = TraceletCallback(run)
    fit = trainer(tmp_path, callbacks=[given])
    assert [cb for cb in fit.callback_handler.callbacks if isinstance(cb, TraceletCallback)] == [
        given
    ]
    # report_to for a tracker the run does not send to is kept
    assert "MLflowCallback" in names(trainer(tmp_path, report_to=["mlflow"]))
    assert run.stop()
    assert vars(CallbackHandler)["on_init_end"] is original
    assert "TraceletCallback" not in names(trainer(tmp_path))

    run = tracelet.start_logging("hf", backend="local", config={"capture_transformers": False})
    assert "TraceletCallback" not in names(trainer(tmp_path))
    assert run.stop()


def test_tensorboard_callback_values_arrive_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.tensorboard_reading import read_events

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    run = tracelet.start_logging("hf", backend="local", config={"local": {"path": "runs"}})
    recorder = Recorder()
    fit = trainer(tmp_path, callbacks=[recorder], report_to=["tensorboard"])
    fit.train()
    assert run.stop()

    local = read_run(run.locations()["local"])
    assert [(m.step, m.value) for m in local.metric_history("loss")] == recorder.points("loss")
    assert not [n for n in local.metrics if n.startswith(("train/", "eval/"))]  # TB's names
    events = read_events(tmp_path / "tb")
    assert [step for step, _ in events.scalars["train/loss"]] == list(range(1, STEPS + 1))


def test_a_callback_without_a_run_starts_one_and_stops_it(tmp_path: Path) -> None:
    config = transformers.PretrainedConfig(hidden_size=8, id2label={0: "low", 1: "high"})
    callback = TraceletCallback(
        log_model=True,
        split=True,
        exp_name="own",
        backend="local",
        config={"local": {"path": "runs"}},
    )
    recorder = Recorder()
    fit = trainer(tmp_path, callbacks=[callback, recorder], config=config)
    assert tracelet.get_active_run() is None
    fit.train()
    run = callback.run
    assert run is not None
    assert run.name == "own"
    assert run.status == "finished"

    local = read_run(run.locations()["local"])
    for hf_name, name in (
        ("loss", "train/loss"),
        ("learning_rate", "train/learning_rate"),
        ("eval_loss", "eval/loss"),
        ("train_runtime", "train/train_runtime"),
    ):
        assert [(m.step, m.value) for m in local.metric_history(name)] == recorder.points(hf_name)
    assert "loss" not in local.metrics
    assert local.params["model/hidden_size"] == 8
    assert local.params["model/id2label/1"] == "high"
    assert local.params["args/max_steps"] == STEPS
    weights = local.artifact_files()["model/pytorch_model.bin"]
    saved = torch.load(weights, weights_only=True)
    assert torch.equal(saved["out.weight"], fit.model.out.weight)


def test_only_world_process_zero_logs(tmp_path: Path) -> None:
    callback = TraceletCallback(backend="local")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    state = transformers.TrainerState(is_world_process_zero=False, global_step=3)
    control = transformers.TrainerControl()
    callback.on_train_begin(args, state, control, model=Regressor())
    callback.on_log(args, state, control, logs={"loss": 0.5})
    callback.on_train_end(args, state, control, model=Regressor())
    assert callback.run is None
    assert tracelet.get_active_run() is None


def test_values_that_are_not_numbers_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tracelet.start_logging("hf", backend="local", config={"local": {"path": "runs"}})
    callback = TraceletCallback(prefix="hf/")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    control = transformers.TrainerControl()
    for step in (1, 2):
        state = transformers.TrainerState(global_step=step)
        logs = {"loss": torch.tensor(0.5 * step), "tokens": step, "note": "x", "hist": [1, 2]}
        callback.on_log(args, state, control, logs=logs)
    assert run.stop()
    local = read_run(run.locations()["local"])
    assert {n: [(m.step, m.value) for m in h] for n, h in local.metrics.items()} == {
        "hf/loss": [(1, 0.5), (2, 1.0)],
        "hf/tokens": [(1, 1.0), (2, 2.0)],
    }
    warnings = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(warnings) == 2  # once per name


SOFT = """
import sys
from collections.abc import Iterator
import tracelet
run = tracelet.start_logging("soft", backend="local", config={"local": {"path": "runs"}})
run.log_metric("loss", 0.5, step=0)
assert run.stop()
loaded = sorted(m for m in ("transformers", "accelerate", "torch") if m in sys.modules)
assert not loaded, f"imported: {loaded}"
print("ok")
"""


def test_a_run_imports_nothing_of_transformers(tmp_path: Path) -> None:
    script = tmp_path / "soft.py"
    script.write_text(SOFT)
    result = run_process([sys.executable, script], tmp_path, collectors_off=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_the_callbacks_of_the_runs_trackers_are_removed() -> None:
    from types import SimpleNamespace

    from transformers.integrations import ClearMLCallback, MLflowCallback, WandbCallback
    from transformers.trainer_callback import DefaultFlowCallback, PrinterCallback

    from tracelet_collectors.transformers_capture import adapt_callbacks

    callbacks = [
        DefaultFlowCallback(),
        MLflowCallback(),
        WandbCallback(),
        ClearMLCallback(),
        PrinterCallback(),
    ]
    adapt_callbacks(callbacks, SimpleNamespace(backends=("local", "wandb", "clearml")))
    assert [type(cb).__name__ for cb in callbacks] == [
        "DefaultFlowCallback",
        "TraceletCallback",
        "MLflowCallback",  # the run does not send to MLflow
        "PrinterCallback",
    ]


def test_aims_callback_is_removed_before_it_starts_a_run(tmp_path: Path) -> None:
    from aim.hugging_face import AimCallback

    run = tracelet.start_logging(
        "hf",
        backend=["local", "aim"],
        config={"local": {"path": "runs"}, "aim": {"repo_path": str(tmp_path / "aim")}},
    )
    aim_callback = AimCallback(repo=str(tmp_path / "aim"), log_system_params=False)
    fit = trainer(tmp_path, callbacks=[aim_callback])
    assert names(fit) == ["DefaultFlowCallback", "TraceletCallback", "PrinterCallback"]
    assert aim_callback._run is None  # its setup, at on_init_end, never ran
    assert run.stop()


# -- Trainer.hyperparameter_search ------------------------------------------------------------

#: The steps of each trial of a search, and its evaluations' steps.
TRIAL_STEPS = 6
TRIAL_EVAL_STEPS = 3
#: The learning rates of the searches that try each once (Optuna's ``GridSampler``).
LEARNING_RATES = (0.001, 0.01, 0.1)


@pytest.fixture
def quiet_optuna() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(verbosity)


class TrialRecorder(Recorder):
    """Keeps, trial by trial, ``state.trial_params`` and what the Trainer passed to ``on_log``
    from the trial's ``on_train_begin`` until the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: list[tuple[dict[str, Any], list[tuple[int, dict[str, float]]]]] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.seen = []
        self.trials.append((dict(state.trial_params or {}), self.seen))

    def trial_points(self, number: int, key: str) -> list[tuple[int, float]]:
        return [(step, logs[key]) for step, logs in self.trials[number][1] if key in logs]


class FailTrial(transformers.TrainerCallback):  # type: ignore[misc]
    """Raises ``ValueError`` at step 2 of the ``number``-th ``train()`` (from 0)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.trains = -1

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.trains += 1

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.trains == self.number and state.global_step == 2:
            raise ValueError("diverged")


def model_init(trial: Any) -> Regressor:
    """A fresh model for each trial, as wide as the trial says (``None``: the Trainer's first)."""
    return Regressor(hidden=8 if trial is None else trial.suggest_categorical("hidden", [4, 8]))


def hp_space(trial: Any) -> dict[str, float]:
    return {"learning_rate": trial.suggest_float("learning_rate", 1e-3, 1e-1, log=True)}


def search_trainer(tmp_path: Path, *, callbacks: list[Any] | None = None, **args: Any) -> Any:
    options: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": TRIAL_STEPS,
        "logging_steps": 1,
        "eval_strategy": "steps",
        "eval_steps": TRIAL_EVAL_STEPS,
        "per_device_train_batch_size": 8,
        "use_cpu": True,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        **args,
    }
    return transformers.Trainer(
        model_init=model_init,
        args=transformers.TrainingArguments(**options),
        train_dataset=dataset(64, 0),
        eval_dataset=dataset(16, 1),
        callbacks=callbacks,
    )


def search(fit: Any, n_trials: int, **kwargs: Any) -> Any:
    """``fit.hyperparameter_search`` with Optuna; by default each of :data:`LEARNING_RATES` once
    (``kwargs`` go to ``optuna.create_study`` and ``study.optimize``)."""
    grid = {"learning_rate": LEARNING_RATES, "hidden": (8,)}
    kwargs.setdefault("sampler", optuna.samplers.GridSampler(grid, seed=0))
    return fit.hyperparameter_search(
        hp_space=hp_space, n_trials=n_trials, backend="optuna", direction="minimize", **kwargs
    )


def mlflow_group(store: str, experiment: str, group: str) -> dict[str, Any]:
    """The MLflow runs nested under ``group``'s parent run in ``experiment``, by name."""
    from mlflow import MlflowClient

    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    (parent,) = [
        r
        for r in runs
        if r.data.tags.get("tracelet.group_parent") == "true"
        and r.data.tags.get("tracelet.group") == group
    ]
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return {r.info.run_name: r for r in nested}


def test_each_trial_of_a_search_is_a_run_of_its_own(
    tmp_path: Path, store: str, quiet_optuna: None
) -> None:
    run = start(store, "search")
    run.log_params({"data": "toy"})
    recorder = TrialRecorder()
    fit = search_trainer(tmp_path, callbacks=[recorder])
    search(fit, len(LEARNING_RATES))
    assert tracelet.get_active_run() is run
    assert run.status == "running", "the user's run goes on"
    assert run.stop()
    assert {name: stats.failed for name, stats in run.stats().items()} == {"local": 0, "mlflow": 0}

    tried = [params["learning_rate"] for params, _ in recorder.trials]
    assert sorted(tried) == list(LEARNING_RATES)
    local = read_run(run.locations()["local"])
    mlparams = find_run(store, run).data.params
    assert local.params["data"] == mlparams["data"] == "toy"
    for params in (local.params, mlparams):  # none of the trials' values
        assert not [key for key in params if key.startswith(("args/", "model/", "trial/"))]
    assert "loss" not in local.metrics

    trials = list_runs("runs", group="hf")  # the group is named after the user's run
    assert [trial.name for trial in trials] == ["trial-0", "trial-1", "trial-2"]
    mltrials = mlflow_group(store, "search", "hf")
    assert sorted(mltrials) == ["trial-0", "trial-1", "trial-2"]
    for number, (trial, lr) in enumerate(zip(trials, tried, strict=True)):
        mlrun = mltrials[trial.name]
        assert trial.status == "finished"
        assert mlrun.info.status == "FINISHED"
        for key, value in (
            ("args/learning_rate", lr),
            ("trial/learning_rate", lr),
            ("trial/hidden", 8),
            ("args/max_steps", TRIAL_STEPS),
        ):
            assert trial.params[key] == value, key
            assert mlrun.data.params[key] == str(value), key
        for key in ("loss", "learning_rate", "eval_loss", "train_runtime"):
            expected = recorder.trial_points(number, key)
            assert expected, f"trial {number} reported no {key!r}"
            assert [(m.step, m.value) for m in trial.metric_history(key)] == expected, key
            stored = metric_history(store, mlrun.info.run_id, key)
            assert [(step, value) for step, value, _ in stored] == expected, key


class PruneTrial(optuna.pruners.BasePruner):  # type: ignore[misc]
    """An Optuna pruner that prunes trial ``number`` at its first report."""

    def __init__(self, number: int) -> None:
        self.number = number

    def prune(self, study: Any, trial: Any) -> bool:
        return bool(trial.number == self.number)


def test_pruned_and_failed_trials_and_their_models(tmp_path: Path, quiet_optuna: None) -> None:
    run = tracelet.start_logging("hf", backend="local", config={"local": {"path": "runs"}})
    recorder = TrialRecorder()
    callbacks = [TraceletCallback(log_model=True, group="lr-search"), recorder, FailTrial(2)]
    fit = search_trainer(tmp_path, callbacks=callbacks)
    sampler = optuna.samplers.RandomSampler(seed=0)
    search(fit, 4, sampler=sampler, pruner=PruneTrial(1), catch=(ValueError,))
    fit.train()  # after the search, as before it: into the user's run
    assert run.stop()

    trials = list_runs("runs", group="lr-search")
    assert [(trial.name, trial.status) for trial in trials] == [
        ("trial-0", "finished"),
        ("trial-1", "killed"),  # pruned at its first evaluation
        ("trial-2", "failed"),  # raised ValueError, which the study caught
        ("trial-3", "finished"),
    ]
    assert [step for step, _ in recorder.trial_points(1, "eval_loss")] == [TRIAL_EVAL_STEPS]
    for number, trial in enumerate(trials):
        params = recorder.trials[number][0]
        assert trial.params["trial/learning_rate"] == params["learning_rate"]
        assert trial.params["args/learning_rate"] == params["learning_rate"]
        assert trial.params["trial/hidden"] == params["hidden"]
        loss = [(m.step, m.value) for m in trial.metric_history("loss")]
        assert loss == recorder.trial_points(number, "loss")
        # only a trial that trained to its end has its model logged
        assert ("model/pytorch_model.bin" in trial.artifact_files()) == (trial.status == "finished")

    local = read_run(run.locations()["local"])
    assert [(m.step, m.value) for m in local.metric_history("loss")] == recorder.trial_points(
        4, "loss"
    )
    assert local.params["args/max_steps"] == TRIAL_STEPS
    assert not [key for key in local.params if key.startswith("trial/")]
    models = [r for r in local.records() if r["type"] == "artifact"]
    assert [r["name"] for r in models] == ["model"]  # the last train()'s, and no trial's
    saved = torch.load(local.artifact_files()["model/pytorch_model.bin"], weights_only=True)
    assert torch.equal(saved["out.weight"], fit.model.out.weight)


def test_a_search_without_a_run_is_a_group_of_its_own(tmp_path: Path, quiet_optuna: None) -> None:
    callback = TraceletCallback(exp_name="hpo", backend="local", config={"local": {"path": "runs"}})
    recorder = TrialRecorder()
    # no evaluation while training: transformers evaluates once after it, for the objective
    fit = search_trainer(tmp_path, callbacks=[callback, recorder], eval_strategy="no")
    search(fit, 2, hp_name=lambda trial: f"lr-{trial.number}")
    assert tracelet.get_active_run() is None
    assert callback.run is None

    runs = list_runs("runs")
    assert [(r.name, r.group, r.status) for r in runs] == [
        ("lr-0", "hpo", "finished"),
        ("lr-1", "hpo", "finished"),
    ]
    for number, trial in enumerate(runs):
        assert [step for step, _ in recorder.trial_points(number, "eval_loss")] == [TRIAL_STEPS]
        for key in ("loss", "eval_loss", "train_runtime"):
            expected = recorder.trial_points(number, key)
            assert [(m.step, m.value) for m in trial.metric_history(key)] == expected, key
        assert trial.params["args/learning_rate"] == recorder.trials[number][0]["learning_rate"]


def test_trials_never_inherit_the_settings_that_name_the_user_s_backend_run() -> None:
    from tracelet.plugins import get_default_host
    from tracelet.settings import resolve_settings
    from tracelet_collectors.sweeps import given_config

    resolved = resolve_settings(
        get_default_host(),
        config={
            "mlflow": {"tracking_uri": "sqlite:///x.db", "run_id": "abc", "run_name": "mine"},
            "wandb": {"mode": "offline", "id": "abc", "resume": "allow"},
            "aim": {"run_hash": "abc"},
            "flush_interval": 0.5,
        },
    )
    assert given_config(resolved) == {
        "mlflow": {"tracking_uri": "sqlite:///x.db"},
        "wandb": {"mode": "offline"},
        "flush_interval": 0.5,
    }
