"""The ``tracelet`` console script, run for real in subprocesses.

Tests that need a third-party plugin install the fixture distribution
``tests/fixtures/tracelet-example-backend`` into a temporary folder (``pip install --target``)
and put it on the subprocess's ``PYTHONPATH``; its entry points are then found like those of any
installed distribution.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.processes import checked, run

TRACELET = Path(sys.executable).parent / "tracelet"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tracelet-example-backend"
REDACTED = "**********"


def tracelet(
    *args: str, cwd: Path, env: dict[str, str] | None = None, site: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script in ``cwd`` with only the given Tracelet env vars."""
    extra = dict(env or {})
    if site is not None:
        extra["PYTHONPATH"] = str(site)
    return run([TRACELET, *args], cwd, env=extra, collectors_off=False)


def settings_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """``tracelet config --json`` output as key → {"value", "source"}."""
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    return {row["key"]: row for row in document["settings"]}


def table(stdout: str) -> list[list[str]]:
    """Rows of a table printed with columns separated by two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


def fixture_version() -> str:
    # tomllib is not in Python 3.10's standard library: find the one line by pattern.
    text = (FIXTURE / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1)


# -- --version, usage --------------------------------------------------------------------------


def test_version_prints_the_installed_distribution_version(tmp_path: Path) -> None:
    result = tracelet("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"tracelet-core {importlib.metadata.version('tracelet-core')}\n"
    assert result.stderr == ""


def test_version_and_help_do_not_import_pydantic_or_pluggy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from tracelet.cli import main\n"
        "codes = [main(['--version']), main(['--help'])]\n"
        "heavy = sorted(m for m in ('pydantic', 'pluggy', 'yaml') if m in sys.modules)\n"
        "print(codes, heavy, file=sys.stderr)\n"
    )
    result = checked(run([sys.executable, "-c", code], tmp_path))
    assert result.stderr.strip() == "[0, 0] []"


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = tracelet("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "plugins" in result.stdout
    assert "config" in result.stdout


@pytest.mark.parametrize(
    "args",
    [(), ("frobnicate",), ("plugins", "--bogus"), ("config", "--backend"), ("--jsn",)],
    ids=["no-command", "unknown-command", "unknown-option", "missing-value", "typo"],
)
def test_usage_errors_exit_2_on_stderr(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = tracelet(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: tracelet" in result.stderr


# -- tracelet plugins --------------------------------------------------------------------------


def test_plugins_lists_the_builtin_plugin(tmp_path: Path) -> None:
    result = tracelet("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert rows[0] == ["NAME", "PROVIDES", "DISTRIBUTION", "VERSION", "STATUS"]
    builtin = next(row for row in rows if row[0] == "builtin")
    assert builtin == [
        "builtin",
        "backends: local, memory",
        "tracelet-core",
        importlib.metadata.version("tracelet-core"),
        "loaded",
    ]


def test_plugins_json_shows_an_installed_plugin_and_a_broken_one(
    tmp_path: Path, example_backend_site: Path
) -> None:
    result = tracelet("plugins", "--json", cwd=tmp_path, site=example_backend_site)
    assert result.returncode == 0, result.stderr
    plugins = {row["name"]: row for row in json.loads(result.stdout)}
    assert plugins["builtin"]["backends"] == ["local", "memory"]
    assert plugins["example"] == {
        "name": "example",
        "distribution": "tracelet-example-backend",
        "version": fixture_version(),
        "status": "loaded",
        "error": None,
        "backends": ["example"],
        "collectors": [],
    }
    broken = plugins["broken"]
    assert broken["status"] == "error"
    assert broken["error"].startswith(
        "ModuleNotFoundError: No module named 'tracelet_example_sdk_not_installed'"
    )
    assert broken["backends"] == []
    # The table is the report: no duplicate warning about the broken plugin on stderr.
    assert result.stderr == ""


def test_plugins_table_shows_the_load_error(tmp_path: Path, example_backend_site: Path) -> None:
    result = tracelet("plugins", cwd=tmp_path, site=example_backend_site)
    assert result.returncode == 0, result.stderr
    rows = {row[0]: row for row in table(result.stdout)}
    assert rows["example"][1:4] == [
        "backends: example",
        "tracelet-example-backend",
        fixture_version(),
    ]
    assert rows["broken"][1] == "-"
    assert rows["broken"][4].startswith("error: ModuleNotFoundError: No module named")


def test_plugins_shows_disabled_plugins(tmp_path: Path, example_backend_site: Path) -> None:
    result = tracelet(
        "plugins",
        "--json",
        cwd=tmp_path,
        site=example_backend_site,
        env={"TRACELET_PLUGINS": "example"},
    )
    statuses = {row["name"]: row["status"] for row in json.loads(result.stdout)}
    assert statuses["example"] == "loaded"
    assert statuses["broken"] == "disabled"
    assert statuses["builtin"] == "loaded"


def test_trace_hooks_shows_hook_calls_on_stderr(tmp_path: Path) -> None:
    result = tracelet("plugins", cwd=tmp_path, env={"TRACELET_TRACE_HOOKS": "1"})
    assert result.returncode == 0
    assert "hook tracelet_register_backends called on plugin 'builtin'" in result.stderr
    assert "hook tracelet_register_backends" not in result.stdout


# -- tracelet config ---------------------------------------------------------------------------


def test_config_names_the_source_of_every_value(tmp_path: Path) -> None:
    config = tmp_path / "tracelet.yaml"
    config.write_text("project: from-file\nnan_policy: drop\nlocal:\n  fsync: true\n")
    env = {"TRACELET_PROJECT": "from-env", "TRACELET_LOCAL__PATH": "runs-from-env"}

    rows = settings_of(tracelet("config", "--json", "--backend", "memory", cwd=tmp_path, env=env))
    assert rows["backend"]["value"] == ["memory"]
    assert rows["backend"]["source"] == "argument backend=['memory']"
    assert (rows["project"]["value"], rows["project"]["source"]) == (
        "from-env",
        "env var TRACELET_PROJECT",
    )
    assert (rows["nan_policy"]["value"], rows["nan_policy"]["source"]) == ("drop", f"{config}:2")
    assert (rows["local.fsync"]["value"], rows["local.fsync"]["source"]) == (True, f"{config}:4")
    assert rows["local.path"]["source"] == "env var TRACELET_LOCAL__PATH"
    assert (rows["batch_size"]["value"], rows["batch_size"]["source"]) == (1000, "default")

    text = tracelet("config", cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"config file: {config} (from the working directory)"
    shown = {row[0]: row for row in table("\n".join(lines[1:]))}
    assert shown["KEY"] == ["KEY", "VALUE", "SOURCE"]
    assert shown["project"] == ["project", "from-env", "env var TRACELET_PROJECT"]
    assert shown["backend"] == ["backend", '["local"]', "default"]
    assert shown["nan_policy"] == ["nan_policy", "drop", f"{config}:2"]
    assert shown["experiment_name"] == ["experiment_name", "null", "default"]


def test_config_shows_the_selected_backends_and_all_with_all(tmp_path: Path) -> None:
    rows = settings_of(tracelet("config", "--json", "--backend", "mlflow", cwd=tmp_path))
    assert "mlflow.tracking_uri" in rows
    assert "local.path" in rows  # the journal's folder
    assert "collect_system_metrics" in rows
    assert not [key for key in rows if key.startswith(("wandb.", "clearml.", "aim."))]
    everything = settings_of(tracelet("config", "--json", "--all", cwd=tmp_path))
    assert {"wandb.project", "clearml.offline", "aim.repo_path"} <= set(everything)
    text = tracelet("config", cwd=tmp_path).stdout
    assert "wandb.project" not in text
    assert "tracelet config --all" in text


def test_config_json_names_the_file_used(tmp_path: Path) -> None:
    other = tmp_path / "conf" / "other.yaml"
    other.parent.mkdir()
    other.write_text("batch_size: 7\n")
    (tmp_path / "tracelet.yaml").write_text("batch_size: 9\n")  # ignored: TRACELET_CONFIG wins
    env = {"TRACELET_CONFIG": str(other)}

    result = tracelet("config", "--json", cwd=tmp_path, env=env)
    assert json.loads(result.stdout)["config_file"] == str(other)
    rows = settings_of(result)
    assert (rows["batch_size"]["value"], rows["batch_size"]["source"]) == (7, f"{other}:1")

    text = tracelet("config", cwd=tmp_path, env=env)
    assert text.stdout.splitlines()[0] == f"config file: {other} (from env var TRACELET_CONFIG)"


def test_config_without_a_file(tmp_path: Path) -> None:
    result = tracelet("config", "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["config_file"] is None
    assert all(row["source"] == "default" for row in settings_of(result).values())
    text = tracelet("config", cwd=tmp_path)
    assert text.stdout.startswith("config file: none (no ./tracelet.yaml and TRACELET_CONFIG")


def test_config_redacts_secrets_and_shows_plugin_sections(
    tmp_path: Path, example_backend_site: Path
) -> None:
    (tmp_path / "tracelet.yaml").write_text("backend: example\nexample:\n  path: from-file\n")
    env = {"TRACELET_EXAMPLE__TOKEN": "s3cr3t-token", "EXAMPLE_RECORDS_PATH": "native.jsonl"}

    result = tracelet("config", "--json", cwd=tmp_path, site=example_backend_site, env=env)
    rows = settings_of(result)
    assert (rows["example.token"]["value"], rows["example.token"]["source"]) == (
        REDACTED,
        "env var TRACELET_EXAMPLE__TOKEN",
    )
    # The backend's own env var ranks above the file.
    assert (rows["example.path"]["value"], rows["example.path"]["source"]) == (
        "native.jsonl",
        "env var EXAMPLE_RECORDS_PATH",
    )
    assert rows["backend"]["source"] == f"{tmp_path / 'tracelet.yaml'}:1"

    text = tracelet("config", cwd=tmp_path, site=example_backend_site, env=env)
    assert text.returncode == 0, text.stderr
    shown = {row[0]: row for row in table(text.stdout)}
    assert shown["example.token"] == ["example.token", REDACTED, "env var TRACELET_EXAMPLE__TOKEN"]
    for output in (result.stdout, result.stderr, text.stdout, text.stderr):
        assert "s3cr3t-token" not in output


def test_config_warns_about_a_secret_in_the_file_without_showing_it(
    tmp_path: Path, example_backend_site: Path
) -> None:
    (tmp_path / "tracelet.yaml").write_text("example:\n  token: file-s3cr3t\n")
    result = tracelet("config", "--backend", "example", cwd=tmp_path, site=example_backend_site)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "example.token" in line)
    assert "config file" in warning
    assert "TRACELET_EXAMPLE__TOKEN" in warning  # the env var to use instead
    assert "file-s3cr3t" not in result.stdout + result.stderr
    assert REDACTED in result.stdout


@pytest.mark.parametrize(
    ("yaml_text", "env", "expected"),
    [
        ("projct: x\n", {}, ["projct: unknown key", "did you mean 'project'?", "tracelet.yaml:1"]),
        ("", {"TRACELET_BATCH_SIZE": "lots"}, ["batch_size", "env var TRACELET_BATCH_SIZE"]),
        ("backend: [local\n", {}, ["invalid YAML", "tracelet.yaml:"]),
        ("", {"TRACELET_CONFIG": "missing.yaml"}, ["TRACELET_CONFIG", "missing.yaml"]),
    ],
    ids=["unknown-key", "bad-env-value", "bad-yaml", "missing-config-file"],
)
def test_config_errors_exit_1_with_the_message_on_stderr(
    tmp_path: Path, yaml_text: str, env: dict[str, str], expected: list[str]
) -> None:
    if yaml_text:
        (tmp_path / "tracelet.yaml").write_text(yaml_text)
    result = tracelet("config", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    for fragment in expected:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_config_selecting_a_broken_plugin_names_its_load_error(
    tmp_path: Path, example_backend_site: Path
) -> None:
    result = tracelet("config", "--backend", "broken", cwd=tmp_path, site=example_backend_site)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "'broken' is installed (tracelet-example-backend) but its plugin failed to load" in (
        result.stderr
    )
    assert "tracelet_example_sdk_not_installed" in result.stderr
    # The same installation still resolves a run on the built-in backend.
    assert (
        tracelet("config", "--backend", "local", cwd=tmp_path, site=example_backend_site).returncode
        == 0
    )


def test_config_takes_several_backends(tmp_path: Path) -> None:
    repeated = settings_of(
        tracelet("config", "--json", "--backend", "memory", "--backend", "local", cwd=tmp_path)
    )
    assert repeated["backend"]["value"] == ["memory", "local"]
    commas = settings_of(tracelet("config", "--json", "--backend", "local, memory", cwd=tmp_path))
    assert commas["backend"]["value"] == ["local", "memory"]


def test_config_unknown_backend(tmp_path: Path) -> None:
    result = tracelet("config", "--backend", "lokal", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown backend 'lokal'" in result.stderr
    assert "did you mean 'local'?" in result.stderr.lower()


# -- tracelet runs / show -------------------------------------------------------------------------


def _log_a_run(cwd: Path) -> Path:
    """A finished local run made by a real subprocess; returns its folder."""
    script = (
        "import tracelet\n"
        "run = tracelet.start_logging(exp_name='shown', project='cli')\n"
        "run.log_params({'lr': 0.1, 'opt': {'name': 'adam'}})\n"
        "run.set_tag('team', 'vision')\n"
        "for s in range(5):\n"
        "    run.log_metric('loss', 1.0 / (s + 1), step=s)\n"
        "run.log_text('note', 'hello', step=0)\n"
        "run.stop()\n"
        "print(run.locations()['local'])\n"
    )
    done = checked(run([sys.executable, "-c", script], cwd))
    return Path(done.stdout.strip())


def test_show_summarises_a_local_run(tmp_path: Path) -> None:
    folder = _log_a_run(tmp_path)
    result = tracelet("show", str(folder), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["name"], summary["project"], summary["status"]) == ("shown", "cli", "finished")
    assert summary["params"] == {"lr": 0.1, "opt/name": "adam"}
    assert summary["tags"] == {"team": "vision"}
    loss = summary["metrics"]["loss"]
    assert (loss["points"], loss["first_step"], loss["last_step"]) == (5, 0, 4)
    assert (loss["last"], loss["min"], loss["max"]) == (0.2, 0.2, 1.0)
    assert summary["media"] == {"text": 1}

    text = tracelet("show", str(folder), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "status:   finished" in text.stdout
    assert ["loss", "5", "0..4", "0.2", "0.2", "1"] in table(text.stdout)


def test_show_of_a_folder_that_is_not_a_run_is_a_usage_error(tmp_path: Path) -> None:
    result = tracelet("show", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a Tracelet run folder" in result.stderr


def test_runs_lists_the_local_runs(tmp_path: Path) -> None:
    folder = _log_a_run(tmp_path)
    result = tracelet("runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert rows[0] == ["PROJECT", "GROUP", "NAME", "STATUS", "STARTED", "BEHIND", "FOLDER"]
    assert rows[1][:4] == ["cli", "-", "shown", "finished"]
    assert rows[1][-1].endswith(folder.name)
    assert tracelet("runs", "--project", "other", cwd=tmp_path).stdout == ""


def test_runs_shows_and_filters_groups(tmp_path: Path) -> None:
    script = (
        "import tracelet\n"
        "for name, group in [('a', 'lr-sweep'), ('b', 'lr-sweep'), ('c', None)]:\n"
        "    tracelet.start_logging(exp_name=name, project='cli', group=group).stop()\n"
    )
    checked(run([sys.executable, "-c", script], tmp_path))
    rows = table(tracelet("runs", cwd=tmp_path).stdout)
    assert [row[1:3] for row in rows[1:]] == [["lr-sweep", "a"], ["lr-sweep", "b"], ["-", "c"]]
    rows = table(tracelet("runs", "--group", "lr-sweep", cwd=tmp_path).stdout)
    assert [row[2] for row in rows[1:]] == ["a", "b"]
    shown = json.loads(tracelet("show", "latest", "--json", cwd=tmp_path).stdout)
    assert (shown["name"], shown["group"]) == ("c", None)
    text = tracelet("show", "a", cwd=tmp_path).stdout
    assert "group:    lr-sweep" in text


def test_runs_reads_the_configured_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tracelet
    from tracelet.cli import main

    monkeypatch.setenv("TRACELET_LOCAL__PATH", str(tmp_path / "elsewhere"))
    run = tracelet.start_logging("where", "cli", "local")
    run.log_metric("x", 1.0)
    assert run.stop()
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert str(run.journal_path) in out
    assert str(tmp_path / "elsewhere") in str(run.journal_path)
