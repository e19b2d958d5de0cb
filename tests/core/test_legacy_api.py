"""The API of earlier Tracelet releases: ``Experiment``, ``iteration=``, standalone collectors,
framework objects, ``available_backends()`` and ``available_frameworks()``.

Written from the earlier releases' documented behaviour and docs/migrating.md: each test logs
the way an earlier script did and reads the stored run back (the local run folder, or MLflow's
sqlite store through ``MlflowClient``).
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from support.git_repo import TOKEN, make_repo

import tracelet
from tracelet import legacy
from tracelet.backends.local import read_run
from tracelet.plugins import PluginHost


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing said yet: each notice is said once per process."""
    monkeypatch.setattr(legacy, "_said", set())


def stored(run: Any) -> Any:
    """The local run folder of a stopped run (or an Experiment's run), read back."""
    return read_run(run.links["local"].path)


def points(stored_run: Any, name: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in stored_run.metric_history(name)]


# -- Experiment --------------------------------------------------------------------------------


def test_experiment_is_importable_from_both_earlier_places() -> None:
    from tracelet import Experiment
    from tracelet.core.experiment import Experiment as CoreExperiment

    assert Experiment is CoreExperiment is tracelet.Experiment
    assert "Experiment" in dir(tracelet)


def test_an_experiment_logs_into_a_run_that_is_stored() -> None:
    exp = tracelet.Experiment(
        "baseline",
        config={"project": "legacy", "track_git": False},
        backend=["local", "memory"],
        tags=["pytorch", "baseline"],
    )
    assert (exp.name, exp.run, exp.id) == ("baseline", None, None)
    assert exp.config == {"project": "legacy", "track_git": False}
    assert exp.tags == ["pytorch", "baseline"]

    with pytest.warns(DeprecationWarning, match="'track_git'"):
        assert exp.start() is exp
    assert exp.start() is exp  # already running: nothing happens
    run = exp.run
    assert run is not None
    assert tracelet.get_active_experiment() is run
    assert exp.id == run.id
    assert (run.name, run.project, run.backends) == ("baseline", "legacy", ("local", "memory"))

    exp.log_params({"learning_rate": 0.001, "batch_size": 32})
    exp.log_hyperparameter("optimizer", "adam")
    for epoch in range(3):
        exp.log_metric("train_loss", 1.0 / (epoch + 1), epoch)  # positional, as documented
    exp.log_metric("val_loss", 0.9, iteration=10)
    exp.log_metric("auto", 1.0)  # no iteration and none set: the name's automatic steps
    exp.log_metric("auto", 2.0)
    exp.set_iteration(100)
    assert exp.iteration == 100
    exp.log_metric("lr", 0.01)  # at the iteration set
    exp.log_metric("lr", 0.02, iteration=0)  # an explicit 0 is 0, not the iteration set
    Path("model.pt").write_bytes(b"weights")
    exp.log_artifact("model.pt", "models/checkpoint_epoch_10.pt")
    exp.log_file_artifact("model.pt")
    assert exp.stop() is True
    assert exp.end() is True  # stopped already: nothing happens
    assert run.status == "finished"

    back = stored(run)
    assert back.status == "finished"
    assert points(back, "train_loss") == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert points(back, "val_loss") == [(10, 0.9)]
    assert points(back, "auto") == [(0, 1.0), (1, 2.0)]
    assert points(back, "lr") == [(100, 0.01), (0, 0.02)]
    assert back.params == {"learning_rate": 0.001, "batch_size": 32, "optimizer": "adam"}
    assert back.tags == {"pytorch": "", "baseline": ""}
    files = back.artifact_files()
    assert files["models/checkpoint_epoch_10.pt"].read_bytes() == b"weights"
    assert files["model.pt"].read_bytes() == b"weights"


def test_an_experiment_as_a_context_manager_and_mapping_tags() -> None:
    with tracelet.Experiment("ctx", backend="local", tags={"team": "ml", "v": 2}) as exp:
        exp.log_metric("loss", 0.1, iteration=1)
    assert exp.run is not None
    assert exp.run.status == "finished"
    assert stored(exp.run).tags == {"team": "ml", "v": "2"}

    with pytest.raises(RuntimeError, match="diverged"), tracelet.Experiment("fails") as failing:
        raise RuntimeError("diverged")
    assert failing.run is not None
    assert stored(failing.run).status == "failed"


