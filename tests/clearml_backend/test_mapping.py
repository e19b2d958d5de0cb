"""What a Tracelet run becomes in ClearML (offline session), and start errors with no server."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.clearml_reading import read_session
from support.clearml_stored import session_of
from support.mlflow_server import free_port
from support.processes import run as run_command

import tracelet
from tracelet.errors import BackendStartError
from tracelet.run import Run
from tracelet_clearml.backend import PROCESS_ENV, title_series


def start(**clearml: Any) -> Run:
    return tracelet.start_logging(
        exp_name="resnet-baseline",
        project="vision",
        backend="clearml",
        config={"flush_interval": 0.05, "clearml": {"offline": True, **clearml}},
    )


def test_title_and_series() -> None:
    assert title_series("train/loss") == ("train", "loss")
    assert title_series("a/b/c") == ("a/b", "c")
    assert title_series("lr") == ("lr", "lr")
    assert title_series("odd/") == ("odd/", "odd/")


def test_project_task_tags_params_and_type(capsys: pytest.CaptureFixture[str]) -> None:
    run = start(tags=["pytorch"], task_type="testing", params_section="Hyper")
    run.log_params({"lr": 0.01, "optimizer": {"name": "adam"}})
    run.set_tags({"team": "ml"})
    assert run.stop()
    session = session_of(run)
    assert (session.project, session.name) == ("vision", "resnet-baseline")
    assert session.task["type"] == "testing"
    assert sorted(session.tags) == ["pytorch", "team:ml"]
    assert session.params("Hyper") == {"lr": "0.01", "optimizer/name": "adam"}
    assert session.params("properties")["tracelet_run_id"] == run.id
    assert capsys.readouterr().out == "", "ClearML's messages do not reach stdout"


def test_every_scalar_of_several_series() -> None:
    run = start()
    names = ("train/loss", "train/acc", "val/loss", "lr")
    expected: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for step in range(10_000):
        for i, name in enumerate(names):
            value = (step + 1) / (step + 2 + i)
            run.log_metric(name, value, step=step)
            expected.setdefault(title_series(name), []).append((step, value))
    assert run.stop(timeout=120), run.stats()
    assert session_of(run).scalars() == expected


def test_media_and_artifacts(tmp_path: Path) -> None:
    weights = tmp_path / "weights.json"
    weights.write_text('{"w": [1, 2]}')
    run = start()
    run.log_image("inputs/first", np.zeros((4, 6, 3), dtype=np.uint8), step=2)
    run.log_histogram("weights/w1", [0.0, 0.5, 0.5, 1.0], step=4, bins=2)
    run.log_text("samples", "a cat on a mat", step=3)
    run.log_artifact(weights, name="model/best.json")
    assert run.stop(), run.stats()
    session = session_of(run)
    (image,) = session.of_type("training_debug_image")
    assert (image["metric"], image["variant"], image["iter"]) == ("inputs", "first", 2)
    assert Path(image["url"]).exists()
    (plot,) = session.of_type("plot")
    assert (plot["metric"], plot["variant"], plot["iter"]) == ("weights", "w1", 4)
    bars = json.loads(plot["plot_str"])["data"][0]
    assert (bars["x"], bars["y"]) == (["0..0.5", "0.5..1"], [1, 3])
    assert "[samples @ step 3] a cat on a mat" in session.log
    (artifact,) = session.task["execution"]["artifacts"]
    assert artifact["key"] == "model/best.json"
    assert artifact["hash"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert session.artifacts()["model/best.json"] == weights.read_bytes()


def test_clearml_capture_is_off_by_default() -> None:
    import argparse

    run = start()
    print("a line on stdout")
    argparse.ArgumentParser().add_argument("--batch-size", default=3)
    argparse.ArgumentParser().parse_args([])
    run.log_metric("x", 1.0, step=0)
    assert run.stop()
    session = session_of(run)
    assert not any("a line on stdout" in line for line in session.log), "no console capture"
    assert "Args" not in (session.task.get("hyperparams") or {}), "no argparse capture"


def test_a_later_process_gets_a_task_of_its_own(tmp_path: Path) -> None:
    """ClearML marks this process as a task's master in env vars its children inherit; they are
    put back at close, so a script started afterwards logs its own run, online or offline."""
    before = {name: os.environ.get(name) for name in PROCESS_ENV}
    run = start()
    run.log_metric("x", 1.0, step=0)
    assert run.stop()
    assert {name: os.environ.get(name) for name in PROCESS_ENV} == before
    script = tmp_path / "child.py"
    script.write_text(
        "import tracelet\n"
        "config = {'clearml': {'offline': True}}\n"
        "run = tracelet.start_logging('child', backend='clearml', config=config)\n"
        "run.log_metric('y', 2.0, step=0)\n"
        "assert run.stop()\n"
        "print(run.locations()['clearml'])\n"
    )
    # The child inherits this process's environment as it is now (TRAINS_* included).
    env = {k: os.environ[k] for k in ("CLEARML_CACHE_DIR", "HOME")}
    result = run_command([sys.executable, script], tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    child = read_session(Path(result.stdout.strip().splitlines()[-1]))
    assert child.scalars() == {("y", "y"): [(0, 2.0)]}


def test_no_server_configured_fails_at_once_naming_the_variables() -> None:
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        tracelet.start_logging(backend="clearml")
    assert time.monotonic() - began < 10
    message = str(error.value)
    assert "no ClearML server is configured" in message
    for needed in ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "clearml.conf", "offline"):
        assert needed in message


@pytest.mark.parametrize("server", ["nothing listening", "never answers"])
def test_an_unreachable_server_fails_within_start_timeout(
    server: str, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = silent_server if server == "never answers" else f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CLEARML_API_HOST", host)
    monkeypatch.setenv("CLEARML_API_ACCESS_KEY", "KEY")
    monkeypatch.setenv("CLEARML_API_SECRET_KEY", "SECRET")
    began = time.monotonic()
    with pytest.raises(BackendStartError) as error:
        tracelet.start_logging(backend="clearml", config={"clearml": {"start_timeout": 1.5}})
    assert time.monotonic() - began < 8, "ClearML itself would wait for minutes"
    assert f"the ClearML server at {host} did not answer within 1.5 s" in str(error.value)


def test_credentials_are_shown_redacted_by_tracelet_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from support.processes import run as run_command

    env = {
        "CLEARML_API_HOST": "https://api.clear.ml",
        "CLEARML_API_ACCESS_KEY": "ACCESSKEY123",
        "CLEARML_API_SECRET_KEY": "SECRET456",
        "TRACELET_BACKEND": "clearml",
    }
    tracelet_cli = Path(__import__("sys").executable).parent / "tracelet"
    shown = run_command([tracelet_cli, "config"], tmp_path, env=env).stdout
    assert "clearml.api_host" in shown
    assert "https://api.clear.ml" in shown
    assert "env var CLEARML_API_SECRET_KEY" in shown
    assert "ACCESSKEY123" not in shown
    assert "SECRET456" not in shown


def test_the_configuration_pages_environment_variables_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page's CLEARML_* exports, as written: this machine cannot reach app.clear.ml, and
    start_logging says so within start_timeout instead of waiting on ClearML's retries."""
    for name, value in {
        "CLEARML_WEB_HOST": "https://app.clear.ml",
        "CLEARML_API_HOST": "https://api.clear.ml",
        "CLEARML_FILES_HOST": "https://files.clear.ml",
        "CLEARML_API_ACCESS_KEY": "your_access_key",
        "CLEARML_API_SECRET_KEY": "your_secret_key",
        "TRACELET_CLEARML__START_TIMEOUT": "3",
    }.items():
        monkeypatch.setenv(name, value)
    began = time.monotonic()
    with pytest.raises(BackendStartError, match=r"ClearML server at https://api\.clear\.ml"):
        tracelet.start_logging(backend="clearml")
    assert time.monotonic() - began < 15


