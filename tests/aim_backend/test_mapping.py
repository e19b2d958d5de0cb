"""What a Tracelet run becomes in AIM, read back through ``aim``'s ``Repo`` (and queries)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.aim_reading import read_run
from support.aim_server import AimServer
from support.aim_stored import aim_run_of
from support.mlflow_server import free_port
from support.processes import checked
from support.processes import run as run_command

import tracelet
from tracelet.errors import BackendStartError
from tracelet.run import Run
from tracelet_aim.backend import name_context


def start(repo: Path | str, **aim: Any) -> Run:
    where = {"remote_uri": repo} if isinstance(repo, str) else {"repo_path": str(repo)}
    return tracelet.start_logging(
        exp_name="resnet-baseline",
        project="vision",
        backend="aim",
        config={"flush_interval": 0.05, "aim": {**where, **aim}},
    )


def test_name_and_context() -> None:
    assert name_context("train/loss") == ("loss", {"subset": "train"})
    assert name_context("a/b/c") == ("b/c", {"subset": "a"})
    assert name_context("lr") == ("lr", {})


def test_experiment_name_tags_params_and_every_point(tmp_path: Path) -> None:
    run = start(tmp_path / "repo", tags={"model": "resnet", "dataset": "cifar10"})
    run.log_params({"lr": 0.01, "optimizer": {"name": "adam"}})
    run.set_tags({"team": "ml"})
    run.set_tag("team", "vision")  # a changed value replaces the tag
    names = ("train/loss", "val/loss", "lr")
    for step in range(10_000):
        for i, name in enumerate(names):
            run.log_metric(name, (step + 1) / (step + 2 + i), step=step)
    run.log_metric("train/loss", 7.5, step=3)  # back in time: a new revision
    assert run.stop(timeout=120), run.stats()
    stored = aim_run_of(run)
    assert (stored.experiment, stored.name) == ("vision", "resnet-baseline")
    assert sorted(stored.tags) == ["dataset:cifar10", "model:resnet", "team:vision"]
    assert stored.params == {"lr": 0.01, "optimizer/name": "adam"}
    expected_keys = {
        ("loss", (("subset", "train"),)),
        ("loss", (("subset", "val"),)),
        ("lr", ()),
        ("loss", (("revision", "1"), ("subset", "train"))),
    }
    assert set(stored.metrics) == expected_keys
    for i, name in enumerate(names):
        aim_name, context = name_context(name)
        points = stored.metrics[(aim_name, tuple(sorted(context.items())))]
        assert points == [(s, (s + 1) / (s + 2 + i)) for s in range(10_000)], name
    assert stored.metrics[("loss", (("revision", "1"), ("subset", "train")))] == [(3, 7.5)]
    assert stored.raw["tracelet_run_id"] == run.id
    assert stored.raw["tracelet_status"] == "finished"


def test_media_and_artifacts(tmp_path: Path) -> None:
    weights = tmp_path / "weights.json"
    weights.write_text('{"w": [1, 2]}')
    run = start(tmp_path / "repo")
    run.log_image("inputs/first", np.zeros((4, 6, 3), dtype=np.uint8), step=2, caption="c")
    run.log_histogram("weights/w1", [0.0, 0.5, 0.5, 1.0], step=4, bins=2)
    run.log_text("samples", "a cat on a mat", step=3)
    run.log_artifact(weights, name="model/best.json")
    assert run.stop(), run.stats()
    stored = aim_run_of(run)
    from aim.storage.context import Context

    images = stored.raw.get_image_sequence("first", Context({"subset": "inputs"}))
    steps, (values, *_rest) = images.data.items_list()
    assert list(steps) == [2]
    assert (values[0].caption, values[0].to_pil_image().size) == ("c", (6, 4))
    texts = stored.raw.get_text_sequence("samples", Context({}))
    steps, (values, *_rest) = texts.data.items_list()
    assert (list(steps), values[0].data) == ([3], "a cat on a mat")
    histograms = stored.raw.get_distribution_sequence("w1", Context({"subset": "weights"}))
    steps, (values, *_rest) = histograms.data.items_list()
    assert list(steps) == [4]
    assert list(values[0].weights) == [1, 3]
    assert tuple(values[0].ranges) == (0.0, 0.5, 1.0)
    assert stored.artifacts == {"model/best.json": weights.read_bytes()}


_QUERY = """
import json, sys
from aim.sdk.repo import Repo
repo = Repo.from_path(sys.argv[1])
found_runs = repo.query_runs("run.experiment == 'vision' and 'team:ml' in run.tags")
runs = [r.run.hash for r in found_runs.iter_runs()]
points = {}
train_loss = repo.query_metrics("metric.name == 'loss' and metric.context.subset == 'train'")
for metric in train_loss.iter():
    steps, _ = metric.data.numpy()
    points[metric.run.hash] = len(steps)