def test_an_experiment_started_again_after_stop_is_a_new_run() -> None:
    exp = tracelet.Experiment("twice", backend="local").start()
    first = exp.run
    exp.stop()
    exp.start()
    assert exp.run is not first
    assert exp.run is not None
    assert exp.run.status == "running"
    exp.end()


def test_logging_before_start_is_an_error_that_says_what_to_do() -> None:
    exp = tracelet.Experiment("not-started")
    with pytest.raises(RuntimeError, match=r"log_metric before start\(\); call \.start\(\)"):
        exp.log_metric("loss", 0.1)
    with pytest.raises(RuntimeError, match="log_params before start"):
        exp.log_params({"a": 1})
    assert exp.stop() is True  # nothing to stop


def test_experiment_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="non-empty string"):
        tracelet.Experiment("")
    with pytest.raises(TypeError, match="tags must be a mapping or a list"):
        tracelet.Experiment("x", tags=[1, 2])  # type: ignore[list-item]
    exp = tracelet.Experiment("x")
    with pytest.raises(TypeError):
        exp.set_iteration("ten")  # type: ignore[arg-type]


def test_a_tracelet_settings_is_an_experiments_config() -> None:
    from tracelet.settings import TraceletSettings

    settings = TraceletSettings(project="from-settings", backend=["local"])
    with tracelet.Experiment("with-settings", config=settings) as exp:
        exp.log_metric("loss", 0.3, iteration=0)
    assert exp.run is not None
    assert exp.run.project == "from-settings"
    assert points(stored(exp.run), "loss") == [(0, 0.3)]


def test_automagic_artifacts_captures_the_model_files_the_run_writes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Path("weights").mkdir()
    Path("weights/pretrained.pt").write_bytes(b"there before the run")
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        exp = tracelet.Experiment("capture", backend="local", automagic_artifacts=True)
        with exp:
            Path("weights/best.pt").write_bytes(b"epoch 1")
            exp.log_params({"lr": 0.1})
    assert caplog.records == []
    assert exp.run is not None
    run = stored(exp.run)
    assert run.params == {"lr": 0.1}
    (captured,) = run.typed_artifacts()  # not the file that was there before
    assert (captured.name, captured.type.value, captured.version) == ("weights-best.pt", "model", 0)
    assert captured.file_path("best.pt").read_bytes() == b"epoch 1"


def test_the_artifacts_flag_asks_for_what_is_always_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        exp = tracelet.Experiment("flags", backend="local", artifacts=True)
    assert caplog.records == []  # typed artifacts are supported: nothing to say
    with exp:
        exp.log_artifact(exp.create_artifact("notes", "report").add_object({"a": 1}, "notes"))
    assert exp.get_artifact("notes") is not None


# -- iteration= on Run -------------------------------------------------------------------------


def test_run_log_metric_and_log_metrics_take_iteration_as_steps_earlier_name() -> None:
    run = tracelet.start_logging(exp_name="iteration", backend="local")
    run.log_metric("loss", 0.5, iteration=7)
    run.log_metric("loss", 0.4, 8)
    run.log_metrics({"acc": 0.9, "f1": 0.8}, iteration=3)
    run.log_metric("loss", 0.3)  # automatic steps are counted apart: 0
    with pytest.raises(TypeError, match=r"step= or iteration= .* not both"):
        run.log_metric("loss", 0.1, step=1, iteration=1)
    with pytest.raises(TypeError, match="log_metrics takes step= or iteration="):
        run.log_metrics({"acc": 1.0}, step=1, iteration=1)
    with pytest.raises(TypeError, match="step must be an int"):
        run.log_metric("loss", 0.1, iteration=True)
    assert run.stop()
    back = stored(run)
    assert points(back, "loss") == [(7, 0.5), (8, 0.4), (0, 0.3)]
    assert points(back, "acc") == [(3, 0.9)]
    assert points(back, "f1") == [(3, 0.8)]


