"""Config keys and env vars of earlier Tracelet releases: read as today's keys, ignored or
accepted, never fatal, each said once with the old key, today's key and the source.

Written from the earlier releases' documented configuration (``track_system``, ``metrics_interval``,
``TRACELET_TRACK_*``, ``TRACELET_BACKEND_URL``, ``TRACELET_API_KEY``,
``TRACELET_ENABLE_AUTOMAGIC``) and from docs/migrating.md. Every key is given from each of the
three sources (argument ``config``, env var, ``tracelet.yaml``) with the real layers of
:func:`resolve_settings`; runs started from them are read back from the local run folder.
"""

from __future__ import annotations

import logging
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
from support.processes import COLLECTORS_OFF, run

import tracelet
from tracelet import legacy
from tracelet.backends.local import read_run
from tracelet.errors import ConfigError
from tracelet.legacy import TraceletDeprecationWarning
from tracelet.plugins import PluginHost
from tracelet.settings import TraceletSettings, resolve_settings
from tracelet.settings.legacy import IGNORED, RENAMED

SOURCES = ("argument", "env", "file")


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing said yet (messages are said once per process), and with
    no collector switch in the env (the tests' default turns some off there, which would win
    over a file or sit beside an env var of the same key)."""
    monkeypatch.setattr(legacy, "_said", set())
    for name in COLLECTORS_OFF:
        monkeypatch.delenv(name, raising=False)


def _env_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def give(
    source: str, key: str, value: Any, monkeypatch: pytest.MonkeyPatch, *, also: str = ""
) -> tuple[dict[str, Any], str]:
    """Set ``key: value`` in one source (and ``also``, more YAML lines, in the file); return
    the ``config`` argument to pass and the source label Tracelet should name."""
    if source == "argument":
        return {key: value}, f"argument config['{key}']"
    if source == "env":
        var = f"TRACELET_{key.upper()}"
        monkeypatch.setenv(var, _env_text(value))
        return {}, f"env var {var}"
    text = f"project: from-file\n{key}: {_env_text(value)}\n{also}"
    path = Path("tracelet.yaml")
    path.write_text(text, encoding="utf-8")
    return {}, f"{path.resolve()}:2"


def deprecations(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, TraceletDeprecationWarning)]


RENAMED_CASES = [
    ("track_system", False),
    ("track_system_metrics", False),
    ("metrics_interval", 5.0),
    ("track_gpu", False),
    ("track_git", False),
    ("track_env", False),
    ("track_tensorboard", False),
    ("track_lightning", False),
    ("enable_automagic", True),
]


def test_the_cases_cover_every_renamed_key() -> None:
    assert {old for old, _ in RENAMED_CASES} == set(RENAMED)


# -- renamed keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("old", "value"), RENAMED_CASES)
def test_a_renamed_key_is_read_as_todays_key_from_each_source(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, source: str, old: str, value: Any
) -> None:
    new = RENAMED[old]
    config, label = give(source, old, value, monkeypatch)
    with pytest.warns(TraceletDeprecationWarning) as record:
        resolved = resolve_settings(host, config=config)

    assert getattr(resolved.model, new) == value
    assert resolved.source_of([new]) == label  # where it was written, under its old name
    (message,) = deprecations(record.list)
    assert message.startswith(f"'{old}' (from {label}) is the earlier name of '{new}'")
    assert "is read as it" in message
    fix = {
        "argument": f"pass '{new}' instead of '{old}'",
        "env": f"set TRACELET_{new.upper()} instead of TRACELET_{old.upper()}",
        "file": f"write '{new}' instead of '{old}' in the file",
    }[source]
    assert message.endswith(fix)
    assert record.list[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize("source", SOURCES)
def test_todays_key_in_the_same_source_wins_and_the_warning_says_so(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    if source == "argument":
        config, label = {"track_git": False, "track_git_info": True}, "argument config['track_git']"
        winner = "argument config['track_git_info']"
    elif source == "env":
        monkeypatch.setenv("TRACELET_TRACK_GIT", "false")
        monkeypatch.setenv("TRACELET_TRACK_GIT_INFO", "true")
        config, label, winner = {}, "env var TRACELET_TRACK_GIT", "env var TRACELET_TRACK_GIT_INFO"
    else:
        config, label = give("file", "track_git", False, monkeypatch, also="track_git_info: true\n")
        winner = label.replace(":2", ":3")

    with pytest.warns(TraceletDeprecationWarning) as record:
        resolved = resolve_settings(host, config=config)

    assert resolved.model.track_git_info is True
    assert resolved.source_of(["track_git_info"]) == winner
    (message,) = deprecations(record.list)
    assert message.startswith(
        f"'track_git' (from {label}) is the earlier name of 'track_git_info', which is also "
        f"set there ({winner}) and wins;"
    )


def test_across_sources_the_usual_precedence_applies(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old name in an env var is read as collect_system_metrics from the env layer, which
    # is above the file: it wins over today's key written in the file.
    Path("tracelet.yaml").write_text("collect_system_metrics: true\n", encoding="utf-8")
    monkeypatch.setenv("TRACELET_TRACK_SYSTEM", "false")
    with pytest.warns(TraceletDeprecationWarning):
        resolved = resolve_settings(host)
    assert resolved.model.collect_system_metrics is False
    assert resolved.source_of(["collect_system_metrics"]) == "env var TRACELET_TRACK_SYSTEM"
    # ... and an argument with today's name wins over both.
    resolved = resolve_settings(host, config={"collect_system_metrics": True})
    assert resolved.model.collect_system_metrics is True


@pytest.mark.parametrize("source", SOURCES)
def test_a_renamed_key_is_ignored_when_tracelet_collectors_is_not_loaded(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    bare = PluginHost(load_entrypoints=False)  # the built-in backends, no collectors
    config, label = give(source, "track_system", False, monkeypatch)
    with pytest.warns(TraceletDeprecationWarning) as record:
        resolved = resolve_settings(bare, config=config)
    assert not hasattr(resolved.model, "collect_system_metrics")
    (message,) = deprecations(record.list)
    assert message.startswith(
        f"'track_system' (from {label}) is the earlier name of 'collect_system_metrics', a key "
        "of Tracelet's collectors, which are not installed (or not loaded): ignored; "
        "pip install tracelet-collectors"
    )


def test_a_bad_value_under_an_old_name_is_reported_where_it_was_written(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELET_METRICS_INTERVAL", "often")
    with pytest.warns(TraceletDeprecationWarning), pytest.raises(ConfigError) as caught:
        resolve_settings(host)
    assert "system_metrics_interval" in str(caught.value)
    assert "(from env var TRACELET_METRICS_INTERVAL)" in str(caught.value)


@pytest.mark.parametrize("source", SOURCES)
def test_a_typo_is_still_an_error(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    config, label = give(source, "track_sytem", False, monkeypatch)
    with pytest.raises(ConfigError) as caught:
        resolve_settings(host, config=config)
    assert "track_sytem: unknown key" in str(caught.value)
    assert f"(from {label})" in str(caught.value)


def test_legacy_keys_inside_a_section_are_not_touched(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(host, config={"local": {"track_system": False}})
    assert "local.track_system: unknown key in section 'local'" in str(caught.value)


# -- keys that had no effect -----------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "case",
    [
        ("backend_url", "http://tracking:5000", "mlflow.tracking_uri (MLFLOW_TRACKING_URI)"),
        ("api_key", "sk-not-shown-0123", "WANDB_API_KEY, CLEARML_API_ACCESS_KEY"),
    ],
    ids=["backend_url", "api_key"],
)
def test_backend_url_and_api_key_are_accepted_ignored_and_say_what_to_use(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, source: str, case: tuple[str, str, str]
) -> None:
    old, value, advice = case
    config, label = give(source, old, value, monkeypatch)
    with pytest.warns(TraceletDeprecationWarning) as record:
        resolved = resolve_settings(host, backend="local", config=config)
    assert not hasattr(resolved.model, old)
    (message,) = deprecations(record.list)
    assert message.startswith(
        f"'{old}' (from {label}) had no effect in earlier Tracelet releases and is ignored: "
    )
    assert advice in message
    assert value not in message  # a key or a URL with a password is never shown
    remove = {
        "argument": f"remove '{old}' from the call",
        "env": f"unset TRACELET_{old.upper()}",
        "file": f"remove '{old}' from the file",
    }[source]
    assert message.endswith(remove)


@pytest.mark.parametrize("source", SOURCES)
def test_every_ignored_key_is_accepted_from_each_source(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    config: dict[str, Any] = {}
    if source == "argument":
        config = dict.fromkeys(IGNORED, True)
    elif source == "env":
        for old in IGNORED:
            monkeypatch.setenv(f"TRACELET_{old.upper()}", "true")
    else:
        Path("tracelet.yaml").write_text("".join(f"{old}: true\n" for old in IGNORED))
    with pytest.warns(TraceletDeprecationWarning) as record:
        resolve_settings(host, config=config)
    said = deprecations(record.list)
    assert len(said) == len(IGNORED)
    for old in IGNORED:
        assert any(m.startswith(f"'{old}' (from ") and "is ignored" in m for m in said), old


# -- typed-artifact switches --------------------------------------------------------------------


def test_the_typed_artifacts_switch_set_false_says_nothing(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        resolve_settings(host, config={"enable_artifacts": "no"})
    assert caplog.records == []


@pytest.mark.parametrize("source", SOURCES)
def test_automagic_artifacts_is_todays_key_with_the_collectors(
    source: str, host: PluginHost, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config, label = give(source, "automagic_artifacts", True, monkeypatch)
    with (
        caplog.at_level(logging.WARNING, logger="tracelet"),
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        resolved = resolve_settings(host, config=config)
    assert resolved.model.automagic_artifacts is True
    assert resolved.source_of(["automagic_artifacts"]) == label
    assert caplog.records == []
    assert deprecations(record) == []


@pytest.mark.parametrize("source", SOURCES)
def test_automagic_artifacts_without_the_collectors_says_what_to_install(
    source: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bare = PluginHost(load_entrypoints=False)  # the core alone: no collectors
    config, label = give(source, "automagic_artifacts", True, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        resolve_settings(bare, config=config)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"tracelet: automatic artifact capture ('automagic_artifacts' from {label}) comes with "
        "Tracelet's collectors, which are not installed (or not loaded): nothing is captured "
        "automatically; pip install tracelet-collectors, or log models and files as typed "
        "artifacts with create_artifact(...) and log_artifact(artifact) (docs/artifacts.md)"
    ]


def test_the_typed_artifacts_switch_is_accepted_silently(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracelet"):
        resolve_settings(host, config={"enable_artifacts": True})
    assert caplog.records == []  # typed artifacts are always available


# -- never fatal, said once, read back ---------------------------------------------------------


EARLIER_ENV = {
    "TRACELET_TRACK_SYSTEM": "false",
    "TRACELET_METRICS_INTERVAL": "30",
    "TRACELET_TRACK_GIT": "false",
    "TRACELET_TRACK_ENV": "true",
    "TRACELET_TRACK_TENSORBOARD": "true",
    "TRACELET_TRACK_LIGHTNING": "true",
    "TRACELET_BACKEND_URL": "http://mlflow:5000",
    "TRACELET_API_KEY": "secret",
    "TRACELET_ENABLE_AUTOMAGIC": "true",
}


def test_every_earlier_env_var_at_once_still_starts_runs_that_store_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in EARLIER_ENV.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first = tracelet.start_logging(exp_name="earlier-env", project="legacy", backend="local")
        first.log_metric("loss", 0.5, iteration=2)
        assert first.stop()
        second = tracelet.start_logging(exp_name="again", project="legacy", backend="local")
        assert second.stop()

    said = deprecations(record)
    assert len(said) == 9  # each said once, not again for the second run
    assert len(set(said)) == 9
    for stopped in (first, second):
        settings = stopped.settings
        assert settings is not None
        assert settings.model.collect_system_metrics is False  # type: ignore[attr-defined]
        assert settings.model.system_metrics_interval == 30  # type: ignore[attr-defined]
        assert settings.model.track_environment is True  # type: ignore[attr-defined]
        assert settings.model.automagic is True  # type: ignore[attr-defined]
    stored = read_run(first.links["local"].path)
    assert stored.status == "finished"
    assert [(p.step, p.value) for p in stored.metric_history("loss")] == [(2, 0.5)]
    assert "env/python_version" in stored.params  # track_env reached the collector
    assert not [n for n in stored.metrics if n.startswith("system/")]


@pytest.mark.parametrize("source", SOURCES)
def test_track_env_from_each_source_reaches_the_collector(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    config, _ = give(source, "track_env", False, monkeypatch)
    with pytest.warns(TraceletDeprecationWarning):
        off = tracelet.start_logging(exp_name="env-off", backend="local", config=config)
    off.log_param("lr", 0.1)
    assert off.stop()
    stored = read_run(off.links["local"].path)
    assert stored.params == {"lr": 0.1}  # no env/* params: the environment collector was off


# -- how the warning is shown ------------------------------------------------------------------


MODULE = """
import tracelet

