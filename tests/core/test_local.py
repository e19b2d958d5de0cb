"""The ``local`` backend: the run folder it writes and the reader, on real files."""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.processes import checked, run

from tracelet.backends.local import (
    FORMAT_VERSION,
    RECORDS_FILE,
    RUN_FILE,
    LocalRun,
    list_runs,
    read_run,
    safe_name,
)
from tracelet.media import encode_png
from tracelet.plugins import PluginHost
from tracelet.run import Run
from tracelet.session import start_run

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


def start(host: PluginHost, root: Path, name: str = "local", **config: object) -> Run:
    return start_run(
        name,
        "my project/v2",
        "local",
        {"flush_interval": 0.05, "local": {"path": str(root), **config.pop("local", {})},  # type: ignore[dict-item]
         **config},
        host=host,
    )  # fmt: skip


def folder(run: Run) -> Path:
    location = run.locations()["local"]
    assert location is not None
    return Path(location)


def test_100k_points_round_trip_exactly(host: PluginHost, tmp_path: Path) -> None:
    run = start(host, tmp_path)
    n = 100_000
    for step in range(n):
        run.log_metric("train/loss", 1.0 / (step + 1), step=step)
    run.log_metric("eval/acc", 0.5, step=0)
    assert run.stop(timeout=60), run.stats()
    assert run.stats()["local"].delivered == n + 1
    stored = read_run(folder(run))
    points = stored.metric_history("train/loss")
    assert [p.step for p in points] == list(range(n))
    assert [p.value for p in points] == [1.0 / (s + 1) for s in range(n)]
    assert all(points[i].timestamp <= points[i + 1].timestamp for i in range(n - 1))
    assert [(p.step, p.value) for p in stored.metric_history("eval/acc")] == [(0, 0.5)]
    assert stored.skipped_lines == 0
    assert [r["seq"] for r in stored.records()] == list(range(n + 1))