def test_a_run_of_a_group_is_tagged_with_it() -> None:
    run = tracelet.start_logging(
        "trial-0",
        "vision",
        "clearml",
        config={"flush_interval": 0.05, "clearml": {"offline": True, "tags": ["mine"]}},
        group="sweep-1",
    )
    assert run.stop()
    assert sorted(session_of(run).tags) == ["group:sweep-1", "mine"]


def test_a_user_thread_printing_while_clearml_closes_keeps_every_line(tmp_path: Path) -> None:
    """ClearML's own lines go to the log, and only those: a thread of the user's that prints
    while the task starts and closes (on Tracelet's worker thread) loses nothing."""
    script = tmp_path / "train.py"
    script.write_text(
        "import threading, time, tracelet\n"
        "done = threading.Event()\n"
        "count = 0\n"
        "def chatter():\n"
        "    global count\n"
        "    while not done.is_set():\n"
        "        print(f'user line {count}', flush=True)\n"
        "        count += 1\n"
        "        time.sleep(0.001)\n"
        "thread = threading.Thread(target=chatter)\n"
        "thread.start()\n"
        "config = {'clearml': {'offline': True}}\n"
        "for i in range(3):\n"
        "    run = tracelet.start_logging(f'chatty-{i}', backend='clearml', config=config)\n"
        "    run.log_metric('y', 2.0, step=0)\n"
        "    assert run.stop()\n"
        "done.set()\n"
        "thread.join()\n"
        "print(f'printed {count}')\n"
    )
    env = {"CLEARML_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    result = run_command([sys.executable, script], tmp_path, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    printed = int(lines[-1].removeprefix("printed "))
    assert printed > 0
    assert lines[:-1] == [f"user line {i}" for i in range(printed)]


def test_records_for_a_task_closed_outside_tracelet_are_failed_not_delivered() -> None:
    from clearml import Task

    run = start()
    run.log_metric("loss", 1.0, step=0)
    assert run.flush(timeout=60)
    task = Task.current_task()
    assert task is not None
    assert task.id == run.links["clearml"].id
    task.close()  # e.g. the user's code closes "its" task
    for step in (1, 2, 3):
        run.log_metric("loss", 1.0 / step, step=step)
    run.stop()
    stats = run.stats()["clearml"]
    assert (stats.delivered, stats.failed) == (1, 3), stats
    assert "was closed outside Tracelet" in (stats.last_error or "")
    assert session_of(run).scalars() == {("loss", "loss"): [(0, 1.0)]}
