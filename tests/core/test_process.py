"""Process life and death: SIGKILL, interpreter exit, uncaught exceptions and fork.

Each test runs a real Python script in a subprocess that logs to the ``local`` backend, then
reads the run folder it left with ``tracelet.backends.local.read_run`` (or, for a stand-in
backend that lives in the script, what the script prints as it exits).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracelet.backends.local import RECORDS_FILE, read_run

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def script_env() -> dict[str, str]:
    """This environment without Tracelet settings, and with no entry-point plugins loaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACELET_")}
    env["TRACELET_PLUGINS"] = ""
    return env


def write_script(tmp_path: Path, source: str) -> Path:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return script


def run_script(
    tmp_path: Path, source: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    script = write_script(tmp_path, source)
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=script_env(),
        check=False,
    )


def only_run(root: Path) -> Path:
    runs = [p.parent for p in root.glob("*/*/run.json")]
    assert len(runs) == 1, runs
    return runs[0]


# -- SIGKILL ---------------------------------------------------------------------------------------


def test_sigkill_leaves_a_readable_prefix_of_what_was_logged(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, time
        import tracelet

        run = tracelet.start_logging(
            "victim", backend="local",
            config={"flush_interval": 0.01, "batch_size": 64, "local": {"path": sys.argv[1]}},
        )
        for step in range(500):
            run.log_metric("x", step * 0.25, step=step)
        run.log_param("lr", 0.1)
        assert run.flush(timeout=30)
        print("location", run.locations()["local"], flush=True)
        step = 500
        while True:
            run.log_metric("x", step * 0.25, step=step)
            step += 1
            if step % 200 == 0:
                time.sleep(0.001)
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "runs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("location "), (line, proc.stderr.read() if proc.stderr else "")
        location = Path(line.split(" ", 1)[1].strip())
        # Kill it while it is still writing: once the file has grown well past the flush.
        records = location / RECORDS_FILE
        flushed_size = records.stat().st_size
        deadline = time.monotonic() + 30
        while records.stat().st_size < flushed_size * 3:
            assert time.monotonic() < deadline, "the process stopped writing"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    stored = read_run(location)
    assert stored.status == "running"
    assert stored.meta["end_time"] is None
    points = stored.metric_history("x")
    assert len(points) > 1000, "everything flushed is there, and more"
    assert [p.step for p in points] == list(range(len(points))), "a prefix, in order"
    assert [p.value for p in points] == [p.step * 0.25 for p in points]
    assert stored.params == {"lr": 0.1}
    assert stored.skipped_lines <= 1, "at most the line being written is cut"
    assert [r["seq"] for r in stored.records()] == list(range(len(points) + 1))


# -- interpreter exit ------------------------------------------------------------------------------


def test_exit_without_stop_finishes_the_run_and_delivers_everything(tmp_path: Path) -> None:
    result = run_script(
        tmp_path,
        """
        import sys
        import tracelet

        # A long interval: nothing is written before the interpreter exits.
        run = tracelet.start_logging(
            "no-stop", backend="local",
            config={"flush_interval": 60, "local": {"path": sys.argv[1]}},
        )
        for step in range(3000):
            run.log_metric("x", float(step), step=step)
        run.set_tag("end", "implicit")
        """,
    )
    assert result.returncode == 0, result.stderr
    stored = read_run(only_run(tmp_path / "runs"))
    assert stored.status == "finished"
    assert [p.step for p in stored.metric_history("x")] == list(range(3000))
    assert stored.tags == {"end": "implicit"}


def test_exit_drain_runs_before_a_library_teardown_registered_by_a_later_run(
    tmp_path: Path,
) -> None:
    # The backend's "library" registers its exit teardown when the second run starts it, after
    # Tracelet's handler was registered by the first run (as W&B's service does): the drain of
    # the runs left to exit must still come first. tests/integration/test_exit.py does this
    # with every real backend.
    result = run_script(
        tmp_path,
        """
        import atexit, json, sys
        from tracelet.backends.memory import MemoryBackend, stored
        from tracelet.hookspecs import hookimpl
        from tracelet.plugins import PluginHost
        from tracelet.session import start_run

        class Library:
            connected = False

        class LibraryBackend(MemoryBackend):
            def start(self, run):
                if not Library.connected:
                    Library.connected = True
                    atexit.register(setattr, Library, "connected", False)
                super().start(run)

            def write(self, batch):
                if not Library.connected:
                    raise ConnectionResetError("Connection lost")
                super().write(batch)

        class Plugin:
            @hookimpl
            def tracelet_register_backends(self, register):
                register("library", lambda settings: LibraryBackend())

        ids = []
        # Registered before any run: runs after every other exit handler.
        atexit.register(lambda: print(json.dumps(
            [[stored(i).steps("x"), stored(i).status] for i in ids[1:]]
        )))
        host = PluginHost(load_entrypoints=False)
        host.register(Plugin(), name="library")
        config = {"flush_interval": 60, "shutdown_timeout": 2, "local": {"path": sys.argv[1]}}
        for backend in ("local", "library", "library"):
            run = start_run("exit", backend=backend, config=config, host=host)
            ids.append(run.id)
            for step in range(100):
                run.log_metric("x", float(step), step=step)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[list(range(100)), "finished"]] * 2, result.stderr


@pytest.mark.parametrize(
    ("raise_line", "status", "message"),
    [
        ('raise RuntimeError("boom")', "failed", "RuntimeError: boom"),
        ("raise KeyboardInterrupt", "killed", "KeyboardInterrupt"),
    ],
)
def test_uncaught_exception_sets_the_status_at_exit(
    tmp_path: Path, raise_line: str, status: str, message: str
) -> None:
    result = run_script(
        tmp_path,
        f"""
        import sys
        import tracelet

        run = tracelet.start_logging(
            "crash", backend="local",
            config={{"flush_interval": 60, "local": {{"path": sys.argv[1]}}}},
        )
        for step in range(100):
            run.log_metric("x", float(step), step=step)
        {raise_line}
        """,
    )
    assert result.returncode != 0
    assert message in result.stderr, "the original excepthook still prints the traceback"
    stored = read_run(only_run(tmp_path / "runs"))
    assert stored.status == status
    assert [p.step for p in stored.metric_history("x")] == list(range(100))


# -- fork ------------------------------------------------------------------------------------------


def test_fork_child_is_inert_and_can_start_its_own_run(tmp_path: Path) -> None:
    result = run_script(
        tmp_path,
        """
        import json, logging, os, sys
        import tracelet
        from tracelet.backends.local import read_run

        root = sys.argv[1]
        logging.basicConfig(stream=sys.stderr, format="%(process)d %(message)s")
        config = {"flush_interval": 60, "batch_size": 100000, "local": {"path": root}}
        run = tracelet.start_logging("parent", backend="local", config=config)
        for step in range(100):
            run.log_metric("x", float(step), step=step)
        run.log_param("who", "parent")
        # Those records are still queued in the parent (long interval) when it forks.
        location = run.locations()["local"]
        pid = os.fork()
        if pid == 0:
            run.log_metric("x", -1.0, step=1000)
            run.log_metrics({"x": -2.0})
            run.log_param("who", "child")
            tracelet.get_active_run().log_metric("x", -3.0)
            report = {
                "pid": os.getpid(),
                "noop": run.is_noop,
                "flush": run.flush(timeout=1),
                "stats": run.stats(),
                "stop": run.stop("failed"),  # must not close the parent's backends
            }
            child = tracelet.start_logging("child", backend="local",
                                           config={**config, "flush_interval": 0.05})
            for step in range(50):
                child.log_metric("c", float(step), step=step)
            report["child_location"] = child.locations()["local"]
            with open(os.path.join(root, "child.json"), "w") as fh:
                json.dump(report, fh)
            sys.exit(0)  # the child's run is stopped at exit; the parent's is not touched
        _, wait_status = os.waitpid(pid, 0)
        parent_after_child = read_run(location)
        for step in range(100, 200):
            run.log_metric("x", float(step), step=step)
        print(json.dumps({
            "location": location,
            "child_exit": os.waitstatus_to_exitcode(wait_status),
            "status_after_child": parent_after_child.status,
            "records_after_child": len(list(parent_after_child.records())),
            "stop": run.stop(),
        }))
        """,
    )
    assert result.returncode == 0, result.stderr
    parent = json.loads(result.stdout)
    child = json.loads((tmp_path / "runs" / "child.json").read_text())
    assert parent["child_exit"] == 0
    assert parent["status_after_child"] == "running", "the child did not close the parent's run"
    assert parent["records_after_child"] == 0, "the child did not send the parent's queue"
    assert parent["stop"] is True
    assert (child["noop"], child["flush"], child["stop"], child["stats"]) == (True, True, True, {})

    stored = read_run(parent["location"])
    assert stored.status == "finished"
    assert [(p.step, p.value) for p in stored.metric_history("x")] == [
        (s, float(s)) for s in range(200)
    ], "every parent point exactly once, none from the child"
    assert stored.params == {"who": "parent"}

    child_run = read_run(child["child_location"])
    assert child_run.name == "child"
    assert child_run.status == "finished"
    assert [p.step for p in child_run.metric_history("c")] == list(range(50))

    child_warnings = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(f"{child['pid']} ") and "forked child process" in line
    ]
    assert len(child_warnings) == 1, result.stderr
    assert "log_metric in a forked child process" in child_warnings[0]


def test_fork_with_records_in_flight_delivers_them_once(tmp_path: Path) -> None:
    # Here the parent's worker is busy delivering when the process forks, and the child exits
    # at once through the normal interpreter exit (atexit hooks run in the child too).
    result = run_script(
        tmp_path,
        """
        import json, os, sys
        import tracelet

        run = tracelet.start_logging(
            "busy", backend="local",
            config={"flush_interval": 0.001, "batch_size": 10, "local": {"path": sys.argv[1]}},
        )
        children = []
        for step in range(2000):
            run.log_metric("x", float(step), step=step)
            if step % 400 == 0:
                pid = os.fork()
                if pid == 0:
                    sys.exit(0)
                children.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        print(json.dumps({"codes": codes, "stop": run.stop(), "where": run.locations()["local"]}))
        """,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["codes"] == [0] * 5
    assert out["stop"] is True
    stored = read_run(out["where"])
    assert stored.status == "finished"
    assert [p.step for p in stored.metric_history("x")] == list(range(2000))
    assert stored.skipped_lines == 0
