"""Automagic (issue 19): the script's hyperparameters, models and datasets as params.

The collector is checked end to end in child processes (a real ``__main__`` script, read back
through MlflowClient and the run folder) and in this process (a test function's locals); the
rule, ``capture_model`` and ``capture_dataset`` on real torch and numpy objects.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.mlflow_reading import find_run
from support.processes import checked, run

import tracelet
from tracelet import Experiment
from tracelet.automagic import (
    AutomagicConfig,
    capture_dataset,
    capture_hyperparams,
    capture_model,
    describe_dataset,
    find_hyperparams,
    find_objects,
    is_hyperparameter,
)
from tracelet.backends.local import read_run

torch = pytest.importorskip("torch")


def params_of(r: tracelet.Run | None) -> dict[str, Any]:
    assert r is not None
    path = r.links["local"].path
    assert path is not None
    return read_run(path).params


# -- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("learning_rate", 0.001),
        ("lr", 3e-4),
        ("LEARNING_RATE", 0.01),
        ("learningRate", 0.01),
        ("batch_size", 32),
        ("num_epochs", 10),
        ("weight_decay", 1e-5),
        ("momentum", 0.9),
        ("dropout", 0.1),
        ("seed", 42),
        ("beta1", 0.9),
        ("hidden_sizes", [256, 128]),
        ("optimizer_name", "adam"),
        ("use_pretrained", True),
    ],
)
def test_hyperparameter_names_with_plain_values_are_captured(name: str, value: Any) -> None:
    assert is_hyperparameter(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("i", 3),
        ("epoch", 9),  # a loop counter, not the number of epochs
        ("step", 100),
        ("loss", 0.25),
        ("val_loss", 0.3),
        ("best_acc", 0.9),
        ("data_path", "/tmp/x"),
        ("batch_idx", 7),
        ("_lr", 0.1),  # private
        ("lr", float("nan")),
        ("learning_rate", object()),  # not a plain value
        ("hidden_sizes", list(range(100))),  # too long a list
        ("model_name", "x" * 1000),  # too long a string
    ],
)
def test_other_names_and_values_are_not(name: str, value: Any) -> None:
    assert not is_hyperparameter(name, value)


def test_include_adds_names_and_exclude_wins() -> None:
    config = AutomagicConfig(include=["n_*"], exclude=["seed", "*_size"])
    assert is_hyperparameter("n_trees_per_forest", 10, config)
    assert not is_hyperparameter("n_trees_per_forest", 10)
    assert not is_hyperparameter("seed", 1, config)
    assert not is_hyperparameter("batch_size", 32, config)
    assert not is_hyperparameter("n_things", object(), config)  # included names: plain values


def test_a_later_namespace_hides_a_name_and_optimizers_and_argparse_give_their_values() -> None:
    model = torch.nn.Linear(2, 1)
    namespaces = [
        {"lr": 0.1, "seed": 1},
        {
            "lr": 0.01,
            "opt": torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9),
            "args": argparse.Namespace(epochs=3, data="/d", callback=print),
        },
    ]
    found = find_hyperparams(namespaces)
    assert found["lr"] == 0.01
    assert found["seed"] == 1
    assert found["opt/type"] == "SGD"
    assert found["opt/lr"] == 0.5
    assert found["opt/momentum"] == 0.9
    assert found["args/epochs"] == 3
    assert found["args/data"] == "/d"  # an option is a setting, whatever its name
    assert "args/callback" not in found
    assert "opt/params" not in found


# -- capture_hyperparams, capture_model, capture_dataset ----------------------------------------


def test_capture_hyperparams_logs_the_callers_variables_into_the_active_run() -> None:
    r = tracelet.start_logging(exp_name="capture", backend="local")
    learning_rate = 0.05
    batch_size = 16
    data_path = "/tmp/data"
    logged = capture_hyperparams()
    assert logged == {"learning_rate": learning_rate, "batch_size": batch_size}
    assert data_path not in logged.values()
    r.stop()
    assert params_of(r) == logged


def test_capture_calls_without_a_run_say_how_to_start_one() -> None:
    with pytest.raises(RuntimeError, match="no active run"):
        capture_hyperparams()


def mlp() -> Any:
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2), torch.nn.BatchNorm1d(2)
    )


def test_capture_model_counts_parameters_exactly() -> None:
    model = mlp()
    for p in model[0].parameters():
        p.requires_grad = False
    r = tracelet.start_logging(exp_name="model", backend="local")
    logged = capture_model(model, r)
    r.stop()
    assert logged == {
        "model/type": "Sequential",
        "model/total_params": 4 * 8 + 8 + 8 * 2 + 2 + 2 + 2,  # 62
        "model/trainable_params": 8 * 2 + 2 + 2 + 2,  # 22
        "model/frozen_params": 4 * 8 + 8,  # 40
        "model/layers": 4,
        "model/layer_types": "Linear x2, ReLU x1, BatchNorm1d x1",
        # 62 float32 parameters; BatchNorm's buffers: 2 + 2 float32 and one int64 counter
        "model/size_mb": round((62 * 4 + 4 * 4 + 8) / 2**20, 4),
    }
    assert params_of(r) == logged


def test_capture_model_counts_shared_parameters_once_and_sizes_in_mib() -> None:
    shared = torch.nn.Linear(1024, 256)
    model = torch.nn.Sequential(shared, torch.nn.Tanh(), shared)
    r = tracelet.start_logging(exp_name="shared", backend="local")
    logged = capture_model(model, r, name="encoder")
    r.stop()
    assert logged["encoder/total_params"] == 1024 * 256 + 256
    assert logged["encoder/size_mb"] == round((1024 * 256 + 256) * 4 / 2**20, 4)  # 1.001
    assert logged["encoder/layers"] == 2  # the shared Linear is one module


def test_capture_model_refuses_what_is_not_a_model() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module or a Keras model"):
        capture_model([1, 2, 3], tracelet.start_logging(exp_name="no-model", backend="local"))
    with pytest.raises(TypeError):
        capture_model(torch.nn.Linear)  # the class, not a model


def test_capture_dataset_on_a_tensor_dataset_reads_shapes_dtypes_and_classes() -> None:
    targets = torch.tensor([0, 1, 1, 2, 2, 2])
    ds = torch.utils.data.TensorDataset(torch.zeros(6, 3, 8, 8), targets)
    r = tracelet.start_logging(exp_name="dataset", backend="local")
    logged = capture_dataset(ds)
    r.stop()
    assert logged == {
        "dataset/type": "TensorDataset",
        "dataset/size": 6,
        "dataset/sample/0/shape": [3, 8, 8],
        "dataset/sample/0/dtype": "torch.float32",
        "dataset/sample/1/shape": [],
        "dataset/sample/1/dtype": "torch.int64",
        "dataset/num_classes": 3,
        "dataset/class_counts/0": 1,
        "dataset/class_counts/1": 2,
        "dataset/class_counts/2": 3,
    }
    stored = params_of(r)
    assert stored["dataset/size"] == 6
    assert stored["dataset/class_counts/2"] == 3


def test_capture_dataset_on_numpy_arrays_and_a_data_loader() -> None:
    x = np.zeros((20, 5), dtype=np.float64)
    y = np.array([0, 1] * 10)
    assert describe_dataset(x) == {
        "type": "ndarray",
        "size": 20,
        "sample/shape": [5],
        "sample/dtype": "float64",
    }
    columns = describe_dataset((x, y))
    assert columns["size"] == 20
    assert columns["sample/0/shape"] == [5]
    assert columns["class_counts"] == {"0": 10, "1": 10}
    regression = describe_dataset((x, np.linspace(0, 1, 20)))
    assert "num_classes" not in regression  # float targets are not classes
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = describe_dataset(torch.utils.data.DataLoader(ds, batch_size=4))
    assert loader["loader_type"] == "DataLoader"
    assert loader["batch_size"] == 4
    assert loader["size"] == 20
    assert loader["num_classes"] == 2


def test_find_objects_says_each_thing_once() -> None:
    x = torch.zeros(12, 3)
    train_set = torch.utils.data.TensorDataset(x, torch.arange(12) % 3)
    found = find_objects(
        [
            {
                "net": torch.nn.Linear(3, 2),
                "criterion": torch.nn.CrossEntropyLoss(),  # no parameters: not a model
                "train_set": train_set,
                "train_loader": torch.utils.data.DataLoader(train_set, batch_size=4),
                "other_loader": torch.utils.data.DataLoader(torch.zeros(5, 2), batch_size=5),
            }
        ]
    )
    assert not [k for k in found if k.startswith("criterion/")]
    assert found["net/total_params"] == 8
    assert found["train_set/size"] == 12
    assert {k: v for k, v in found.items() if k.startswith("train_loader/")} == {
        "train_loader/loader_type": "DataLoader",
        "train_loader/batch_size": 4,
        "train_loader/dataset": "train_set",
    }
    # a loader whose dataset no variable holds still describes that dataset
    assert found["other_loader/size"] == 5
    assert found["other_loader/loader_type"] == "DataLoader"


class Huge:
    """A billion items, each made on demand; counts what was read."""

    def __init__(self) -> None:
        self.read: list[int] = []

    def __len__(self) -> int:
        return 10**9

    def __getitem__(self, index: int) -> Any:
        self.read.append(index)
        return torch.zeros(2), index % 7


def test_capture_dataset_never_iterates_a_dataset() -> None:
    huge = Huge()
    facts = describe_dataset(huge)
    assert huge.read == [0]
    assert facts["size"] == 10**9
    assert facts["sample/1/dtype"] == "int"
    assert "num_classes" not in facts  # its labels are not at hand without reading it


# -- the collector: automagic=True -------------------------------------------------------------


def test_experiment_automagic_captures_locals_assigned_after_start_once_with_final_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dropout = 0.5
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        exp = Experiment("auto", backend="local", automagic=True)
    assert caplog.records == []  # no "not yet supported" warning any more
    exp.start()
    dropout = 0.2  # changed after start: logged once, with this value
    weight_decay = 1e-4
    net = mlp()
    data = torch.utils.data.TensorDataset(torch.zeros(4, 4), torch.tensor([0, 1, 0, 1]))
    for i in range(3):
        exp.log_metric("loss", 1.0 / (i + 1))
    assert exp.stop()
    params = params_of(exp.run)
    assert params["dropout"] == dropout
    assert params["weight_decay"] == weight_decay
    assert "i" not in params
    assert params["net/total_params"] == 62
    assert params["data/size"] == len(data)
    assert params["data/num_classes"] == 2
    assert net is not None


def test_automagic_config_excludes_and_switches_go_to_the_collector() -> None:
    config = AutomagicConfig(exclude=["batch_size"], models=False, include=["n_*"])
    exp = Experiment("config", backend="local", automagic_config=config)
    with exp:
        batch_size = 64
        learning_rate = 0.3
        n_trees = 5
        net = mlp()
    params = params_of(exp.run)
    assert "batch_size" not in params
    assert params["learning_rate"] == learning_rate
    assert params["n_trees"] == n_trees
    assert not any(k.startswith("net/") for k in params)
    assert (batch_size, net) is not None


def test_automagic_from_tracelet_yaml_logs_a_name_gone_by_the_stop_with_its_start_value() -> None:
    Path("tracelet.yaml").write_text("automagic: true\nautomagic_exclude: [seed]\n")
    warmup_steps = 100
    seed = 3
    r = tracelet.start_logging(exp_name="yaml", backend="local")
    assert r.settings is not None
    assert r.settings.source_of(["automagic"]).startswith(str(Path("tracelet.yaml").resolve()))
    del warmup_steps  # known at the start only
    num_layers = 4
    r.stop()
    assert params_of(r) == {"warmup_steps": 100, "num_layers": num_layers}
    assert seed == 3


def test_automagic_off_captures_nothing() -> None:
    exp = Experiment("off", backend="local")
    with exp:
        learning_rate = 0.3
        batch_size = 8
        exp.log_metric("loss", learning_rate * batch_size)
    assert params_of(exp.run) == {}


def test_automagic_config_must_be_an_automagic_config() -> None:
    with pytest.raises(TypeError, match="AutomagicConfig"):
        Experiment("bad", automagic_config={"exclude": ["seed"]})


# -- child processes: a real __main__ ----------------------------------------------------------


MLFLOW_SCRIPT = """
    from tracelet import Experiment

    data_path = "/tmp/x"
    momentum = 0.5  # changed after start: MLflow must get one value, the last one
    exp = Experiment("x", backend=["mlflow"], automagic=True)
    exp.start()
    learning_rate = 0.001
    batch_size = 32
    momentum = 0.9
    for i in range(5):
        exp.log_metric("loss", learning_rate * (5 - i))
    print("delivered", exp.stop())
    print("run", exp.id)
    print("failed", sum(s.failed for s in exp.run.stats().values()))
