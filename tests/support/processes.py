"""Running commands the way a user's shell would, without this test process's settings."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

#: Env vars a child must not inherit from the test process: Tracelet's, the backends', the
#: fixture backend's, the distributed rank, and anything that redirects the interpreter.
_PRIVATE_PREFIXES = ("TRACELET_", "EXAMPLE_", "MLFLOW_", "WANDB_", "CLEARML_", "AIM_")
_PRIVATE_NAMES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")

#: The collectors that add records to every run (system and GPU samples, the environment) are
#: off in tests, in this process (conftest) and in children; collector tests turn them on.
COLLECTORS_OFF = {
    "TRACELET_COLLECT_SYSTEM_METRICS": "false",
    "TRACELET_COLLECT_GPU_METRICS": "false",
    "TRACELET_TRACK_ENVIRONMENT": "false",
}


def clean_env(
    extra: Mapping[str, str] | None = None, *, collectors_off: bool = True
) -> dict[str, str]:
    """This process's environment without the private variables, plus :data:`COLLECTORS_OFF`
    (unless ``collectors_off`` is false: a user's defaults) and ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_PRIVATE_PREFIXES) and k not in _PRIVATE_NAMES
    }
    if collectors_off:
        env.update(COLLECTORS_OFF)
    env.update(extra or {})
    return env


def run(
    args: list[str | Path],
    cwd: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    collectors_off: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a clean environment (plus ``env``, see :func:`clean_env`), capturing
    text output."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=clean_env(env, collectors_off=collectors_off),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``result``, after asserting that the command succeeded (its output in the message)."""
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it started:
    SIGTERM to the group, then SIGKILL for what is left after 15 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            process.poll()  # reap the main process once it exits
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