print(json.dumps({"runs": runs, "points": points}))
"""


def test_aim_queries_find_the_run_in_a_fresh_process(tmp_path: Path) -> None:
    """AIM's query language (what the UI's search runs) finds the run by experiment and tag,
    and its train loss by name and context; queries run in a new process, as AIM needs."""
    run = start(tmp_path / "repo")
    run.set_tag("team", "ml")
    for step in range(500):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    assert run.stop()
    run_hash = aim_run_of(run).hash  # also indexes the run
    result = checked(
        run_command([sys.executable, "-c", _QUERY, tmp_path / "repo"], tmp_path, timeout=120)
    )
    found = json.loads(result.stdout)
    assert found == {"runs": [run_hash], "points": {run_hash: 500}}


def test_a_run_on_a_real_aim_server(
    aim_server: AimServer, capfd: pytest.CaptureFixture[str]
) -> None:
    http_form = aim_server.uri.replace("aim://", "http://")  # the configuration page's form
    run = start(http_form, tags=["remote"])
    run.log_param("lr", 0.1)
    for step in range(200):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    assert run.stop(timeout=120), run.stats()
    location = run.locations()["aim"] or ""
    assert location.startswith(aim_server.uri)
    # Read what the server stored, from its repo folder.
    link = run.links["aim"]
    assert (link.path, link.command, link.id) == (None, None, location.split()[-1])
    stored = read_run(str(aim_server.root), link.id)
    assert (stored.experiment, stored.name) == ("vision", "resnet-baseline")
    assert stored.tags == ["remote"]
    assert stored.params == {"lr": 0.1}
    assert stored.metrics[("loss", (("subset", "train"),))] == [
        (s, 1.0 / (s + 1)) for s in range(200)
    ]
    time.sleep(1)  # AIM's background threads would complain after the close, if at all
    assert "Traceback" not in capfd.readouterr().err


def test_an_unreachable_server_fails_within_start_timeout() -> None:
    uri = f"aim://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        start(uri, start_timeout=2)
    assert time.monotonic() - began < 8
    assert f"the aim server at {uri} did not answer" in str(error.value)
    assert "aim.start_timeout" in str(error.value)


def test_remote_uri_must_be_aim_or_http() -> None:
    from tracelet.errors import ConfigError

    with pytest.raises(ConfigError, match=r"aim\.remote_uri.*use aim://host:port"):
        start("ftp://host:1")


def test_resume_a_run_by_hash(tmp_path: Path) -> None:
    first = start(tmp_path / "repo")
    for step in range(3):
        first.log_metric("train/loss", float(step), step=step)
    assert first.stop()
    run_hash = aim_run_of(first).hash
    second = start(tmp_path / "repo", run_hash=run_hash)
    for step in range(3, 6):
        second.log_metric("train/loss", float(step), step=step)
    assert second.stop()
    resumed = aim_run_of(second)
    assert resumed.hash == run_hash
    assert resumed.name == "resnet-baseline"
    assert resumed.metrics[("loss", (("subset", "train"),))] == [(s, float(s)) for s in range(6)]


def test_a_write_that_fails_part_way_resumes_without_duplicates(tmp_path: Path) -> None:
    """``track`` fails on the 5th of 10 points (the repo went away for a moment): the retried
    write tracks the other points once, and no revision series appears."""
    from support.aim_reading import read_run

    from tracelet.backend import RunInfo
    from tracelet.records import Batch
    from tracelet_aim.backend import AimBackend
    from tracelet_aim.settings import AimSettings

    backend = AimBackend(AimSettings(repo_path=str(tmp_path / "repo")))
    backend.start(RunInfo("retry-1", "retry", "aim", time.time()))
    real_track = backend.run.track
    calls = {"n": 0}

    def failing_once(value: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("repo unavailable")
        real_track(value, **kwargs)

    backend.run.track = failing_once  # type: ignore[method-assign]
    batch = Batch(metrics=[("train/loss", float(s), s, time.time()) for s in range(10)])
    with pytest.raises(OSError, match="repo unavailable"):
        backend.write(batch)
    backend.write(batch)  # what the dispatcher does: the same batch again
    backend.close("finished")
    stored = read_run(str(tmp_path / "repo"), backend.run_hash or "")
    assert stored.metrics == {("loss", (("subset", "train"),)): [(s, float(s)) for s in range(10)]}


def test_a_run_of_a_group_has_its_tag_and_param(tmp_path: Path) -> None:
    run = tracelet.start_logging(
        "trial-0",
        "vision",
        "aim",
        config={"flush_interval": 0.05, "aim": {"repo_path": str(tmp_path / "repo")}},
        group="sweep-1",
    )
    assert run.stop()
    stored = aim_run_of(run)
    assert stored.tags == ["group:sweep-1"]
    assert stored.raw["tracelet_group"] == "sweep-1"
