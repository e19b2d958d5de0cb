"""``tracelet show``: curves drawn by plotext in a real pseudo-terminal and in plain text, runs
overlaid, metric selection, the time axis, media as paths, and ``--watch`` on a live run."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.processes import checked, clean_env, run

TRACELET = [sys.executable, "-m", "tracelet.cli"]

LOG_TWO_RUNS = """
import math, numpy, tracelet
for lr in (0.1, 0.01):
    run = tracelet.start_logging(exp_name=f"lr{lr}", project="viz")
    run.log_params({"lr": lr})
    for s in range(300):
        run.log_metrics({"train/loss": 1 / (s + 1) + lr, "val/acc": 1 - 1 / (s + 1)}, step=s)
        run.log_metric("system/cpu", 50.0, step=s)
    run.log_metric("train/loss", math.nan, step=300)
    run.log_image("samples/digit", numpy.array([[0, 255], [255, 0]], dtype="uint8"), step=0)
    run.stop()
"""


def show(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([*TRACELET, "show", *args], cwd)


def show_in_a_terminal(*args: str, cwd: Path, timeout: float = 60) -> str:
    """What ``tracelet show`` writes to a real pseudo-terminal of 120 x 40 cells."""
    leader, follower = pty.openpty()
    env = clean_env({"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"})
    process = subprocess.Popen(
        [*TRACELET, "show", *args], cwd=cwd, env=env, stdout=follower, stderr=subprocess.PIPE
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
    assert process.wait(timeout=timeout) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    checked(run([sys.executable, "-c", LOG_TWO_RUNS], tmp_path))
    return tmp_path


def test_plain_text_has_charts_without_escape_codes(two_runs: Path) -> None:
    out = checked(show("latest", cwd=two_runs)).stdout
    assert "\x1b" not in out
    charts = out.split("name:")[0]
    assert charts.count("┌") == 2  # train and val; system/* is left out by default
    assert " train " in charts.splitlines()[0]
    assert "step" in charts
    assert "** train/loss" in charts  # the legend shows each line's marker
    assert "system/cpu" not in charts
    assert "status:   finished" in out  # the summary follows


def test_several_runs_are_overlaid_and_told_apart(two_runs: Path) -> None:
    out = checked(show("lr0.1", "lr0.01", "--metric", "train/*", cwd=two_runs)).stdout
    charts = out.split("name:")[0]
    assert charts.count("┌") == 1
    assert "** train/loss · lr0.1" in charts
    assert "xx train/loss · lr0.01" in charts
    assert out.count("name:") == 2  # a summary per run


def test_a_terminal_gets_colored_lines_across_its_width(two_runs: Path) -> None:
    out = show_in_a_terminal("lr0.1", "lr0.01", "--metric", "train/loss", cwd=two_runs)
    assert "\x1b[38;5;" in out  # each line in its color
    assert any("\u2800" <= ch <= "\u28ff" for ch in out)  # braille dots
    box = next(line for line in out.splitlines() if "┌" in line)
    assert 110 <= len(box.strip()) <= 120  # the chart takes the terminal's width
    assert "train/loss · lr0.1" in out
    assert "train/loss · lr0.01" in out


def test_metric_patterns_time_axis_and_no_plot(two_runs: Path) -> None:
    out = checked(show("lr0.1", "--metric", "system/*", "--x", "time", cwd=two_runs)).stdout
    charts = out.split("name:")[0]
    assert " system " in charts.splitlines()[0]
    assert "seconds since start" in charts
    out = checked(show("lr0.1", "--no-plot", cwd=two_runs)).stdout
    assert "┌" not in out
    assert out.startswith("name:     lr0.1")


def test_media_and_artifacts_are_paths_to_open(two_runs: Path) -> None:
    out = checked(show("latest", "--no-plot", cwd=two_runs)).stdout
    media = out.split("\nmedia\n")[1].splitlines()
    row = next(line for line in media if "samples/digit" in line).split()
    assert row[1:3] == ["image", "1"]
    assert Path(two_runs, row[3]).is_file() or Path(row[3]).is_file()


def test_json_of_several_runs_is_a_list(two_runs: Path) -> None:
    shown = json.loads(checked(show("lr0.1", "lr0.01", "--json", cwd=two_runs)).stdout)
    assert [s["name"] for s in shown] == ["lr0.1", "lr0.01"]
    assert shown[0]["metrics"]["train/loss"]["points"] == 301


def test_watch_redraws_a_live_run_until_it_ends(tmp_path: Path) -> None:
    script = (
        "import time, tracelet\n"
        "run = tracelet.start_logging(exp_name='live', project='viz', "
        "config={'flush_interval': 0.05})\n"
        "for s in range(30):\n"
        "    run.log_metric('train/loss', 1 / (s + 1), step=s)\n"
        "    time.sleep(0.1)\n"
        "run.stop()\n"
    )
    trainer = subprocess.Popen(
        [sys.executable, "-c", script], cwd=tmp_path, env=clean_env(), stderr=subprocess.PIPE
    )
    folder = None
    for _ in range(100):  # wait for the run folder
        found = list(tmp_path.glob("tracelet-runs/viz/*/records.jsonl"))
        if found:
            folder = found[0].parent
            break
        time.sleep(0.1)
    assert folder is not None
    out = show_in_a_terminal(str(folder), "--watch", "0.2", cwd=tmp_path)
    assert trainer.wait(timeout=60) == 0
    redraws = out.count("\x1b[H\x1b[2J")
    assert redraws >= 3, out[-500:]
    assert "live: running" in out
    assert "live: finished · 30 points" in out
    assert "status:   finished" in out


LOG_TYPED = """
from pathlib import Path
import tracelet
Path("model.pt").write_bytes(b"x" * 2048)
Path("notes.txt").write_text("plain")
run = tracelet.start_logging(exp_name="typed", project="viz")
for accuracy in (0.9, 0.95):
    run.log_artifact(run.create_artifact("classifier", "model").add_file("model.pt"))
run.log_artifact("notes.txt")
run.stop()
"""


def test_typed_artifacts_are_listed_by_name_type_and_version(tmp_path: Path) -> None:
    checked(run([sys.executable, "-c", LOG_TYPED], tmp_path))
    shown = json.loads(checked(show("latest", "--json", cwd=tmp_path)).stdout)
    assert shown["artifacts"] == ["notes.txt"]  # the versions' folders are not plain artifacts
    assert [
        (a["name"], a["type"], a["version"], a["files"], a["bytes"])
        for a in shown["typed_artifacts"]
    ] == [("classifier", "model", 0, 1, 2048), ("classifier", "model", 1, 1, 2048)]
    out = checked(show("latest", "--no-plot", cwd=tmp_path)).stdout
    rows = out.split("\ntyped artifacts\n")[1].splitlines()
    assert rows[0].split() == ["NAME", "TYPE", "VERSION", "FILES", "SIZE", "FOLDER"]
    assert rows[2].split()[:6] == ["classifier", "model", "v1", "1", "2.0", "KB"]
    assert Path(tmp_path, rows[2].split()[6], "model.pt").is_file()