def start():
    run = tracelet.start_logging(exp_name="shown", backend="memory")
    run.stop()
"""


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # Called from __main__: Python shows the DeprecationWarning itself, at the user's line.
        (
            "import tracelet\nrun = tracelet.start_logging(backend='memory')\nrun.stop()\n",
            "script.py:2: TraceletDeprecationWarning: 'track_git' (from env var TRACELET_TRACK",
        ),
        # Called from an imported module, where Python hides DeprecationWarning by default:
        # the same text goes to the `tracelet.legacy` logger instead (stderr, with no handler).
        (
            "import trainer\ntrainer.start()\ntrainer.start()\n",
            "tracelet: 'track_git' (from env var TRACELET_TRACK_GIT) is the earlier name",
        ),
    ],
    ids=["from-main", "from-a-module"],
)
def test_the_deprecation_is_shown_exactly_once_by_default(
    tmp_path: Path, script: str, expected: str
) -> None:
    (tmp_path / "trainer.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (tmp_path / "script.py").write_text(script, encoding="utf-8")
    result = run([sys.executable, "script.py"], tmp_path, env={"TRACELET_TRACK_GIT": "false"})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("'track_git' (from env var TRACELET_TRACK_GIT)") == 1, result.stderr
    assert expected in result.stderr


def test_warnings_as_errors_still_apply(tmp_path: Path) -> None:
    result = run(
        [
            sys.executable,
            "-W",
            "error::DeprecationWarning",
            "-c",
            "import tracelet; tracelet.start_logging(backend='memory')",
        ],
        tmp_path,
        env={"TRACELET_TRACK_GIT": "false"},
    )
    assert result.returncode == 1
    assert "TraceletDeprecationWarning: 'track_git'" in result.stderr


def test_a_filter_aimed_at_it_silences_it_and_a_general_one_sends_it_to_the_log(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracelet"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # as Python's default
        resolve_settings(host, config={"track_git": False})
        warnings.filterwarnings("ignore", category=TraceletDeprecationWarning)
        resolve_settings(host, config={"track_env": False})
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="'track_gpu'")
        resolve_settings(host, config={"track_gpu": False})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "tracelet: 'track_git' (from argument config['track_git']) is the earlier name of "
        "'track_git_info' and is read as it; pass 'track_git_info' instead of 'track_git'"
    ]


# -- TraceletSettings ------------------------------------------------------------------------


def test_tracelet_settings_resolve_at_once_and_start_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.warns(TraceletDeprecationWarning) as record:
        settings = TraceletSettings(
            project="from-settings",
            backend=["local"],
            track_system=False,
            metrics_interval=15.0,
            local={"path": "./settings-runs"},
        )
    assert len(deprecations(record.list)) == 2
    # attributes: what a run would use, also under the earlier names
    assert settings.project == settings.project_name == "from-settings"
    assert settings.backend == ["local"]
    assert settings.collect_system_metrics is settings.track_system is False
    assert settings.system_metrics_interval == 15.0
    assert settings.resolved.source_of(["project"]) == "argument config['project']"
    # the mapping: the keys given
    assert dict(settings)["metrics_interval"] == 15.0
    assert "collect_system_metrics" not in settings
    with pytest.raises(AttributeError, match="no setting 'nope'"):
        _ = settings.nope

    run_ = tracelet.start_logging(exp_name="with-settings", settings=settings)
    run_.log_metric("loss", 1.0, iteration=0)
    assert run_.stop()
    assert run_.project == "from-settings"
    stored = read_run(run_.links["local"].path)
    assert Path(stored.path).is_relative_to(Path("settings-runs").resolve())
    assert stored.metric_history("loss")[0].value == 1.0

    # config= wins over settings= for a key both set; a TraceletSettings is a config too
    both = tracelet.start_logging(settings=settings, config={"project": "from-config"})
    assert both.project == "from-config"
    assert both.stop()
    as_config = tracelet.start_logging(config=settings)
    assert as_config.project == "from-settings"
    assert as_config.stop()


def test_tracelet_settings_read_env_and_file_and_raise_on_mistakes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("tracelet.yaml").write_text("project: from-file\n", encoding="utf-8")
    monkeypatch.setenv("TRACELET_BATCH_SIZE", "7")
    settings = TraceletSettings()
    assert (settings.project, settings.batch_size) == ("from-file", 7)
    assert len(settings) == 0
    with pytest.raises(ConfigError, match="unknown backend 'invalid_backend'"):
        TraceletSettings(project="test", backend=["invalid_backend"])
    with pytest.raises(ValueError, match="flush_intervall"):
        TraceletSettings(flush_intervall=2)
