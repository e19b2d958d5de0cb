"""Bad settings, missing servers, runs and experiments: a clear error at start, in bounded time."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.mlflow_server import free_port

import tracelet
from tracelet.errors import BackendStartError, ConfigError
from tracelet.run import Run


def start(**mlflow: Any) -> Run:
    return tracelet.start_logging(exp_name="e", project="p", backend="mlflow", config=mlflow)


def test_nothing_listening_fails_at_once_naming_the_fix() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        start(tracking_uri=uri)
    assert time.monotonic() - began < 10
    message = str(error.value)
    assert f"tracking server at {uri} refused the connection" in message
    assert "did not answer" not in message
    assert "MLFLOW_TRACKING_URI" in message
    assert "mlflow.start_timeout" in message


def test_a_host_that_does_not_resolve_is_named() -> None:
    with pytest.raises(BackendStartError, match="its host name does not resolve"):
        start(tracking_uri="http://no-such-host.invalid:5000", start_timeout=5)


def test_a_server_that_never_answers_fails_within_start_timeout(silent_server: str) -> None:
    began = time.monotonic()
    with pytest.raises(BackendStartError, match=r"did not answer within 1\.5 s"):
        start(tracking_uri=silent_server, start_timeout=1.5)
    assert 1.4 < time.monotonic() - began < 8


@pytest.fixture
def not_mlflow() -> Iterator[str]:
    """A web server that answers 404 to everything, as a server without MLflow's API would."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_that_is_not_mlflow_is_named(not_mlflow: str) -> None:
    with pytest.raises(BackendStartError, match="answered HTTP 404, not like an MLflow"):
        start(tracking_uri=not_mlflow)


def test_missing_run_experiment_and_active_run(sqlite_store: str) -> None:
    with pytest.raises(BackendStartError, match=r"mlflow\.run_id: no run '0123abcd'"):
        start(tracking_uri=sqlite_store, run_id="0123abcd")
    with pytest.raises(BackendStartError, match=r"mlflow\.experiment_id: no experiment '98765'"):
        start(tracking_uri=sqlite_store, experiment_id="98765")
    with pytest.raises(BackendStartError, match=r"mlflow\.nested is true but no MLflow run"):
        start(tracking_uri=sqlite_store, nested=True)


def test_a_deleted_experiment_says_how_to_restore_it(sqlite_store: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(sqlite_store)
    experiment_id = client.create_experiment("deleted-one")
    client.delete_experiment(experiment_id)
    with pytest.raises(BackendStartError) as error:
        start(tracking_uri=sqlite_store, experiment_name="deleted-one")
    assert f"mlflow experiments restore --experiment-id {experiment_id}" in str(error.value)


def test_bad_settings_name_the_key_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as error:
        start(trackinguri="sqlite:///x.db")
    assert "trackinguri: unknown key (from argument config['trackinguri'])" in str(error.value)
    assert "did you mean 'mlflow.tracking_uri'?" in str(error.value)
    with pytest.raises(ConfigError) as error:
        start(mlflow={"tracking_url": "x"})
    assert "mlflow.tracking_url: unknown key" in str(error.value)
    assert "'mlflow.tracking_uri'" in str(error.value)

    monkeypatch.setenv("TRACELET_MLFLOW__START_TIMEOUT", "-1")
    with pytest.raises(ConfigError) as error:
        start()
    assert "mlflow.start_timeout" in str(error.value)
    assert "TRACELET_MLFLOW__START_TIMEOUT" in str(error.value)


def test_the_yaml_section_is_valid_and_wrong_types_are_located(tmp_path: Any) -> None:
    (tmp_path / "tracelet.yaml").write_text(
        "backend: mlflow\nmlflow:\n  tracking_uri: sqlite:///from-yaml.db\n  nested: maybe\n"
    )
    with pytest.raises(ConfigError) as error:
        tracelet.start_logging(exp_name="e")
    assert "mlflow.nested" in str(error.value)
    assert "tracelet.yaml:4" in str(error.value)
