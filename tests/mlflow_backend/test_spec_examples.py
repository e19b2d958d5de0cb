"""The configuration page's MLflow examples that are not Python blocks (env vars, the YAML file,
the collector and git examples), as written, with only the server address pointed at the
session's real ``mlflow server``. Its Python blocks run from docs/backends/mlflow.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.mlflow_reading import find_run
from support.mlflow_server import MlflowServer

import tracelet


def experiment_of(uri: str, mlrun: Any) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(uri).get_experiment(mlrun.info.experiment_id).name)


def test_environment_variables_example(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # export TRACELET_BACKEND=mlflow / TRACELET_PROJECT=... / MLFLOW_TRACKING_URI=...
    monkeypatch.setenv("TRACELET_BACKEND", "mlflow")
    monkeypatch.setenv("TRACELET_PROJECT", "my_default_project")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    run = tracelet.start_logging(exp_name="from-env")
    run.log_metric("loss", 0.25, step=0)
    assert run.stop()
    mlrun = find_run(mlflow_server.uri, run)
    assert experiment_of(mlflow_server.uri, mlrun) == "my_default_project"
    assert mlrun.data.metrics == {"loss": 0.25}

    # export MLFLOW_EXPERIMENT_NAME="My Experiments"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "My Experiments")
    run = tracelet.start_logging(exp_name="from-env-2")
    assert run.stop()
    assert experiment_of(mlflow_server.uri, find_run(mlflow_server.uri, run)) == "My Experiments"


def config_file_head(tracking_uri: str) -> str:
    """The configuration page's tracelet.yaml up to its MLflow section (the server's address
    put in)."""
    return (
        "# tracelet.yaml\n"
        "backend: mlflow\n"
        "project: my_project\n"
        "experiment_name: my_experiment\n"
        "\n"
        "# Backend-specific configuration\n"
        "mlflow:\n"
        f"  tracking_uri: {tracking_uri}\n"
        '  experiment_name: "ML Experiments"\n'
    )


def test_config_file_example(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    (tmp_path / "tracelet.yaml").write_text(config_file_head(mlflow_server.uri))
    run = tracelet.start_logging()
    assert run.stop()
    mlrun = find_run(mlflow_server.uri, run)
    assert experiment_of(mlflow_server.uri, mlrun) == "ML Experiments"
    assert mlrun.info.run_name == "my_experiment"


@pytest.mark.parametrize(
    "config",
    [
        {
            "collect_system_metrics": True,
            "system_metrics_interval": 30,
            "collect_gpu_metrics": True,
        },
        {"track_git_info": True, "git_repo_path": ".", "include_uncommitted_changes": True},
    ],
    ids=["system-metrics", "git"],
)
def test_core_examples_with_the_mlflow_backend(config: dict[str, Any], tmp_path: Path) -> None:
    run = tracelet.start_logging(backend="mlflow", config=config)
    run.log_metric("x", 1.0, step=0)
    assert run.stop()
    mlrun = find_run(f"sqlite:///{tmp_path / 'mlflow.db'}", run)  # MLflow's default store
    assert mlrun.info.status == "FINISHED"


def test_the_whole_config_file_example(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    """The page's tracelet.yaml with every backend's section, as written (only the server
    address changed): valid with all four plugins installed, and MLflow gets the run."""
    (tmp_path / "tracelet.yaml").write_text(
        config_file_head(mlflow_server.uri) + "\n"
        "clearml:\n"
        '  project_name: "Tracelet Experiments"\n'
        '  task_name: "Training Run"\n'
        "\n"
        "wandb:\n"
        '  project: "tracelet-experiments"\n'
        '  entity: "your-username"\n'
        "\n"
        "aim:\n"
        '  repo_path: "./aim_logs"\n'
        '  experiment_name: "Tracelet Experiments"\n'
    )
    run = tracelet.start_logging()
    assert run.stop()
    mlrun = find_run(mlflow_server.uri, run)
    assert experiment_of(mlflow_server.uri, mlrun) == "ML Experiments"
    assert mlrun.info.run_name == "my_experiment"


@pytest.mark.parametrize("backend", [["mlflow"], ["local", "mlflow"]], ids=["alone", "with-local"])
def test_a_flat_experiment_name_means_the_same_with_one_or_several_backends(
    backend: list[str], tmp_path: Path
) -> None:
    """Issue's example: the same config names MLflow's experiment and the run, whether MLflow
    is the only backend or one of two."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = {"experiment_name": "Deep Learning", "tracking_uri": uri}
    run = tracelet.start_logging(backend=backend, config=config)
    run.log_metric("loss", 0.5, step=0)
    assert run.stop()
    mlrun = find_run(uri, run)
    assert experiment_of(uri, mlrun) == "Deep Learning"
    assert (mlrun.info.run_name, run.name) == ("Deep Learning", "Deep Learning")
    assert mlrun.data.metrics == {"loss": 0.5}
