"""The plugin host: built-ins, in-process plugins, entry points, broken plugins, allow-list.

Entry-point tests install the fixture distribution ``tracelet-example-backend`` (see
``tests/fixtures/tracelet-example-backend``) with ``pip install --target`` into a temporary
folder and put that folder on ``sys.path``, so ``importlib.metadata`` finds its real
``entry_points.txt``: an ``example`` plugin that works and a ``broken`` one whose module fails to
import.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

import tracelet
from tracelet import builtin
from tracelet.backend import BaseBackend, RunInfo
from tracelet.backends.local import LocalBackend, list_runs
from tracelet.backends.memory import stored
from tracelet.errors import ConfigError
from tracelet.hookspecs import RegisterBackend, RegisterCollector, hookimpl
from tracelet.plugins import PluginHost, describe_plugins, get_default_host
from tracelet.records import Batch, Capability, RunStatus
from tracelet.session import start_run
from tracelet.settings import SectionModel, resolve_settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tracelet-example-backend"


# -- plugins used by the tests -----------------------------------------------------------------


class ListSettings(SectionModel):
    """Section of the test backend ``listing``."""

    label: str = "unset"


class ListBackend(BaseBackend):
    """Keeps what it receives in class-level lists, so a test can read them after the run."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"metrics", "params"})
    labels: ClassVar[list[str]] = []
    metrics: ClassVar[list[tuple[str, float, int]]] = []

    def __init__(self, settings: ListSettings) -> None:
        self.label = settings.label

    def start(self, run: RunInfo) -> None:
        ListBackend.labels.append(self.label)

    def write(self, batch: Batch) -> None:
        ListBackend.metrics.extend((name, value, step) for name, value, step, _ in batch.metrics)

    def close(self, status: RunStatus) -> None:
        pass


class ListPlugin:
    """Registers the ``listing`` backend with a settings section."""

    @tracelet.hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        register("listing", ListBackend, settings=ListSettings, description="test backend")


class RaisingPlugin:
    """A plugin whose hook registers a backend and then fails."""

    @tracelet.hookimpl
    def tracelet_register_backends(self, register: RegisterBackend) -> None:
        register("half", ListBackend)
        raise RuntimeError("the SDK configuration could not be read")


class MisspelledPlugin:
    """``tracelet_register_backend`` (no s) is not a hook: pluggy's check_pending refuses it."""

    @tracelet.hookimpl
    def tracelet_register_backend(self, register: RegisterBackend) -> None:
        register("typo", ListBackend)  # pragma: no cover - must never be called


class CollectorPlugin:
    """Registers a collector that never runs (its factory turns it off)."""

    @tracelet.hookimpl
    def tracelet_register_collectors(self, register: RegisterCollector) -> None:
        register("nothing", lambda settings: None, description="always off")


@pytest.fixture(autouse=True)
def _reset_list_backend() -> None:
    ListBackend.labels.clear()
    ListBackend.metrics.clear()


# -- built-ins -------------------------------------------------------------------------------


def test_builtins_are_registered_through_the_hooks(host: PluginHost) -> None:
    info = host.plugins["builtin"]
    assert (info.status, info.distribution, info.version) == (
        "loaded",
        "tracelet-core",
        tracelet.__version__,
    )
    assert info.backends == ["local", "memory"]
    # The built-in module is a pluggy plugin like any other, found through the hookspec.
    impls = host.pm.hook.tracelet_register_backends.get_hookimpls()
    assert [impl.plugin for impl in impls] == [builtin]
    assert {name: spec.plugin for name, spec in host.backends.items()} == {
        "local": "builtin",
        "memory": "builtin",
    }
    assert isinstance(host.backends["local"].factory(None), LocalBackend)
    assert host.section_models() == {"local": host.backends["local"].settings}


# -- in-process plugins ----------------------------------------------------------------------