def test_an_experiment_stored_in_mlflow_reads_back_with_mlflow_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tracelet_mlflow")
    from support.mlflow_reading import find_run, metric_history

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp = tracelet.Experiment(
        "to-mlflow",
        config={"project": "legacy", "mlflow": {"tracking_uri": uri}, "track_system": False},
        backend=["mlflow"],
        tags={"team": "ml"},
    )
    with pytest.warns(DeprecationWarning, match="'track_system'"):
        exp.start()
    exp.log_params({"learning_rate": 0.001})
    exp.log_hyperparameter("batch_size", 32)
    for epoch in range(3):
        exp.log_metric("loss", 1.0 / (epoch + 1), iteration=epoch)
    exp.set_iteration(5)
    exp.log_metric("acc", 0.75)
    assert exp.stop()

    mlrun = find_run(uri, exp.run)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.info.run_name == "to-mlflow"
    assert mlrun.data.params == {"learning_rate": "0.001", "batch_size": "32"}
    assert mlrun.data.tags["team"] == "ml"
    history = metric_history(uri, mlrun.info.run_id, "loss")
    assert [(step, value) for step, value, _ in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert [(s, v) for s, v, _ in metric_history(uri, mlrun.info.run_id, "acc")] == [(5, 0.75)]


# -- available backends and frameworks -----------------------------------------------------------


def test_available_backends_lists_the_installed_backends() -> None:
    from tracelet.plugins import get_default_host

    names = tracelet.available_backends()
    assert names == sorted(get_default_host().backends)
    assert {"local", "memory"} <= set(names)


def test_available_frameworks_are_registered_captures_whose_library_is_importable(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracelet import frameworks

    installed = frameworks.available_frameworks(host)
    assert set(installed) <= {"tensorboard", "lightning", "transformers"}
    monkeypatch.setattr(frameworks, "_importable", lambda module: module == "tensorboardX")
    assert frameworks.available_frameworks(host) == ["tensorboard"]
    monkeypatch.setattr(frameworks, "_importable", lambda module: module in ("torch",))
    assert frameworks.available_frameworks(host) == []  # torch without tensorboard
    monkeypatch.setattr(frameworks, "_importable", lambda module: True)
    assert frameworks.available_frameworks(PluginHost(load_entrypoints=False)) == []
    assert isinstance(tracelet.available_frameworks(), list)


# -- standalone collectors ---------------------------------------------------------------------


def test_git_collector_collects_the_repository_state(tmp_path: Path) -> None:
    from tracelet.collectors.git import GitCollector

    repo = make_repo(tmp_path / "repo")
    collector = GitCollector(repo_path=tmp_path / "repo")
    collector.initialize()
    info = collector.collect()
    assert info == {
        "commit_hash": repo.head.commit.hexsha,
        "branch": "main",
        "remote_url": "https://github.com/acme/project.git",  # no token
        "is_dirty": True,
        "uncommitted_files": ["train.py"],
        "untracked_files": ["notes.txt"],
    }
    assert TOKEN not in str(info)
    assert GitCollector(repo_path=tmp_path).collect() == {}  # not a repository


def test_system_metrics_collector_collects_current_usage() -> None:
    from tracelet.collectors.system import SystemMetricsCollector

    collector = SystemMetricsCollector(collect_interval=5.0)
    assert collector.collect_interval == 5.0
    collector.initialize()
    collector.start()
    sample = collector.collect()
    assert 0.0 <= sample["cpu_percent"] <= 100.0
    assert 0.0 < sample["memory_percent"] <= 100.0
    assert sample["memory_used_mb"] > 0
    assert sample["process_rss_mb"] > 0
    assert all(isinstance(v, float) for v in sample.values())
    collector.stop()
    assert "cpu_percent" in collector.collect()  # opens a new window by itself


@pytest.mark.parametrize(
    ("module", "name", "collectors_module"),
    [
        ("tracelet.collectors.git", "GitCollector", "git"),
        ("tracelet.collectors.system", "SystemMetricsCollector", "system"),
        ("tracelet.frameworks.pytorch", "PyTorchFramework", "tensorboard"),
        ("tracelet.frameworks.lightning", "LightningFramework", "lightning_capture"),
    ],
)
def test_without_tracelet_collectors_the_error_names_the_distribution(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str, collectors_module: str
) -> None:
    import importlib

    cls = getattr(importlib.import_module(module), name)
    monkeypatch.setitem(sys.modules, "tracelet_collectors", None)
    monkeypatch.setitem(sys.modules, f"tracelet_collectors.{collectors_module}", None)
    with pytest.raises(ImportError, match=rf"{name} needs the tracelet-collectors distribution"):
        cls()


def test_the_earlier_top_level_names_are_the_objects_of_their_modules() -> None:
    import importlib

    for module, name in [
        ("tracelet.collectors.git", "GitCollector"),
        ("tracelet.collectors.system", "SystemMetricsCollector"),
        ("tracelet.frameworks.pytorch", "PyTorchFramework"),
        ("tracelet.frameworks.lightning", "LightningFramework"),
    ]:
        assert getattr(tracelet, name) is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError, match="has no attribute 'GitCollectr'"):
        tracelet.GitCollectr  # noqa: B018 - a typo still fails


# -- framework objects -------------------------------------------------------------------------


def test_pytorch_framework_logs_and_summary_writer_calls_are_captured(tmp_path: Path) -> None:
    tensorboard_x = pytest.importorskip("tensorboardX")
    from tracelet.frameworks.pytorch import PyTorchFramework

    exp = tracelet.Experiment("framework", backend="local").start()
    framework = PyTorchFramework(patch_tensorboard=True)
    framework.initialize(exp)
    framework.start_tracking()
    writer = tensorboard_x.SummaryWriter(logdir=str(tmp_path / "tb"))
    writer.add_scalar("Loss/train", 0.5, 3)
    writer.close()
    framework.log_metric("manual", 1.0, iteration=1)
    framework.stop_tracking()
    exp.stop()
    back = stored(exp.run)
    assert points(back, "Loss/train") == [(3, 0.5)]
    assert points(back, "manual") == [(1, 1.0)]


@pytest.mark.parametrize(
    ("framework", "config", "expected"),
    [
        ("PyTorchFramework", {"capture_tensorboard": False}, "capture_tensorboard is off"),
        ("LightningFramework", {"capture_lightning": False}, "capture_lightning is off"),
        ("LightningFramework", {}, None),
    ],
)
def test_start_tracking_warns_when_the_capture_is_off(
    caplog: pytest.LogCaptureFixture, framework: str, config: dict[str, Any], expected: str | None
) -> None:
    from tracelet.frameworks.lightning import LightningFramework
    from tracelet.frameworks.pytorch import PyTorchFramework

    cls = {"PyTorchFramework": PyTorchFramework, "LightningFramework": LightningFramework}
    instance = cls[framework]()
    with pytest.raises(RuntimeError, match="no run to log into"):
        instance.start_tracking()
    run = tracelet.start_logging(exp_name="capture", backend="memory", config=config)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        instance.start_tracking()  # the active run
    run.stop()
    messages = [r.getMessage() for r in caplog.records]
    if expected is None:
        assert messages == []
    else:
        (message,) = messages
        assert expected in message
        assert "start the run with config={" in message


def test_pytorch_framework_without_patching_says_the_run_captures_anyway(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tracelet.frameworks.pytorch import PyTorchFramework

    run = tracelet.start_logging(exp_name="patch-off", backend="memory")
    framework = PyTorchFramework(patch_tensorboard=False)
    framework.initialize(run)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        framework.start_tracking()
    run.stop()
    (record,) = caplog.records
    assert "cannot turn the capture off" in record.getMessage()
    assert "config={'capture_tensorboard': False}" in record.getMessage()


# -- ExperimentConfig --------------------------------------------------------------------------


def test_experiment_config_keeps_the_earlier_fields_and_import_path() -> None:
    from tracelet.core.experiment import ExperimentConfig

    config = ExperimentConfig(track_git=False)
    assert (config.track_metrics, config.track_system_metrics, config.track_git) == (
        True,
        True,
        False,
    )
    assert (config.enable_automagic, config.automagic_frameworks, config.watch_filesystem) == (
        False,
        None,
        False,
    )
    assert config.changed() == {"track_git": False}
    # Shown by the earlier docs, never fields of the earlier class: still an error.
    with pytest.raises(TypeError, match="tracking_uri"):
        ExperimentConfig(tracking_uri="http://mlflow:5000")  # type: ignore[call-arg]


def test_an_experiment_config_is_read_as_todays_keys_and_stored_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracelet.core.experiment import ExperimentConfig
    from tracelet.legacy import TraceletDeprecationWarning

    monkeypatch.setenv("TRACELET_TRACK_ENVIRONMENT", "true")  # below the config argument
    config = ExperimentConfig(
        track_environment=False, track_system_metrics=False, track_git=False, enable_automagic=True
    )
    with pytest.warns(TraceletDeprecationWarning) as said:
        exp = tracelet.Experiment("earlier-config", config=config, backend="local")
    (message,) = [str(w.message) for w in said]
    assert message == (
        "ExperimentConfig(track_environment=False, track_system_metrics=False, "
        "track_git=False, enable_automagic=True) is the earlier form of "
        "config={'track_environment': False, 'collect_system_metrics': False, "
        "'track_git_info': False, 'automagic': True} and is read as it; pass that mapping as "
        "config instead of an ExperimentConfig"
    )
    assert exp.config is config  # what was given
    with exp:
        learning_rate = 0.01  # automagic (enable_automagic) logs it when the run stops
        exp.log_metric("loss", learning_rate, iteration=1)
    assert exp.run is not None
    assert exp.run.settings is not None
    model: Any = exp.run.settings.model  # collector keys: not in CoreSettings
    assert (model.track_environment, model.collect_system_metrics) == (False, False)
    assert (model.track_git_info, model.automagic) == (False, True)
    back = stored(exp.run)
    assert points(back, "loss") == [(1, 0.01)]
    assert back.params == {"learning_rate": 0.01}  # no env/* params: track_environment off

    # A field at its earlier default passes nothing on: the env var decides.
    with tracelet.Experiment("default-config", config=ExperimentConfig(), backend="local") as dflt:
        pass
    assert any(name.startswith("env/") for name in stored(dflt.run).params)


def test_experiment_config_fields_with_no_effect_warn_once_naming_the_field() -> None:
    from tracelet.core.experiment import ExperimentConfig
    from tracelet.legacy import TraceletDeprecationWarning

    config = ExperimentConfig(track_stdout=False, automagic_frameworks={"pytorch"})
    with pytest.warns(TraceletDeprecationWarning) as said:
        exp = tracelet.Experiment("no-effect", config=config, backend="local")
    messages = [str(w.message) for w in said]
    assert messages == [
        "ExperimentConfig(track_stdout=False) has no effect in this Tracelet release and is "
        "ignored: this release has no such collector; remove it",
        "ExperimentConfig(automagic_frameworks={'pytorch'}) has no effect in this Tracelet "
        "release and is ignored: automagic reads the script's variables, not frameworks; the "
        "framework captures are the settings capture_tensorboard, capture_lightning and "
        "capture_transformers; remove it",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracelet.Experiment("no-effect-again", config=config)  # said once per process
    with exp:
        exp.log_params({"lr": 0.1})
    assert stored(exp.run).params["lr"] == 0.1


def test_experiment_config_artifact_capture_fields_are_todays_keys() -> None:
    from tracelet.core.experiment import ExperimentConfig

    config = ExperimentConfig(artifact_watch_dirs=["ckpt"], watch_filesystem=True)
    with pytest.warns(
        DeprecationWarning, match=r"^ExperimentConfig\(artifact_watch_dirs="
    ) as record:
        settings = config.settings()
    assert settings == {"automagic_artifacts": True, "artifact_watch_dirs": ["ckpt"]}
    assert [str(w.message) for w in record] == [
        "ExperimentConfig(artifact_watch_dirs=['ckpt'], watch_filesystem=True) is the earlier "
        "form of config={'artifact_watch_dirs': ['ckpt'], 'automagic_artifacts': True} and is "
        "read as it; pass that mapping as config instead of an ExperimentConfig"
    ]


def test_experiment_config_artifact_capture_without_the_collectors_says_what_to_install(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tracelet.core.experiment import ExperimentConfig

    config = ExperimentConfig(automagic_artifacts=True, watch_filesystem=True)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        assert config.settings(known=frozenset({"automagic"})) == {}
        config.settings(known=frozenset({"automagic"}))  # said once per process
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "tracelet: automatic artifact capture (ExperimentConfig(automagic_artifacts=True, "
        "watch_filesystem=True)) comes with Tracelet's collectors, which are not installed"
    )


def test_experiment_config_at_its_defaults_asks_for_nothing_and_says_nothing() -> None:
    from tracelet.core.experiment import ExperimentConfig

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ExperimentConfig().settings() == {}
        assert ExperimentConfig(enable_artifacts=True).settings() == {}  # always available
    # Without tracelet-collectors, their keys are left out: those collectors do not run.
    without = ExperimentConfig(track_git=False, enable_automagic=True)
    with pytest.warns(DeprecationWarning, match=r"^ExperimentConfig\(enable_automagic=True\) "):
        assert without.settings(known=frozenset({"automagic"})) == {"automagic": True}


# -- PyTorchFramework.log_enhanced_metric ------------------------------------------------------


def test_log_enhanced_metric_logs_the_value_and_sets_kind_and_metadata_as_tags() -> None:
    from tracelet.core.orchestrator import MetricType
    from tracelet.frameworks.pytorch import PyTorchFramework

    exp = tracelet.Experiment("enhanced", backend="local").start()
    framework = PyTorchFramework()
    framework.initialize(exp)
    framework.log_enhanced_metric(
        name="validation_accuracy",
        value=0.95,
        metric_type="accuracy",
        iteration=100,
        metadata={"dataset": "validation", "model_checkpoint": "epoch_100"},
    )
    framework.log_enhanced_metric(
        "validation_accuracy",
        0.96,
        "accuracy",
        101,
        {"dataset": "validation", "model_checkpoint": "epoch_101"},
    )
    framework.log_enhanced_metric("training_loss", 0.1, MetricType.SCALAR, 100, {"batch_size": 32})
    exp.stop()

    back = stored(exp.run)
    assert points(back, "validation_accuracy") == [(100, 0.95), (101, 0.96)]
    assert points(back, "training_loss") == [(100, 0.1)]
    assert back.tags == {
        "validation_accuracy/metric_type": "accuracy",
        "validation_accuracy/dataset": "validation",
        "validation_accuracy/model_checkpoint": "epoch_101",  # the last value set
        "training_loss/metric_type": "scalar",
        "training_loss/batch_size": "32",
    }
    tag_records = [(r["name"], r["value"]) for r in back.records() if r["type"] == "tag"]
    assert tag_records.count(("validation_accuracy/dataset", "validation")) == 1  # unchanged


def test_log_enhanced_metric_sends_media_kinds_and_parameters_to_their_calls() -> None:
    from tracelet.core.orchestrator import MetricType
    from tracelet.frameworks.pytorch import PyTorchFramework

    with tracelet.Experiment("enhanced-kinds", backend="local") as exp:
        framework = PyTorchFramework()
        framework.initialize(exp)
        framework.log_enhanced_metric("weights", [0.1, 0.2, 0.2, 0.9], MetricType.HISTOGRAM, 3)
        framework.log_enhanced_metric("notes", "converged", "text", 4)
        framework.log_enhanced_metric("optimizer", "adam", MetricType.PARAMETER, None)
    back = stored(exp.run)
    media = {(m["type"], m["name"], m["step"]) for m in back.media}
    assert media == {("histogram", "weights", 3), ("text", "notes", 4)}
    assert back.params == {"optimizer": "adam"}
    assert back.metrics == {}
    assert back.tags["weights/metric_type"] == "histogram"


def test_log_enhanced_metric_refuses_what_it_cannot_log_and_logs_nothing_then() -> None:
    from tracelet.frameworks.pytorch import PyTorchFramework

    framework = PyTorchFramework()
    with pytest.raises(RuntimeError, match="no run to log into"):
        framework.log_enhanced_metric("acc", 0.5, "accuracy", 1)
    with tracelet.Experiment("enhanced-errors", backend="local") as exp:
        framework.initialize(exp)
        with pytest.raises(TypeError, match=r"'video' value .* log_artifact"):
            framework.log_enhanced_metric("clip", b"...", "video", 1)
        with pytest.raises(TypeError, match="metadata must be a mapping"):
            framework.log_enhanced_metric("acc", 0.5, "accuracy", 1, ["val"])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            framework.log_enhanced_metric("acc", "high", "accuracy", 1)
    back = stored(exp.run)
    assert (back.metrics, back.tags, back.media) == ({}, {}, [])
