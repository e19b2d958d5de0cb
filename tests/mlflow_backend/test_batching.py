"""Rewritten names pass MLflow's own validators; requests stay within MLflow's limits; a write
that fails part way carries on without sending anything twice."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from support.mlflow_reading import metric_history

from tracelet.backend import RunInfo
from tracelet.records import Batch, Param, Tag
from tracelet_mlflow.backend import MlflowBackend
from tracelet_mlflow.batching import split_requests
from tracelet_mlflow.names import artifact_path, image_key, mlflow_key
from tracelet_mlflow.settings import MlflowSettings

ODD_NAMES = [
    "train/loss",
    "loss[0]",
    "a//b/",
    "/leading",
    "./x",
    "a/../b",
    "..",
    ".",
    "",
    "acc@top-5%",
    "ünï côdé",
    "tab\there",
    "emoji 🙂",
    "loss🔥",
    "...",
    "x" * 300,
    "x" * 240 + "/...@",
    "y" * 249 + "🙂",
    "c:d",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_rewritten_names_pass_mlflows_validators(name: str) -> None:
    from mlflow.utils import validation

    key = mlflow_key(name)
    validation._validate_metric_name(key)
    validation._validate_param(key, "v")
    validation._validate_tag(key, "v")
    assert len(key) <= 250
    assert mlflow_key(key) == key, "rewriting is stable"
    valid = name and validation.validate_param_and_metric_name(name) and len(name) <= 250
    if valid and not validation.path_not_unique(name):
        assert key == name, "valid names are kept as they are"
    for path in (artifact_path(name), image_key(name)):
        assert ":" not in path
        assert not validation.path_not_unique(path)
    assert image_key(name).isascii()


def test_long_names_sharing_a_prefix_stay_apart() -> None:
    assert mlflow_key("p" * 300 + "a") != mlflow_key("p" * 300 + "b")


@pytest.mark.parametrize("rewrite", [mlflow_key, artifact_path, image_key])
def test_names_differing_only_in_refused_characters_stay_apart(rewrite: Any) -> None:
    names = ["loss🔥", "loss💧", "loss_", "acc@top5", "acc#top5", "a//b", "a/b", "", "_", ".", ".."]
    names += ["x" * 300 + "@", "x" * 300 + "#", "é" * 300]
    assert len({rewrite(name) for name in names}) == len(names)


def test_a_rewritten_artifact_file_keeps_its_extension() -> None:
    digest = hashlib.sha1(b"out/results:v2.csv").hexdigest()[:8]
    assert (
        artifact_path("out/results:v2.csv", keep_extension=True) == f"out/results_v2-{digest}.csv"
    )
    assert artifact_path("out/results:v2.csv") == f"out/results_v2.csv-{digest}"
    assert artifact_path("model/best.json", keep_extension=True) == "model/best.json"
    long_file = artifact_path("d" * 300 + ":.json", keep_extension=True)
    assert (len(long_file), long_file[-5:]) == (250, ".json")


def _entities(n_metrics: int, n_params: int, n_tags: int, value_size: int = 10) -> Any:
    from mlflow.entities import Metric, RunTag
    from mlflow.entities import Param as MlflowParam

    metrics = [Metric(f"m{i % 7}", float(i), 1_700_000_000_000 + i, i) for i in range(n_metrics)]
    params = [MlflowParam(f"p{i}", "v" * value_size) for i in range(n_params)]
    tags = [RunTag(f"t{i}", "é" * value_size) for i in range(n_tags)]
    return metrics, params, tags


def _request_bytes(request: Any) -> int:
    """The size of the request body MLflow's REST client would send."""
    from mlflow.protos.service_pb2 import LogBatch
    from mlflow.utils.proto_json_utils import message_to_json

    message = LogBatch(
        run_id="0" * 32,
        metrics=[m.to_proto() for m in request.metrics],
        params=[p.to_proto() for p in request.params],
        tags=[t.to_proto() for t in request.tags],
    )
    return len(message_to_json(message).encode("utf-8"))


@pytest.mark.parametrize(
    ("n_metrics", "n_params", "n_tags", "value_size", "expected_requests"),
    [
        (2500, 0, 0, 10, 3),  # 1000 metrics per request
        (950, 150, 0, 10, 2),  # 100 params per request, metrics fill the room left
        (0, 250, 250, 10, 3),
        (0, 100, 100, 6000, 5),  # 100 x 6000 "v" + 100 x 6000 "é" (6 bytes escaped): > 1 MB
    ],
)
def test_requests_respect_mlflows_limits(
    n_metrics: int, n_params: int, n_tags: int, value_size: int, expected_requests: int
) -> None:
    metrics, params, tags = _entities(n_metrics, n_params, n_tags, value_size)
    requests = split_requests(metrics, params, tags)
    assert len(requests) == expected_requests
    assert [m for r in requests for m in r.metrics] == metrics, "every metric, in order"
    assert [p for r in requests for p in r.params] == params
    assert [t for r in requests for t in r.tags] == tags
    for request in requests:
        assert len(request.metrics) <= 1000
        assert len(request.params) <= 100
        assert len(request.tags) <= 100
        assert len(request) <= 1000
        assert _request_bytes(request) < 1_000_000


def test_a_write_that_fails_part_way_resumes_without_duplicates(
    sqlite_store: str, tmp_path: Path
) -> None:
    """The second of three requests fails (the store went away for a moment): the retried write
    sends only the second and third, and the store holds each point once."""
    backend = MlflowBackend(MlflowSettings(tracking_uri=sqlite_store))
    backend.start(RunInfo("resume-1", "resume", "batching", time.time()))
    real_log_batch = backend.client.log_batch
    calls: list[int] = []

    def failing_once(run_id: str, **entities: Any) -> None:
        calls.append(len(entities.get("metrics", [])))
        if len(calls) == 2:
            raise ConnectionError("store unreachable")
        real_log_batch(run_id, **entities)

    backend.client.log_batch = failing_once  # type: ignore[method-assign]
    now = time.time()
    batch = Batch(
        metrics=[("loss", float(i), i, now + i / 1000) for i in range(2500)],
        params=[Param("lr", 0.1)],
        tags=[Tag("stage", "dev")],
    )
    with pytest.raises(ConnectionError):
        backend.write(batch)
    backend.write(batch)  # what the dispatcher does: the same batch again
    backend.close("finished")
    assert calls == [998, 1000, 1000, 502], "the first request was not sent again"
    history = metric_history(sqlite_store, backend.run_id or "", "loss")
    assert sorted(step for step, _, _ in history) == list(range(2500))