def test_a_plugin_object_registered_on_a_fresh_host_runs(host: PluginHost) -> None:
    info = host.register(ListPlugin(), name="listing")
    assert (info.status, info.error, info.backends) == ("loaded", None, ["listing"])
    assert host.backends["listing"].description == "test backend"

    run = start_run(backend="listing", config={"label": "from-config"}, host=host)
    run.log_metric("loss", 0.5, step=3)
    assert run.stop(timeout=10)
    assert ListBackend.labels == ["from-config"]  # the section reached the factory
    assert ListBackend.metrics == [("loss", 0.5, 3)]

    host.unregister("listing")
    assert "listing" not in host.backends
    assert "listing" not in host.plugins
    assert host.pm.get_plugin("listing") is None
    with pytest.raises(ValueError, match="unknown backend 'listing'"):
        start_run(backend="listing", host=host)


def test_collectors_are_reported_by_name(host: PluginHost) -> None:
    host.register(CollectorPlugin(), name="collecting")
    row = next(r for r in describe_plugins(host) if r["name"] == "collecting")
    assert (row["status"], row["backends"], row["collectors"]) == ("loaded", [], ["nothing"])
    assert host.collectors["nothing"].plugin == "collecting"


def test_a_hook_that_raises_is_recorded_and_others_are_unaffected(host: PluginHost) -> None:
    bad = host.register(RaisingPlugin(), name="raising")
    good = host.register(ListPlugin(), name="listing")

    assert bad.status == "error"
    assert bad.error is not None
    assert "RuntimeError: the SDK configuration could not be read" in bad.error
    assert __file__ in bad.error  # where it was raised
    # The registry agrees with the returned info (what `tracelet plugins` shows).
    assert host.plugins["raising"].status == "error"
    assert host.plugins["raising"].error == bad.error
    # Nothing the broken plugin registered before raising is kept, and its hook is gone.
    assert "half" not in host.backends
    assert host.pm.get_plugin("raising") is None
    assert good.status == "loaded"
    assert sorted(host.backends) == ["listing", "local", "memory"]


def test_a_misspelled_hook_is_caught_by_check_pending(host: PluginHost) -> None:
    info = host.register(MisspelledPlugin(), name="misspelled")
    assert info.status == "error"
    assert info.error is not None
    assert "unknown hook 'tracelet_register_backend'" in info.error
    assert "\n" not in info.error
    assert host.plugins["misspelled"].status == "error"
    assert host.pm.get_plugin("misspelled") is None
    # A later valid plugin registers fine: the pending hook does not linger.
    assert host.register(ListPlugin(), name="listing").status == "loaded"


def test_a_hook_with_a_wrong_argument_name_is_refused(host: PluginHost) -> None:
    class WrongArgument:
        @tracelet.hookimpl
        def tracelet_register_backends(self, registrar: RegisterBackend) -> None:
            registrar("wrong", ListBackend)  # pragma: no cover - must never be called

    info = host.register(WrongArgument(), name="wrong")
    assert info.status == "error"
    assert "registrar" in (info.error or "")
    assert "wrong" not in host.backends


@pytest.mark.parametrize(
    ("name", "factory", "message"),
    [
        ("local", ListBackend, "a backend named 'local' is already registered"),
        ("Bad.Name", ListBackend, "invalid backend name 'Bad.Name'"),
        ("fine", "not callable", "factory must be callable"),
    ],
)
def test_an_invalid_backend_registration_marks_the_plugin_broken(
    host: PluginHost, name: str, factory: Any, message: str
) -> None:
    class Plugin:
        @tracelet.hookimpl
        def tracelet_register_backends(self, register: RegisterBackend) -> None:
            register(name, factory)

    info = host.register(Plugin(), name="invalid")
    assert info.status == "error"
    assert message in (info.error or "")
    assert host.backends["local"].plugin == "builtin"
    assert set(host.backends) == {"local", "memory"}


def test_duplicate_backend_name_between_two_plugins(host: PluginHost) -> None:
    assert host.register(ListPlugin(), name="first").status == "loaded"
    second = host.register(ListPlugin(), name="second")
    assert second.status == "error"
    assert "a backend named 'listing' is already registered" in (second.error or "")
    assert host.backends["listing"].plugin == "first"
    assert host.plugins["first"].status == "loaded"


