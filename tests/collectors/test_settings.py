"""Each collector setting of the configuration page, set through a call argument, an env var
and ``tracelet.yaml``, changes what is collected (and the run says where the value came from)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.collector_runs import ALL_OFF
from support.nvml_standin import StandInNvml

import tracelet
from collectors.sampling import PROGRESS_SECONDS
from tracelet.backends import memory
from tracelet.backends.memory import MemoryStore

pytestmark = pytest.mark.usefixtures("no_leftover_threads")


@dataclass(frozen=True)
class Case:
    """A setting, a value that collects and one that does not, the other settings (given as
    arguments; the setting itself is left out of them) and how to tell from the stored run
    whether it collected."""

    key: str
    collects: Any
    does_not: Any
    others: dict[str, Any]
    collected: Callable[[MemoryStore], bool]
    #: Periodic collectors: the run with the value that does not collect lasts this long
    #: (an absence takes time to show; a loaded machine only makes it surer). The run with
    #: the value that collects lasts until it has (a deadline for progress, not a speed claim).
    seconds: float = 0.0


def _case_list(repo: str, not_a_repo: str) -> list[Case]:
    git_on = {**ALL_OFF, "track_git_info": True, "git_repo_path": repo}
    return [
        Case(
            "collect_system_metrics",
            True,
            False,
            {**ALL_OFF, "system_metrics_interval": 0.05},
            lambda s: "system/cpu_percent" in s.metrics,
            seconds=0.3,
        ),
        Case(
            "system_metrics_interval",
            0.05,
            30,
            {**ALL_OFF, "collect_system_metrics": True},
            lambda s: len(s.values("system/cpu_percent")) >= 3,
            seconds=0.3,
        ),
        Case(
            "collect_gpu_metrics",
            True,
            False,
            {**ALL_OFF, "system_metrics_interval": 0.05},
            lambda s: "system/gpu.0.utilization_percent" in s.metrics,
            seconds=0.3,
        ),
        Case(
            "track_git_info",
            True,
            False,
            git_on,
            lambda s: "git.commit" in s.tags,
        ),
        Case(
            "git_repo_path",
            repo,
            not_a_repo,
            git_on,
            lambda s: "git.commit" in s.tags,
        ),
        Case(
            "include_uncommitted_changes",
            True,
            False,
            git_on,
            lambda s: "git/uncommitted.diff" in s.artifacts,
        ),
        Case(
            "track_environment",
            True,
            False,
            ALL_OFF,
            lambda s: "env/hostname" in s.params,
        ),
    ]


KEYS = [c.key for c in _case_list("", "")]
SOURCES = ("argument", "env var", "tracelet.yaml")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("key", KEYS)
def test_the_setting_changes_what_is_collected(
    key: str,
    source: str,
    repo: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", StandInNvml())  # no GPU here: see test_gpu
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    case = next(c for c in _case_list(str(repo.working_dir), str(elsewhere)) if c.key == key)
    others = {k: v for k, v in case.others.items() if k != key}
    collected = {}
    for value in (case.collects, case.does_not):
        config = dict(others)
        if source == "argument":
            config[key] = value
            expected_source = f"argument config[{key!r}]"
        elif source == "env var":
            monkeypatch.setenv(f"TRACELET_{key.upper()}", str(value))
            expected_source = f"env var TRACELET_{key.upper()}"
        else:
            (tmp_path / "tracelet.yaml").write_text(f"{key}: {json.dumps(value)}\n")
            expected_source = f"{tmp_path / 'tracelet.yaml'}:1"
        run = tracelet.start_logging(exp_name=key, backend="memory", config=config)
        assert run.settings is not None
        assert run.settings.source_of([key]) == expected_source
        assert getattr(run.settings.model, key) == value
        if case.seconds and value == case.collects:
            deadline = time.monotonic() + PROGRESS_SECONDS
            while not case.collected(memory.stored(run)) and time.monotonic() < deadline:
                assert run.flush(timeout=PROGRESS_SECONDS)
                time.sleep(0.01)
        else:
            time.sleep(case.seconds)
        assert run.stop()
        collected[value] = case.collected(memory.stored(run))
    assert collected == {case.collects: True, case.does_not: False}
