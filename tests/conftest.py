"""Shared fixtures: every test runs in its own working directory with no Tracelet env vars."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make tests/support importable as `support` from every test module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.aim_server import AimServer
from support.mlflow_server import MlflowServer
from support.processes import COLLECTORS_OFF

from tracelet import session
from tracelet.plugins import PluginHost

#: Env vars that would change what a test sees: ours, the distributed rank, backends' own.
_ISOLATED_PREFIXES = ("TRACELET_", "MLFLOW_", "WANDB_", "CLEARML_", "AIM_")
_ISOLATED_NAMES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test in ``tmp_path`` with no Tracelet/backend/rank env vars but
    :data:`COLLECTORS_OFF`; stop leftover runs."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in _ISOLATED_NAMES:
            monkeypatch.delenv(name)
    for name, value in COLLECTORS_OFF.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for run in list(session._live):
        run.stop(timeout=5)


@pytest.fixture
def host() -> PluginHost:
    """A fresh plugin host with the built-in plugin and Tracelet's collectors (whose keys the
    tests' env vars set), and no other entry point."""
    from tracelet_collectors import plugin

    fresh = PluginHost(load_entrypoints=False)
    assert fresh.register(plugin, name="collectors").status == "loaded"
    return fresh


@pytest.fixture
def no_leftover_threads(isolated: Path) -> Iterator[None]:
    """Fail a test that leaves a router or backend thread running (checked before ``isolated``
    stops leftover runs: the test itself must have stopped what it started)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        extra = [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name.startswith("tracelet")
        ]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not extra, f"threads left running: {extra}"


@pytest.fixture(scope="session")
def example_backend_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the fixture distribution tracelet-example-backend installed in it (put it
    on ``PYTHONPATH`` or ``sys.path`` to make its entry points visible)."""
    target = tmp_path_factory.mktemp("site")
    fixture = Path(__file__).resolve().parent / "fixtures" / "tracelet-example-backend"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(fixture),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` on a free port of 127.0.0.1 for the whole session (sqlite store,
    proxied artifacts in a temp dir); started on first use, stopped at the end."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AimServer]:
    """A real ``aim server`` on a free port of 127.0.0.1 for the whole session (its repo in a
    temp dir); started on first use, stopped at the end."""
    server = AimServer(tmp_path_factory.mktemp("aim-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a socket that accepts connections and never answers:
    a hung server."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