def test_a_second_plugin_with_a_taken_name_leaves_the_first(host: PluginHost) -> None:
    first = ListPlugin()
    host.register(first, name="listing")
    info = host.register(CollectorPlugin(), name="listing")
    assert info.status == "error"
    assert "already registered" in (info.error or "")
    assert host.plugins["listing"].status == "loaded"
    assert host.pm.get_plugin("listing") is first
    assert "nothing" not in host.collectors


def test_the_same_object_under_a_second_name_keeps_the_first_registration(
    host: PluginHost,
) -> None:
    plugin = ListPlugin()
    host.register(plugin, name="listing")
    again = host.register(plugin, name="listing-again")
    assert again.status == "error"
    assert host.pm.is_registered(plugin)
    assert host.pm.get_plugin("listing") is plugin
    assert host.plugins["listing"].status == "loaded"


def test_trace_hooks_logs_every_discovery_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACELET_TRACE_HOOKS", "1")
    caplog.set_level(logging.DEBUG, logger="tracelet.plugins")
    traced = PluginHost(load_entrypoints=False)
    traced.register(ListPlugin(), name="listing")
    messages = [r.getMessage() for r in caplog.records if r.name == "tracelet.plugins"]
    assert "hook tracelet_register_backends called on plugin 'builtin'" in messages
    assert "hook tracelet_register_backends called on plugin 'listing'" in messages


def test_no_hook_tracing_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tracelet.plugins")
    PluginHost(load_entrypoints=False).register(ListPlugin(), name="listing")
    assert not [r for r in caplog.records if "called on plugin" in r.getMessage()]


def test_register_plugin_uses_the_default_host() -> None:
    default = get_default_host()
    info = tracelet.register_plugin(ListPlugin(), name="in-process-listing")
    try:
        assert info.status == "loaded"
        assert default.backends["listing"].plugin == "in-process-listing"
        row = next(r for r in describe_plugins(default) if r["name"] == "in-process-listing")
        assert (row["distribution"], row["version"]) == (None, None)
    finally:
        default.unregister("in-process-listing")
    assert "listing" not in default.backends


# -- broken plugins and runs -----------------------------------------------------------------


def test_a_run_on_local_works_while_a_broken_plugin_exists(host: PluginHost) -> None:
    host.register(RaisingPlugin(), name="half")
    run = start_run(project="p", backend="local", host=host)
    run.log_metric("acc", 0.75, step=1)
    assert run.stop(timeout=10)
    (saved,) = list_runs(project="p")
    assert [(m.value, m.step) for m in saved.metrics["acc"]] == [(0.75, 1)]
    assert saved.status == "finished"


def test_selecting_the_broken_plugin_names_its_load_error(host: PluginHost) -> None:
    host.register(RaisingPlugin(), name="half")
    with pytest.raises(ValueError, match="half") as caught:
        start_run(backend="half", host=host)
    message = str(caught.value)
    assert "failed to load" in message
    assert "RuntimeError: the SDK configuration could not be read" in message


# -- entry points: the fixture distribution ----------------------------------------------------


