"""Distributed ranks: only rank 0 logs, unless ``log_all_ranks`` is set (env var or file).

``RANK`` (or, when unset, ``LOCAL_RANK``) is set for real with ``monkeypatch.setenv``; the run
folder of the ``local`` backend shows whether a run really started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tracelet
from tracelet.backends.local import list_runs
from tracelet.errors import ConfigError
from tracelet.plugins import PluginHost
from tracelet.session import get_active_run, start_run


def runs_in(tmp_path: Path) -> int:
    return len(list_runs(tmp_path / "tracelet-runs"))


@pytest.mark.parametrize(("var", "value"), [("RANK", "1"), ("LOCAL_RANK", "3")])
def test_a_non_zero_rank_gets_a_no_op_run(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    run = start_run(exp_name="worker", project="dist", backend="local", host=host)
    assert run.is_noop
    assert get_active_run() is run
    # every call is accepted and does nothing
    run.log_metric("loss", 0.1, step=1)
    run.log_metrics({"acc": 0.9}, step=1)
    run.log_params({"lr": 0.01})
    assert run.flush(timeout=1)
    assert run.stop(timeout=1)
    assert not (tmp_path / "tracelet-runs").exists()  # no run folder at all


def test_rank_zero_logs(host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")  # RANK wins: this is global rank 0
    run = start_run(backend="local", host=host)
    assert not run.is_noop
    run.stop(timeout=10)
    assert runs_in(tmp_path) == 1


def test_log_all_ranks_from_env_makes_every_rank_log(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("TRACELET_LOG_ALL_RANKS", "true")
    run = start_run(backend="local", host=host)
    assert not run.is_noop
    run.log_metric("loss", 0.5, step=0)
    assert run.stop(timeout=10)
    (stored,) = list_runs(tmp_path / "tracelet-runs")
    assert [m.value for m in stored.metrics["loss"]] == [0.5]


def test_log_all_ranks_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tracelet.yaml").write_text("log_all_ranks: true\n", encoding="utf-8")
    monkeypatch.setenv("TRACELET_PLUGINS", "collectors")
    monkeypatch.setenv("RANK", "1")
    run = tracelet.start_logging(backend="local")  # the public function
    assert not run.is_noop
    tracelet.stop_logging(timeout=10)
    assert runs_in(tmp_path) == 1


def test_a_non_zero_rank_still_validates_the_configuration(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ConfigError, match="unknown backend 'lokal'"):
        start_run(backend="lokal", host=host)
    assert get_active_run() is None
