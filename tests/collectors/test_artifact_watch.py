"""Automatic artifact capture (``automagic_artifacts``): model and checkpoint files written during
the run become typed artifacts, read back from the run folder and from MLflow.

The scan-by-scan tests drive :meth:`ArtifactWatcher.poll` by hand on a real run and real files
(the watcher's own thread waits an hour between scans there), so each test knows exactly which
scan sees what; one test lets the thread scan on its own, in a child process logging to MLflow.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_reading import artifact_files, find_run
from support.mlflow_server import MLFLOW_ENV
from support.processes import run as run_process

import tracelet
from tracelet.backends.local import read_run
from tracelet.run import Run
from tracelet_collectors.artifact_scan import (
    MAX_DEPTH,
    MAX_ENTRIES,
    artifact_kind,
    artifact_name,
    scan,
)
from tracelet_collectors.artifact_watch import ArtifactWatcher
from tracelet_collectors.settings import ARTIFACT_PATTERNS

pytestmark = pytest.mark.usefixtures("no_leftover_threads")

HOUR = 3600.0


@pytest.fixture
def run() -> Iterator[Run]:
    started = tracelet.start_logging(exp_name="watched", project="capture", backend="local")
    yield started
    started.stop()


def watcher_on(run: Run, *dirs: str, max_bytes: int = 1 << 30) -> ArtifactWatcher:
    """A watcher started on ``run`` whose own thread never gets to scan (``poll`` by hand)."""
    watcher = ArtifactWatcher([Path(d) for d in dirs or ["."]], ARTIFACT_PATTERNS, HOUR, max_bytes)
    watcher.start(run)
    return watcher


def captured(run: Run) -> list[tuple[str, str, int, bytes]]:
    """The typed artifacts in the run folder: name, type, version and the one file's content."""
    assert run.journal_path is not None
    found = []
    for info in read_run(run.journal_path).typed_artifacts():
        (file,) = info.files
        found.append(
            (info.name, info.type.value, info.version, info.file_path(file.path).read_bytes())
        )
    return sorted(found)


def write(path: str, data: bytes, mtime_ns: int | None = None) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


# -- scan by scan ------------------------------------------------------------------------------


def test_a_file_is_captured_once_two_scans_see_it_the_same(run: Run) -> None:
    write("pretrained.pt", b"there before the run")
    watcher = watcher_on(run)
    write("checkpoints/epoch=1.ckpt", b"e1")
    assert watcher.poll() == []  # first seen: it may still be being written
    assert [f.relative for f in watcher.poll()] == ["checkpoints/epoch=1.ckpt"]
    assert watcher.poll() == []  # captured: not again
    watcher.stop()
    run.flush()
    assert captured(run) == [("checkpoints-epoch_1.ckpt", "checkpoint", 0, b"e1")]


def test_a_file_still_changing_waits_and_the_last_scan_takes_it_anyway(run: Run) -> None:
    watcher = watcher_on(run)
    write("model.pt", b"part", mtime_ns=1_000_000_000)
    assert watcher.poll() == []
    write("model.pt", b"partial", mtime_ns=2_000_000_000)  # changed since: not settled
    assert watcher.poll() == []
    write("model.pt", b"complete", mtime_ns=3_000_000_000)
    watcher.stop()  # the last scan: new or changed is enough
    run.flush()
    assert captured(run) == [("model.pt", "model", 0, b"complete")]


def test_a_file_written_again_is_the_next_version(run: Run) -> None:
    write("best.pt", b"old weights", mtime_ns=1_000_000_000)
    watcher = watcher_on(run)
    write("best.pt", b"epoch 1", mtime_ns=2_000_000_000)
    watcher.poll()
    watcher.poll()
    write("best.pt", b"epoch 2", mtime_ns=3_000_000_000)
    watcher.poll()
    watcher.poll()
    watcher.stop()
    run.flush()
    assert captured(run) == [
        ("best.pt", "model", 0, b"epoch 1"),
        ("best.pt", "model", 1, b"epoch 2"),
    ]
    info = run.get_artifact("best.pt")
    assert info is not None
    assert info.metadata["source"] == str(Path("best.pt").resolve())
    assert info.metadata["size"] == len(b"epoch 2")
    assert info.metadata["modified"] == "1970-01-01T00:00:03.000Z"  # the mtime written above
    assert info.description == "captured automatically from best.pt"


def test_what_a_scan_passes_over(run: Run) -> None:
    deep = "/".join(f"d{i}" for i in range(MAX_DEPTH + 1))
    watcher = watcher_on(run)
    for path in [
        "notes.txt",  # no pattern matches
        ".venv/lib/torch.pt",  # hidden folder
        "mlruns/0/abc/artifacts/model.pt",  # a tracking tool's store
        "wandb/run-1/files/model.pt",
        f"{deep}/too_deep.pt",  # more than MAX_DEPTH folders down
        f"{deep.rsplit('/', 1)[0]}/deep_enough.pt",
    ]:
        write(path, b"x")
    # The run folder (./tracelet-runs/...) gets a typed artifact of its own: never taken for new.
    write(".cache/manual.pt", b"logged by hand")
    run.log_artifact(run.create_artifact("manual", "model").add_file(".cache/manual.pt"))
    watcher.poll()
    assert [f.relative for f in watcher.poll()] == [f"{deep.rsplit('/', 1)[0]}/deep_enough.pt"]
    watcher.stop()