@pytest.fixture
def example_installed(
    example_backend_site: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Make the fixture distribution visible to ``importlib.metadata`` for one test."""
    monkeypatch.syspath_prepend(str(example_backend_site))
    yield example_backend_site
    for module in [m for m in sys.modules if m.startswith("tracelet_example_backend")]:
        del sys.modules[module]


def _fixture_version() -> str:

    # tomllib is not in Python 3.10's standard library: find the one line by pattern.
    text = (FIXTURE / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1)


@pytest.mark.usefixtures("example_installed")
def test_entry_points_load_the_fixture_and_isolate_its_broken_plugin() -> None:
    loaded = PluginHost()
    example, broken = loaded.plugins["example"], loaded.plugins["broken"]
    assert (example.status, example.distribution, example.version, example.backends) == (
        "loaded",
        "tracelet-example-backend",
        _fixture_version(),
        ["example"],
    )
    assert broken.status == "error"
    assert "ModuleNotFoundError" in (broken.error or "")
    assert "tracelet_example_sdk_not_installed" in (broken.error or "")
    assert broken.distribution == "tracelet-example-backend"
    assert loaded.backends["example"].native_env == {"EXAMPLE_RECORDS_PATH": "path"}
    assert "example" in loaded.section_models()


@pytest.mark.usefixtures("example_installed")
def test_the_allow_list_env_var_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELET_PLUGINS", " example ")
    only_example = PluginHost()
    assert only_example.plugins["example"].status == "loaded"
    assert only_example.plugins["broken"].status == "disabled"
    assert only_example.plugins["broken"].error is None
    assert only_example.plugins["builtin"].status == "loaded"  # built-ins always load

    monkeypatch.setenv("TRACELET_PLUGINS", "")
    none = PluginHost()
    assert (none.plugins["example"].status, none.plugins["broken"].status) == (
        "disabled",
        "disabled",
    )
    assert set(none.backends) == {"local", "memory"}

    # An explicit allow list wins over the env var.
    explicit = PluginHost(allow=["broken"])
    assert (explicit.plugins["example"].status, explicit.plugins["broken"].status) == (
        "disabled",
        "error",
    )


@pytest.mark.usefixtures("example_installed")
def test_selecting_a_disabled_plugin_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELET_PLUGINS", "broken")
    with pytest.raises(ValueError, match="TRACELET_PLUGINS does not list it"):
        start_run(backend="example", host=PluginHost())


@pytest.mark.usefixtures("example_installed")
def test_entry_point_plugins_run_and_a_broken_one_only_fails_when_selected(
    tmp_path: Path,
) -> None:
    loaded = PluginHost()
    local_run = start_run(backend="memory", host=loaded)
    local_run.log_metric("m", 1.0, step=0)
    assert local_run.stop(timeout=10)
    assert stored(local_run).values("m") == [1.0]

    records = tmp_path / "records.jsonl"
    run = start_run(backend="example", config={"path": str(records)}, host=loaded)
    run.log_params({"lr": 0.1})
    run.log_metric("loss", 2.5, step=7)
    assert run.stop(timeout=10)
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert {"type": "param", "name": "lr", "value": 0.1} in lines
    assert {"type": "metric", "name": "loss", "value": 2.5, "step": 7} in lines
    assert lines[-1] == {"type": "end", "status": "finished"}

    with pytest.raises(ValueError, match="tracelet_example_sdk_not_installed") as caught:
        start_run(backend="broken", host=loaded)
    assert "tracelet-example-backend" in str(caught.value)


def test_a_hook_function_without_the_hookimpl_mark_is_an_error(host: PluginHost) -> None:
    """pluggy ignores an unmarked function: the plugin would load and register nothing."""
    plugin = types.ModuleType("unmarked_plugin")
    plugin.tracelet_register_collectors = lambda register: None  # type: ignore[attr-defined]
    info = host.register(plugin, name="unmarked")
    assert info.status == "error"
    assert info.error == "tracelet_register_collectors is not marked with @tracelet.hookimpl"


def test_a_collector_section_is_a_settings_section(host: PluginHost) -> None:
    class Power(BaseModel):
        model_config = ConfigDict(extra="forbid")
        watts_limit: float = 300.0

    class PowerPlugin:
        @hookimpl
        def tracelet_register_collectors(self, register: RegisterCollector) -> None:
            register("power", lambda settings: None, settings=Power)

    assert host.register(PowerPlugin(), name="power").status == "loaded"
    resolved = resolve_settings(host, config={"power": {"watts_limit": 250}})
    assert resolved.model.power.watts_limit == 250  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"power\.watt: unknown key in section 'power'"):
        resolve_settings(host, config={"power": {"watt": 1}})

    class Clash:
        @hookimpl
        def tracelet_register_collectors(self, register: RegisterCollector) -> None:
            register("sysinfo", lambda settings: None, settings=Power, top_level=True)
            register("sysinfo2", lambda settings: None, settings=Power, top_level=True)

    info = host.register(Clash(), name="clash")
    assert info.status == "error"
    assert "top-level key(s) already taken: ['watts_limit']" in (info.error or "")
