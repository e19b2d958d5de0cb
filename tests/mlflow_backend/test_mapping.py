"""What a Tracelet run becomes in MLflow, read back through ``MlflowClient``."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.mlflow_reading import artifact_files, find_run, metric_history
from support.mlflow_server import MlflowServer
from support.processes import clean_env

import tracelet
from tracelet.backend import RunLink
from tracelet.backends.local import read_run
from tracelet.run import Run
from tracelet_mlflow.names import TRUNCATED


def start(uri: str, **mlflow: Any) -> Run:
    """A run on the MLflow store at ``uri`` (flushing often, so tests stay quick)."""
    return tracelet.start_logging(
        exp_name="resnet-baseline",
        project="vision",
        backend="mlflow",
        config={"flush_interval": 0.05, "mlflow": {"tracking_uri": uri, **mlflow}},
    )


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri)


def test_project_and_run_names_tags_and_status(sqlite_store: str) -> None:
    run = start(sqlite_store, tags={"team": "ml", "version": "v1.0"}, description="first try")
    run.log_metric("loss", 0.5, step=0)
    assert run.stop()
    mlrun = find_run(sqlite_store, run)
    experiment = client(sqlite_store).get_experiment(mlrun.info.experiment_id)
    assert experiment.name == "vision"
    assert mlrun.info.run_name == "resnet-baseline"
    assert mlrun.info.status == "FINISHED"
    assert mlrun.info.start_time <= mlrun.info.end_time
    tags = mlrun.data.tags
    assert (tags["team"], tags["version"]) == ("ml", "v1.0")
    assert tags["mlflow.note.content"] == "first try"
    assert tags["tracelet.run_id"] == run.id
    assert tags["mlflow.source.type"] == "LOCAL"  # MLflow's own context tags, as start_run sets
    assert "mlflow.user" in tags
    assert mlrun.info.run_id in (run.locations()["mlflow"] or "")


def test_experiment_and_run_name_settings_and_mlflow_env_vars(
    sqlite_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "From MLflow Env")
    run = tracelet.start_logging(exp_name="ignored", backend="mlflow", config={"run_name": "r1"})
    assert run.stop()
    mlrun = find_run(sqlite_store, run)
    assert client(sqlite_store).get_experiment(mlrun.info.experiment_id).name == "From MLflow Env"
    assert mlrun.info.run_name == "r1"


@pytest.mark.parametrize("store", ["sqlite", "server"])
def test_every_point_of_long_interleaved_histories(
    store: str, sqlite_store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """10k points of each of 3 metrics, logged interleaved: every one is stored with its step,
    value and the timestamp of the call (compared with the local run of the same points)."""
    uri = sqlite_store if store == "sqlite" else request.getfixturevalue("mlflow_server").uri
    run = tracelet.start_logging(
        exp_name="long",
        project="vision",
        backend=["mlflow", "local"],
        config={"mlflow": {"tracking_uri": uri}, "local": {"path": str(tmp_path)}},
    )
    names = ("train/loss", "train/acc", "lr")
    for step in range(10_000):
        for i, name in enumerate(names):
            run.log_metric(name, (step + 1) / (step + 2 + i), step=step)
    assert run.stop(timeout=120), run.stats()
    local = read_run(run.locations()["local"] or "")
    mlrun = find_run(uri, run)
    assert sorted(mlrun.data.metrics) == sorted(names)
    for name in names:
        expected = [(p.step, p.value, int(p.timestamp * 1000)) for p in local.metrics[name]]
        assert len(expected) == 10_000
        assert sorted(metric_history(uri, mlrun.info.run_id, name)) == sorted(expected), name


def rewritten(readable: str, original: str) -> str:
    """The documented key of a name MLflow refuses: its readable form, ``-`` and 8 hex digits of
    the SHA-1 of the original's UTF-8 (computed here independently of the backend)."""
    return f"{readable}-{hashlib.sha1(original.encode()).hexdigest()[:8]}"