def test_run_folder_layout_and_metadata(host: PluginHost, tmp_path: Path) -> None:
    before = time.time()
    run = start(host, tmp_path, name="layout")
    run.log_params({"lr": 0.1})
    run.set_tag("k", "v")
    run.log_metric("m", math.nan, step=0)
    run.log_metric("m", -math.inf, step=1)
    run.log_image("img", encode_png(b"\x00\xff\x00\xff", 2, 2, 1), step=0)
    assert run.stop()
    path = folder(run)
    assert path.parent == tmp_path / safe_name("my project/v2")
    assert path.parent.name == "my_project_v2"
    assert sorted(p.name for p in path.iterdir()) == ["media", RECORDS_FILE, RUN_FILE]
    meta = json.loads((path / RUN_FILE).read_text())
    assert meta["format"] == FORMAT_VERSION
    assert (meta["id"], meta["name"], meta["project"]) == (run.id, "layout", "my project/v2")
    assert meta["status"] == "finished"
    assert meta["pid"] == os.getpid()
    assert before <= meta["start_time"] <= meta["end_time"] <= time.time()
    lines = (path / RECORDS_FILE).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    # A metric point is an array [name, value, step, ts, seq]; other records are objects.
    assert [r["seq"] if isinstance(r, dict) else r[4] for r in records] == list(range(5))
    assert [r["type"] if isinstance(r, dict) else "metric" for r in records] == [
        "param",
        "tag",
        "metric",
        "metric",
        "image",
    ]
    # JSON has no NaN or infinity: the journal spells them as strings float() reads back.
    assert lines[2].startswith('["m","NaN",0,')
    assert lines[3].startswith('["m","-Infinity",1,')
    image = records[4]
    assert (path / image["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not Path(image["path"]).is_absolute()
    stored = read_run(path)
    assert math.isnan(stored.metrics["m"][0].value)
    assert stored.metrics["m"][1].value == -math.inf
    assert stored.media[0]["path"] == image["path"]


def test_reader_sees_flushed_records_while_the_run_is_going(
    host: PluginHost, tmp_path: Path
) -> None:
    run = start(host, tmp_path, flush_interval=60)
    for step in range(10):
        run.log_metric("x", float(step), step=step)
    assert run.flush(timeout=10)
    live = read_run(folder(run))
    assert live.status == "running"
    assert [p.step for p in live.metric_history("x")] == list(range(10))
    run.log_metric("x", 10.0, step=10)
    assert run.stop("killed")
    done = read_run(folder(run))
    assert done.status == "killed"
    assert [p.step for p in done.metric_history("x")] == list(range(11))


def test_reader_skips_a_cut_last_line_and_counts_a_corrupt_one(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.mkdir()
    (path / RUN_FILE).write_text(json.dumps({"id": "i", "name": "n", "project": "p",
                                             "status": "running"}))  # fmt: skip
    good = [
        {"type": "metric", "name": "x", "value": float(i), "step": i, "ts": 1.0, "seq": i}
        for i in range(3)
    ]
    lines = [json.dumps(r) for r in good]
    lines.insert(1, '{"type": "metric", "name": "x", "val')  # garbage in the middle
    data = "\n".join(lines) + "\n" + '{"type": "metric", "name": "x", "value": 9'  # cut
    (path / RECORDS_FILE).write_text(data)
    stored = read_run(path)
    assert [p.step for p in stored.metric_history("x")] == [0, 1, 2]
    assert stored.skipped_lines == 2
    assert stored.status == "running"


def test_reader_rejects_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a Tracelet run folder"):
        read_run(tmp_path)
    (tmp_path / RUN_FILE).write_text('{"id": "a", "name": "b", "project": "c", "status": "x"}')
    assert list(LocalRun(tmp_path).records()) == []  # no records file yet: empty, no error


def test_list_runs_oldest_first_per_project(host: PluginHost, tmp_path: Path) -> None:
    names = [f"run{i}" for i in range(6)]  # several in the same second: ids sort randomly
    for name in names:
        start(host, tmp_path, name=name).stop()
    other = start_run("three", "other", "local", {"local": {"path": str(tmp_path)}}, host=host)
    other.stop()
    assert [r.name for r in list_runs(tmp_path, project="my project/v2")] == names
    assert [r.name for r in list_runs(tmp_path)] == [*names, "three"]
    assert list_runs(tmp_path, project="missing") == []


def test_fsync_every_batch_round_trips(host: PluginHost, tmp_path: Path) -> None:
    run = start(host, tmp_path, local={"fsync": True}, batch_size=10)
    for step in range(55):
        run.log_metric("x", float(step), step=step)
    assert run.stop()
    assert [p.step for p in read_run(folder(run)).metric_history("x")] == list(range(55))


def test_two_runs_in_the_same_second_get_separate_folders(host: PluginHost, tmp_path: Path) -> None:
    runs = []
    for i in range(3):
        run = start(host, tmp_path, name=f"r{i}")
        run.log_metric("i", float(i), step=0)
        run.stop()
        runs.append(run)
    paths = {folder(r) for r in runs}
    assert len(paths) == 3
    assert sorted(read_run(p).metric_history("i")[0].value for p in paths) == [0.0, 1.0, 2.0]


def test_a_failed_append_is_undone_before_the_retry(tmp_path: Path) -> None:
    # A real short write: RLIMIT_FSIZE makes the kernel write part of a batch and then fail
    # the next write (EFBIG), as a full disk does. The backend must cut the file back, retry,
    # and end with every record once and no broken line.
    script = tmp_path / "efbig.py"
    script.write_text(
        textwrap.dedent(
            """
            import resource, signal, sys, time
            import tracelet

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            run = tracelet.start_logging(
                "efbig", backend="local",
                config={"flush_interval": 0.02, "batch_size": 100,
                        "local": {"path": sys.argv[1]}},
            )
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
            for step in range(2000):
                run.log_metric("x", step * 0.5, step=step)
            deadline = time.monotonic() + 20
            while run.stats()["local"].retries < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            print("retries", run.stats()["local"].retries, flush=True)
            print("ok", run.stop(timeout=30), flush=True)
            print("location", run.locations()["local"], flush=True)
            """
        )
    )
    argv: list[str | Path] = [sys.executable, script, tmp_path / "runs"]
    out = checked(run(argv, env={"TRACELET_PLUGINS": "collectors"})).stdout
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert int(lines["retries"]) >= 2, out
    assert lines["ok"] == "True", out
    stored = read_run(lines["location"])
    assert stored.skipped_lines == 0
    assert [(p.step, p.value) for p in stored.metric_history("x")] == [
        (s, s * 0.5) for s in range(2000)
    ]
    assert [r["seq"] for r in stored.records()] == list(range(2000))
