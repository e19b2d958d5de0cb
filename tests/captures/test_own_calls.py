"""Captures never capture Tracelet: a backend that itself writes TensorBoard event files, through
``SummaryWriter`` or Lightning's ``TensorBoardLogger``, with the TensorBoard capture on, stores
exactly what was logged, and the run gets nothing back from it. The user's own writer is still
captured in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from support.tensorboard_reading import read_events

from tracelet.backend import BaseBackend, RunInfo
from tracelet.backends.local import read_run
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import Batch, Capability, RunStatus
from tracelet.session import start_run

POINTS = 10_000


class EventFileBackend(BaseBackend):
    """Writes each metric point with ``add_scalar`` (or a TensorBoardLogger's ``log_metrics``),
    on the delivery thread; writes a text at ``start``, on the caller's thread."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"metrics"})

    def __init__(self, folder: Path, via: str) -> None:
        self.folder = folder
        self.via = via
        self.writer: Any = None
        self.logger: Any = None

    def start(self, run: RunInfo) -> None:
        if self.via == "lightning":
            from lightning.pytorch.loggers import TensorBoardLogger

            self.logger = TensorBoardLogger(str(self.folder), name="", version="")
            self.writer = self.logger.experiment
        else:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.folder))
        self.writer.add_text("run_name", run.name, 0)

    def write(self, batch: Batch) -> None:
        for name, value, step, _ts in batch.metrics:
            if self.logger is not None:
                self.logger.log_metrics({name: value}, step=step)
            else:
                self.writer.add_scalar(name, value, step)

    def close(self, status: RunStatus) -> None:
        self.writer.close()


def host_with(folder: Path, via: str) -> PluginHost:
    """The installed plugins (the TensorBoard capture among them) and the event-file backend."""

    class EventFilePlugin:
        @hookimpl
        def tracelet_register_backends(self, register: RegisterBackend) -> None:
            register("eventfile", lambda settings: EventFileBackend(folder, via))

    host = PluginHost()
    assert host.register(EventFilePlugin(), name="eventfile").status == "loaded"
    return host


@pytest.mark.parametrize("via", ["summary_writer", "lightning"])
def test_a_backend_writing_event_files_is_not_captured(tmp_path: Path, via: str) -> None:
    from torch.utils.tensorboard import SummaryWriter

    backend_dir, user_dir = tmp_path / "backend", tmp_path / "user"
    run = start_run(
        "own-calls",
        "captures",
        ["local", "eventfile"],
        {"capture_tensorboard": True, "flush_interval": 0.05},
        host=host_with(backend_dir, via),
    )
    user_writer = SummaryWriter(str(user_dir))  # the user's own writer: captured
    for step in range(5):
        user_writer.add_scalar("user/x", float(step), step)
    for step in range(POINTS):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    user_writer.close()
    assert run.stop(timeout=120), run.stats()

    assert run.journal_path is not None
    stored = read_run(run.journal_path)
    assert sorted(stored.metrics) == ["loss", "user/x"], "nothing came back from the backend"
    assert len(stored.metric_history("loss")) == POINTS
    assert [m.step for m in stored.metric_history("user/x")] == [0, 1, 2, 3, 4]
    assert not stored.media, "the backend's add_text at start was captured"
    events = read_events(backend_dir)
    assert len(events.scalars["loss"]) == POINTS
    assert [step for step, _ in events.scalars["user/x"]] == [0, 1, 2, 3, 4]
    assert run.stats()["eventfile"].delivered == POINTS + 5