"""


def lines(stdout: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)


def test_a_script_run_with_mlflow_has_its_hyperparameters_as_params(tmp_path: Path) -> None:
    pytest.importorskip("tracelet_mlflow")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(MLFLOW_SCRIPT), encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = checked(
        run([sys.executable, script], tmp_path, env={"MLFLOW_TRACKING_URI": uri}, timeout=240)
    )
    said = lines(result.stdout)
    assert said["delivered"] == "True"
    assert said["failed"] == "0"
    params = find_run(uri, said["run"]).data.params
    assert params["learning_rate"] == "0.001"
    assert params["batch_size"] == "32"
    assert params["momentum"] == "0.9"
    assert "data_path" not in params
    assert "i" not in params


LOCAL_SCRIPT = """
    import tracelet
    from tracelet.backends.local import read_run


    def main():
        run = tracelet.start_logging(exp_name="env", backend="local")
        seed = 7
        hidden_size = 128
        epochs = 2
        for epoch in range(epochs):
            run.log_metric("loss", 1.0 / (epoch + 1))
        return run


    run = main()  # the run stops at interpreter exit
    print("folder", run.links["local"].path)
"""


def test_automagic_from_env_reads_the_locals_of_the_function_that_started_the_run(
    tmp_path: Path,
) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(LOCAL_SCRIPT), encoding="utf-8")
    env = {"TRACELET_AUTOMAGIC": "true", "TRACELET_AUTOMAGIC_EXCLUDE": "seed"}
    result = checked(run([sys.executable, script], tmp_path, env=env, timeout=120))
    params = read_run(lines(result.stdout)["folder"]).params
    assert params == {"hidden_size": 128, "epochs": 2}  # not seed (excluded), not epoch

    result = checked(run([sys.executable, script], tmp_path, timeout=120))  # automagic off
    assert read_run(lines(result.stdout)["folder"]).params == {}