def test_the_run_folders_are_passed_over_wherever_they_are(tmp_path: Path) -> None:
    runs = tmp_path / "elsewhere"
    run = tracelet.start_logging(
        exp_name="r", backend="local", config={"local": {"path": str(runs)}}
    )
    watcher = watcher_on(run, str(tmp_path))
    write(str(runs / "stray.pt"), b"inside the run folders' root")
    watcher.poll()
    assert watcher.poll() == []
    watcher.stop()
    run.stop()


def test_a_file_over_the_size_limit_is_named_once_and_not_copied(
    run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = watcher_on(run, max_bytes=10)
    write("huge.pt", b"x" * 11)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        watcher.poll()
        watcher.poll()
        watcher.poll()
    watcher.stop()
    (record,) = caplog.records
    assert "huge.pt" in record.getMessage()
    assert "larger than artifact_max_mb" in record.getMessage()
    run.flush()
    assert captured(run) == []


def test_a_scan_looks_at_a_bounded_number_of_entries(tmp_path: Path) -> None:
    for i in range(30):
        write(str(tmp_path / f"f{i:02}.pt"), b"x")
    assert len(scan([tmp_path], ["*.pt"]).files) == 30
    bounded = scan([tmp_path], ["*.pt"], max_entries=10)
    assert bounded.truncated
    assert len(bounded.files) == 10


@pytest.mark.parametrize(
    ("relative", "name", "kind"),
    [
        ("model.pt", "model.pt", "model"),
        ("checkpoints/epoch=3.ckpt", "checkpoints-epoch_3.ckpt", "checkpoint"),
        (
            "out/checkpoint-500/model.safetensors",
            "out-checkpoint-500-model.safetensors",
            "checkpoint",
        ),
        ("_tmp/weights.pth", "tmp-weights.pth", "model"),
    ],
)
def test_names_and_kinds(relative: str, name: str, kind: str) -> None:
    assert artifact_name(relative) == name
    assert artifact_kind(relative).value == kind


def test_a_long_path_keeps_a_unique_name_within_the_limit() -> None:
    one, two = "a" * 200 + "/x.pt", "b" * 200 + "/x.pt"
    assert len(artifact_name(one)) <= 128
    assert artifact_name(one) != artifact_name(two)
    assert artifact_name(one).endswith("-x.pt")


# -- settings and the whole thing ----------------------------------------------------------------


def test_an_interval_that_is_not_positive_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACELET_ARTIFACT_WATCH_INTERVAL", "0")
    with pytest.raises(tracelet.ConfigError) as caught:
        tracelet.start_logging(
            exp_name="bad", backend="local", config={"automagic_artifacts": True}
        )
    (problem,) = caught.value.problems
    assert problem.startswith("artifact_watch_interval")
    assert "env var TRACELET_ARTIFACT_WATCH_INTERVAL" in problem


SCRIPT = textwrap.dedent(
    """
    import time
    from pathlib import Path

    import tracelet

    Path("pretrained.pt").write_bytes(b"not ours")
    run = tracelet.start_logging(exp_name="capture", backend="mlflow")
    Path("lightning_logs/version_0/checkpoints").mkdir(parents=True)
    for epoch in range(3):
        run.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        Path("lightning_logs/version_0/checkpoints/last.ckpt").write_bytes(b"epoch %d" % epoch)
        deadline = time.monotonic() + 60  # until the thread's scans have captured this epoch's
        while len(run.list_artifacts()) <= epoch:
            assert time.monotonic() < deadline, "not captured in 60 s"
            time.sleep(0.05)
    Path("final.pt").write_bytes(b"final weights")  # only the last scan, at stop, sees it
    run.stop()
    print(run.id)
    """
)


def test_a_script_s_checkpoints_reach_mlflow_version_by_version(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {
        **MLFLOW_ENV,
        "MLFLOW_TRACKING_URI": store,
        "TRACELET_AUTOMAGIC_ARTIFACTS": "true",
        "TRACELET_ARTIFACT_WATCH_INTERVAL": "0.1",
    }
    result = run_process([sys.executable, "train.py"], tmp_path, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    run_id = find_run(store, result.stdout.strip()).info.run_id
    files = artifact_files(store, run_id)
    name = "lightning_logs-version_0-checkpoints-last.ckpt"
    stored = {path: data for path, data in files.items() if not path.endswith("manifest.json")}
    assert stored == {
        f"checkpoint/{name}/v0/last.ckpt": b"epoch 0",
        f"checkpoint/{name}/v1/last.ckpt": b"epoch 1",
        f"checkpoint/{name}/v2/last.ckpt": b"epoch 2",
        "model/final.pt/v0/final.pt": b"final weights",
    }


def test_a_folder_too_big_to_scan_is_said_once_with_what_to_do(
    run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crowded = tmp_path / "data"
    crowded.mkdir()
    for i in range(MAX_ENTRIES + 1):
        (crowded / f"{i}.png").touch()
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        watcher = watcher_on(run, str(crowded))
        watcher.poll()
        watcher.stop()
    (record,) = caplog.records
    assert record.getMessage() == (
        f"tracelet: automatic artifact capture looks at the first 20,000 entries of {crowded} "
        "only: files beyond them are not captured; set artifact_watch_dirs to the folders your "
        "checkpoints are written to (artifact_watch_dirs: [checkpoints])"
    )
