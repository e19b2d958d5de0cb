"""Runs made with only the journal (``backend="local"``), as on a node without a tracking
server, for the ``tracelet sync`` tests of each backend."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.processes import clean_env
from tracelet.backends.local import LocalRun, list_runs
from tracelet.plugins import get_default_host
from tracelet.run import Run
from tracelet.session import start_run


def offline_run(name: str, metric: str, points: int, params: dict[str, object]) -> Run:
    """A stopped local-only run in ``./tracelet-runs`` holding ``params`` and ``points`` values
    ``1 / (step + 1)`` of ``metric`` at steps 0..points-1."""
    run = start_run(name, "sync-tests", "local", {"flush_interval": 0.05}, host=get_default_host())
    run.log_params(params)
    for step in range(points):
        run.log_metric(metric, 1.0 / (step + 1), step=step)
    assert run.stop()
    return run


_JOB = """
import sys, time
import tracelet

backend, metric, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = tracelet.start_logging("job", "sync-tests", ["local", backend],
                             config={"flush_interval": 0.05})
run.log_params({"lr": 0.01})
for step in range(points):
    run.log_metric(metric, float(step), step=step)
while run.stats()["local"].delivered < points + 1:
    time.sleep(0.01)
print("journaled", flush=True)
time.sleep(600)
"""


def killed_job(
    folder: Path, backend: str, metric: str, points: int, env: Mapping[str, str]
) -> LocalRun:
    """Run a job logging to ``local`` and ``backend`` (the param ``lr`` = 0.01, then ``points``
    values of ``metric`` = its step) in a child process with ``env``; once the journal has
    everything, SIGKILL it. Returns the run it left in ``folder/tracelet-runs``."""
    script = folder / "job.py"
    script.write_text(_JOB)
    job = subprocess.Popen(
        [sys.executable, str(script), backend, metric, str(points)],
        cwd=folder,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stdout is not None
    line = job.stdout.readline()
    assert line.startswith("journaled"), job.stderr.read() if job.stderr else line
    job.send_signal(signal.SIGKILL)
    job.wait(30)
    (found,) = list_runs(folder / "tracelet-runs")
    return found
