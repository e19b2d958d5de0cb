"""Precedence, per key: arguments > env vars > tracelet.yaml > defaults, and where each value
came from; one test runs ``tracelet.start_logging`` in a real subprocess.

The ``vault`` test backend and the helpers are in ``settings_vault.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from settings_vault import (
    by_key,
    write_yaml,
)
from support.processes import run

from tracelet.backends.local import list_runs, read_run
from tracelet.plugins import PluginHost
from tracelet.session import start_run
from tracelet.settings import resolve_settings

# -- precedence --------------------------------------------------------------------------------


def test_precedence_is_per_key_across_all_four_layers(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        backend: memory
        project: file-project
        experiment_name: file-experiment
        batch_size: 10
        nan_policy: drop
        local:
          path: file-runs
          fsync: false
        """,
    )
    monkeypatch.setenv("TRACELET_BACKEND", "local")
    monkeypatch.setenv("TRACELET_BATCH_SIZE", "20")
    monkeypatch.setenv("TRACELET_NAN_POLICY", "error")
    monkeypatch.setenv("TRACELET_LOCAL__FSYNC", "true")

    resolved = resolve_settings(vault_host, project="arg-project", config={"batch_size": 30})
    s = resolved.model

    assert s.project == "arg-project"  # argument > file
    assert resolved.source_of(["project"]) == "argument project='arg-project'"
    assert s.backend == ["local"]  # env > file
    assert resolved.source_of(["backend"]) == "env var TRACELET_BACKEND"
    assert s.experiment_name == "file-experiment"  # file > default
    assert resolved.source_of(["experiment_name"]) == f"{yaml_file}:3"
    assert s.flush_interval == 1.0  # nothing set it
    assert resolved.source_of(["flush_interval"]) == "default"
    assert s.batch_size == 30  # set in all three layers: the argument wins
    assert resolved.source_of(["batch_size"]) == "argument config['batch_size']"
    assert s.nan_policy == "error"  # env > file
    # the local section is merged key by key: path from the file, fsync from env
    local = resolved.section("local")
    assert local is not None
    assert local.model_dump() == {"path": "file-runs", "fsync": True}
    assert resolved.source_of(["local", "path"]) == f"{yaml_file}:7"
    assert resolved.source_of(["local", "fsync"]) == "env var TRACELET_LOCAL__FSYNC"
    assert resolved.config_file == str(yaml_file)


def test_arguments_merge_into_a_section_key_by_key(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        vault:
          uri: http://file
          retries: 5
          tags: [from-file]
        """,
    )
    monkeypatch.setenv("TRACELET_VAULT__RETRIES", "7")
    resolved = resolve_settings(
        vault_host, backend=["vault", "local"], config={"vault": {"tags": ["from-arg"]}}
    )
    rows = by_key(resolved)
    assert rows["vault.uri"] == ("http://file", f"{yaml_file}:2")
    assert rows["vault.retries"] == (7, "env var TRACELET_VAULT__RETRIES")
    assert rows["vault.tags"] == (["from-arg"], "argument config['vault']['tags']")
    assert rows["vault.experiment_name"] == (None, "default")


def test_exp_name_project_and_backend_arguments_beat_every_other_layer(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "experiment_name: f\nproject: f\nbackend: vault\n")
    monkeypatch.setenv("TRACELET_EXPERIMENT_NAME", "e")
    monkeypatch.setenv("TRACELET_PROJECT", "e")
    monkeypatch.setenv("TRACELET_BACKEND", "vault")
    resolved = resolve_settings(
        vault_host,
        exp_name="a",
        project="a",
        backend="memory",
        config={"experiment_name": "c", "project": "c", "backend": "vault"},
    )
    s = resolved.model
    # the named arguments win over the same keys in config, which win over env and file
    assert (s.experiment_name, s.project, s.backend) == ("a", "a", ["memory"])
    assert resolved.source_of(["experiment_name"]) == "argument exp_name='a'"


def test_start_run_uses_the_resolved_settings(
    vault_host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(tmp_path / "tracelet.yaml", "project: from-file\nlocal:\n  path: file-runs\n")
    monkeypatch.setenv("TRACELET_EXPERIMENT_NAME", "from-env")
    run = start_run(backend="local", config={"local": {"fsync": True}}, host=vault_host)
    run.log_metric("loss", 0.5, step=1)
    assert run.stop(timeout=10)
    (stored,) = list_runs(tmp_path / "file-runs")
    assert (stored.name, stored.project) == ("from-env", "from-file")
    assert [m.value for m in stored.metrics["loss"]] == [0.5]


# -- end to end ------------------------------------------------------------------------------------

SCRIPT = """
import json, tracelet
run = tracelet.start_logging(project="arg-project", config={"batch_size": 30})
run.log_metric("loss", 0.25, step=3)
rows = {key: [value, source] for key, value, source in run.settings.rows()}
print(json.dumps({"rows": rows, "locations": run.locations()}, default=str))
tracelet.stop_logging()
"""


def test_precedence_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    yaml_file = write_yaml(
        tmp_path / "tracelet.yaml",
        """
        backend: memory
        project: file-project
        experiment_name: file-experiment
        batch_size: 10
        local:
          path: file-runs
        """,
    )
    env = {
        "TRACELET_BACKEND": "local",
        "TRACELET_BATCH_SIZE": "20",
        "TRACELET_LOCAL__FSYNC": "true",
        "TRACELET_PLUGINS": "collectors",  # only the built-in backends
    }
    result = run([sys.executable, "-c", SCRIPT], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    rows = document["rows"]
    assert rows["project"] == ["arg-project", "argument project='arg-project'"]
    assert rows["backend"] == [["local"], "env var TRACELET_BACKEND"]
    assert rows["experiment_name"] == ["file-experiment", f"{yaml_file}:3"]
    assert rows["batch_size"] == [30, "argument config['batch_size']"]
    assert rows["flush_interval"] == [1.0, "default"]
    assert rows["local.path"] == ["file-runs", f"{yaml_file}:6"]
    assert rows["local.fsync"] == [True, "env var TRACELET_LOCAL__FSYNC"]
    # and the run went where the merged settings said
    run_dir = Path(document["locations"]["local"])
    assert run_dir.parent == (tmp_path / "file-runs" / "arg-project").resolve()
    stored = read_run(run_dir)
    assert (stored.name, stored.status) == ("file-experiment", "finished")
    assert [m.value for m in stored.metrics["loss"]] == [0.25]