def test_names_and_values_mlflow_refuses_are_rewritten_with_warnings(
    sqlite_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    long_value = "v" * 7000
    run = start(sqlite_store)
    with caplog.at_level(logging.WARNING, logger="tracelet.mlflow"):
        run.log_params({"loss[0]": 1, "a//b/": 2, "../up": 3, "n" * 300: 4, "ünï côdé": 5})
        run.log_param("config_dump", long_value)
        run.log_metric("acc@top5", 0.9, step=0)
        run.set_tag("note?", "t" * 9000)
        run.set_tag("other?", "t" * 9000)
        assert run.stop(), run.stats()
    mlrun = find_run(sqlite_store, run)
    params = mlrun.data.params
    assert params == {
        rewritten("loss_0_", "loss[0]"): "1",
        rewritten("a/b", "a//b/"): "2",
        rewritten("__/up", "../up"): "3",
        rewritten("n" * 241, "n" * 300): "4",
        "ünï côdé": "5",
        "config_dump": long_value[: 6000 - len(TRUNCATED)] + TRUNCATED,
    }
    assert len(params["config_dump"]) == 6000
    files = artifact_files(sqlite_store, mlrun.info.run_id)
    assert files["tracelet/params/config_dump.txt"].decode() == long_value
    assert list(mlrun.data.metrics) == [rewritten("acc_top5", "acc@top5")]
    assert mlrun.data.tags[rewritten("note_", "note?")] == "t" * (8000 - len(TRUNCATED)) + TRUNCATED
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # one per renamed name (7), one per kind of value cut short (param value, tag value)
    assert len(warnings) == 9, warnings
    assert any("'loss[0]'" in w and repr(rewritten("loss_0_", "loss[0]")) in w for w in warnings)
    assert any("config_dump" in w and "tracelet/params/config_dump.txt" in w for w in warnings)


def test_names_that_differ_stay_apart_when_rewritten(
    sqlite_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Names that MLflow refuses and that differ only in the refused characters land under
    distinct keys (so no metric is merged into another), each named in its own warning."""
    long_a, long_b = "x" * 300 + "@a", "x" * 300 + "#a"
    metrics = {"loss🔥": 1.0, "loss💧": 2.0, "acc@top5": 3.0, "acc#top5": 4.0, "train/loss": 5.0}
    metrics |= {long_a: 6.0, long_b: 7.0}
    run = start(sqlite_store)
    with caplog.at_level(logging.WARNING, logger="tracelet.mlflow"):
        for step in range(3):
            run.log_metrics({name: value + step for name, value in metrics.items()}, step=step)
        run.log_params({"lr@warmup": 0.1, "lr#warmup": 0.2})
        run.set_tags({"note🔥": "hot", "note💧": "cold"})
        assert run.stop(), run.stats()
    stats = run.stats()["mlflow"]
    assert (stats.failed, stats.pending) == (0, 0)
    expected = {
        "loss🔥": rewritten("loss_", "loss🔥"),
        "loss💧": rewritten("loss_", "loss💧"),
        "acc@top5": rewritten("acc_top5", "acc@top5"),
        "acc#top5": rewritten("acc_top5", "acc#top5"),
        "train/loss": "train/loss",  # valid: kept as it is
        long_a: rewritten("x" * 241, long_a),
        long_b: rewritten("x" * 241, long_b),
    }
    assert len(set(expected.values())) == len(expected)
    mlrun = find_run(sqlite_store, run)
    assert sorted(mlrun.data.metrics) == sorted(expected.values())
    for name, key in expected.items():
        assert len(key) <= 250
        history = metric_history(sqlite_store, mlrun.info.run_id, key)
        assert [(s, v) for s, v, _ in history] == [(s, metrics[name] + s) for s in range(3)], name
    params = {"lr@warmup": rewritten("lr_warmup", "lr@warmup")}
    params["lr#warmup"] = rewritten("lr_warmup", "lr#warmup")
    assert mlrun.data.params == {params["lr@warmup"]: "0.1", params["lr#warmup"]: "0.2"}
    tags = {"note🔥": rewritten("note_", "note🔥"), "note💧": rewritten("note_", "note💧")}
    assert (mlrun.data.tags[tags["note🔥"]], mlrun.data.tags[tags["note💧"]]) == ("hot", "cold")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    renamed = {name: key for name, key in (expected | params | tags).items() if name != key}
    assert len(warnings) == len(renamed), warnings  # one per renamed name, none for train/loss
    for name, key in renamed.items():
        assert any(repr(name) in w and repr(key) in w for w in warnings), (name, key, warnings)


def test_a_param_changed_value_is_refused_alone(sqlite_store: str) -> None:
    run = start(sqlite_store)
    run.log_params({"lr": 0.1, "epochs": 3})
    assert run.flush(timeout=30)
    run.log_params({"lr": 0.2, "epochs": 3, "batch_size": 32})  # same epochs: not an error
    for step in range(5):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert not run.stop(), "one record refused: stop reports it"
    stats = run.stats()["mlflow"]
    assert (stats.failed, stats.pending) == (1, 0)
    assert stats.last_error is not None
    assert "'lr'" in stats.last_error
    assert "0.2" in stats.last_error
    mlrun = find_run(sqlite_store, run)
    assert mlrun.data.params == {"lr": "0.1", "epochs": "3", "batch_size": "32"}
    assert [s for s, _, _ in metric_history(sqlite_store, mlrun.info.run_id, "loss")] == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_media_and_renamed_artifacts(sqlite_store: str, tmp_path: Path) -> None:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = tmp_path / "weights.json"
    weights.write_text('{"w": [1, 2]}')
    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    run = start(sqlite_store)
    run.log_artifact(weights, name="model/best.json")
    run.log_artifact(weights, name="model/best:v2.json")  # `:` is no artifact path's
    run.log_text("samples/pred", "a cat on a mat", step=3)
    run.log_text("samples@a", "first", step=1)
    run.log_text("samples#a", "second", step=1)
    run.log_image("inputs/first", np.array([[0, 255], [255, 0]], dtype=np.uint8), step=2)
    run.log_histogram("weights/w1", [0.0, 0.5, 0.5, 1.0], step=4, bins=2)
    run.log_figure("curves", figure, step=5)
    plt.close(figure)
    assert run.stop(), run.stats()
    mlrun = find_run(sqlite_store, run)
    files = artifact_files(sqlite_store, mlrun.info.run_id)
    assert files["model/best.json"] == weights.read_bytes()
    assert files[rewritten("model/best_v2", "model/best:v2.json") + ".json"] == weights.read_bytes()
    assert files["text/samples/pred/step_00000003.txt"] == b"a cat on a mat"
    assert files[f"text/{rewritten('samples_a', 'samples@a')}/step_00000001.txt"] == b"first"
    assert files[f"text/{rewritten('samples_a', 'samples#a')}/step_00000001.txt"] == b"second"
    histogram = json.loads(files["histograms/weights/w1/step_00000004.json"])
    assert histogram == {"edges": [0.0, 0.5, 1.0], "counts": [1, 3], "step": 4}
    assert files["figures/curves/step_00000005.png"].startswith(b"\x89PNG")
    images = [name for name in files if name.startswith("images/inputs~first+step+2+")]
    assert len(images) == 2, images  # MLflow's stepped image and its thumbnail
    assert mlrun.data.tags["mlflow.loggedImages"] == "True"


def test_a_users_own_fluent_run_is_not_disturbed(sqlite_store: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(sqlite_store)
    try:
        # An experiment of its own: the fluent API's active experiment is process-wide, and an
        # earlier test (HF's MLflowCallback) may have left one of another store.
        mlflow.set_experiment("fluent-user")
        with mlflow.start_run(run_name="user-run") as user_run:
            mlflow.log_metric("user_metric", 1.0)
            run = start(sqlite_store)
            run.log_metric("tracelet_metric", 2.0, step=0)
            assert run.stop()
            active = mlflow.active_run()
            assert active is not None
            assert active.info.run_id == user_run.info.run_id
            mlflow.log_metric("user_metric", 3.0)
    finally:
        mlflow.set_tracking_uri(None)
    ours = find_run(sqlite_store, run)
    assert ours.info.run_id != user_run.info.run_id
    assert list(ours.data.metrics) == ["tracelet_metric"]
    theirs = client(sqlite_store).get_run(user_run.info.run_id)
    assert list(theirs.data.metrics) == ["user_metric"]
    assert theirs.info.status == "FINISHED"


def test_nested_and_parent_runs(sqlite_store: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(sqlite_store)
    try:
        mlflow.set_experiment("sweeps")
        with mlflow.start_run() as parent:
            nested = start(sqlite_store, nested=True)
            assert nested.stop()
    finally:
        mlflow.set_tracking_uri(None)
    child = find_run(sqlite_store, nested)
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.info.experiment_id == parent.info.experiment_id  # not the project's

    by_id = start(sqlite_store, parent_run_id=parent.info.run_id)
    assert by_id.stop()
    assert find_run(sqlite_store, by_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_resume_a_run_by_id(sqlite_store: str) -> None:
    first = start(sqlite_store)
    first.log_param("lr", 0.1)
    for step in range(3):
        first.log_metric("loss", float(step), step=step)
    assert first.stop("killed")
    run_id = find_run(sqlite_store, first).info.run_id

    second = start(sqlite_store, run_id=run_id)
    second.log_param("lr", 0.1)  # the same value again is fine
    for step in range(3, 6):
        second.log_metric("loss", float(step), step=step)
    assert second.stop(), second.stats()
    resumed = client(sqlite_store).get_run(run_id)
    assert resumed.info.status == "FINISHED"
    assert [s for s, _, _ in metric_history(sqlite_store, run_id, "loss")] == list(range(6))


def test_experiment_id_and_artifact_location(sqlite_store: str, tmp_path: Path) -> None:
    mlclient = client(sqlite_store)
    existing = mlclient.create_experiment("by-id", artifact_location=(tmp_path / "a").as_uri())
    run = start(sqlite_store, experiment_id=existing, experiment_name="ignored")
    assert run.stop()
    assert find_run(sqlite_store, run).info.experiment_id == existing

    store = tmp_path / "artifact-store"
    run = start(sqlite_store, experiment_name="new-exp", artifact_location=store.as_uri())
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00weights")
    run.log_artifact(model)
    assert run.stop(), run.stats()
    mlrun = find_run(sqlite_store, run)
    assert mlclient.get_experiment(mlrun.info.experiment_id).artifact_location == store.as_uri()
    on_disk = store / mlrun.info.run_id / "artifacts" / "model.bin"
    assert on_disk.read_bytes() == b"\x00weights"


def test_run_on_a_server_has_a_page_url(mlflow_server: MlflowServer) -> None:
    run = start(mlflow_server.uri)
    assert run.stop()
    mlrun = find_run(mlflow_server.uri, run)
    expected = f"{mlflow_server.uri}/#/experiments/{mlrun.info.experiment_id}/runs/"
    assert run.locations()["mlflow"] == expected + mlrun.info.run_id
    assert run.links["mlflow"] == RunLink(id=mlrun.info.run_id, url=expected + mlrun.info.run_id)


def test_sqlite_location_is_the_mlflow_ui_command(tmp_path: Path) -> None:
    run = start("sqlite:///relative.db")
    assert run.stop()
    location = run.locations()["mlflow"] or ""
    absolute = f"sqlite:///{tmp_path / 'relative.db'}"
    assert location.startswith(f"mlflow ui --backend-store-uri {absolute}  (then open http://")
    assert find_run(absolute, run).info.run_id in location
    link = run.links["mlflow"]
    assert (link.path, link.url) == (str(tmp_path / "relative.db"), None)
    assert link.command == f"mlflow ui --backend-store-uri {absolute}"
    assert find_run(absolute, run).info.run_id == link.id


def test_a_password_in_the_tracking_uri_is_never_shown_or_saved(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URI with ``user:password@`` reaches the server (MLflow sends it as basic auth), and
    every place Tracelet shows or stores the URI masks or drops the password."""
    host = mlflow_server.uri.partition("://")[2]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cr3t-pw@{host}")
    run = tracelet.start_logging(
        "creds", backend=["local", "mlflow"], config={"local": {"path": "runs"}}
    )
    run.log_metric("x", 1.0, step=0)
    assert run.stop()
    assert find_run(mlflow_server.uri, run).data.metrics["x"] == 1.0
    shown = [run.locations()["mlflow"] or "", repr(run.settings)]
    assert f"http://alice:**********@{host}" in shown[0]
    assert (run.links["mlflow"].url or "").startswith(f"http://alice:**********@{host}/#/")
    assert "mlflow.tracking_uri='http://alice:**********@" in shown[1]
    assert run.journal_path is not None
    saved = "".join(p.read_text() for p in run.journal_path.rglob("*.json*"))
    assert f"http://{host}" in saved  # the identity, for tracelet sync
    from support.processes import run as run_command

    config = run_command(
        [sys.executable, "-m", "tracelet.cli", "config", "--backend", "mlflow"],
        Path.cwd(),
        env={"MLFLOW_TRACKING_URI": f"http://alice:s3cr3t-pw@{host}"},
    )
    for text in [*shown, saved, config.stdout]:
        assert "s3cr3t-pw" not in text
    assert f"http://alice:**********@{host}" in config.stdout


def test_nothing_is_printed_on_stdout_when_a_server_run_ends(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """MLflow's own set_terminated prints "View run ... at: ..." for a server; Tracelet's close
    prints nothing and still records the status and the end time."""
    from support.processes import run as run_command

    script = tmp_path / "train.py"
    script.write_text(
        "import sys, tracelet\n"
        "run = tracelet.start_logging('quiet', backend='mlflow',\n"
        "                             config={'mlflow': {'tracking_uri': sys.argv[1]}})\n"
        "run.log_metric('x', 1.0, step=0)\n"
        "run.stop('failed')\n"
        "sys.stderr.write(run.id)\n"
    )
    result = run_command([sys.executable, script, mlflow_server.uri], tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    mlrun = find_run(mlflow_server.uri, result.stderr.strip().splitlines()[-1])
    assert mlrun.info.status == "FAILED"
    assert mlrun.info.end_time is not None
    assert mlrun.info.end_time >= mlrun.info.start_time


def test_runs_of_a_group_are_nested_under_one_parent_run(sqlite_store: str) -> None:
    config = {"flush_interval": 0.05, "mlflow": {"tracking_uri": sqlite_store}}
    runs = []
    for lr in (0.1, 0.01, 0.001):
        run = tracelet.start_logging(
            f"lr={lr}", "vision", "mlflow", config=config, group="lr-sweep"
        )
        run.log_metric("loss", lr, step=0)
        assert run.stop()
        runs.append(run)
    other = tracelet.start_logging("alone", "vision", "mlflow", config=config)
    assert other.stop()
    mlclient = client(sqlite_store)
    found = mlclient.search_runs([find_run(sqlite_store, runs[0]).info.experiment_id])
    (parent,) = [r for r in found if r.data.tags.get("tracelet.group_parent") == "true"]
    assert (parent.info.run_name, parent.info.status) == ("lr-sweep", "FINISHED")
    assert parent.data.metrics == {}
    children = [find_run(sqlite_store, run) for run in runs]
    for child, lr in zip(children, (0.1, 0.01, 0.001), strict=True):
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["tracelet.group"] == "lr-sweep"
        assert child.data.metrics == {"loss": lr}
    alone = find_run(sqlite_store, other).data.tags
    assert "mlflow.parentRunId" not in alone
    assert "tracelet.group" not in alone


def test_runs_of_a_group_started_at_once_share_one_parent(mlflow_server: MlflowServer) -> None:
    """Four processes start runs of one new group at the same moment: one parent remains."""
    script = (
        "import sys, tracelet\n"
        "run = tracelet.start_logging(sys.argv[1], 'race', 'mlflow', group='together',\n"
        "                             config={'mlflow': {'tracking_uri': sys.argv[2]}})\n"
        "run.log_metric('x', 1.0, step=0)\n"
        "run.stop()\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"trial-{i}", mlflow_server.uri],
            env=clean_env({"MLFLOW_DISABLE_TELEMETRY": "true"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for child in children:
        _out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err
    mlclient = client(mlflow_server.uri)
    experiment = mlclient.get_experiment_by_name("race")
    found = mlclient.search_runs([experiment.experiment_id])
    parents = [r for r in found if r.data.tags.get("tracelet.group_parent") == "true"]
    assert len(parents) == 1, [p.info.run_id for p in parents]
    trials = [r for r in found if r.info.run_name.startswith("trial-")]
    assert len(trials) == 4
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parents[0].info.run_id}
