"""The contract kit is honest: run by pytest as a plugin author runs it, it passes the correct
``memory`` backend (and the correct variants of support/broken_backends.py) and catches each
broken backend there, each failure naming the planted defect. Its messages show values even
though the kit is an installed package."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.broken_backends import CORRECT, DEFECTS
from support.processes import run

TESTS = Path(__file__).resolve().parents[1]

_MODULE = """
import pytest
from support.broken_backends import harness_for
from support.memory_harness import MemoryHarness
from tracelet.testing import BackendContract


class TestReference(BackendContract):
    @pytest.fixture
    def harness(self):
        return MemoryHarness()
"""

_CLASS = """

class Test_{name}(BackendContract):
    @pytest.fixture
    def harness(self):
        return harness_for("{name}")
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Class → test → failure message ("" for a pass, ``"skipped: <reason>"`` for a skip), from
    one pytest run of the kit against the reference backend and every broken and correct one."""
    folder = tmp_path_factory.mktemp("kit")
    module = folder / "test_kit_on_broken_backends.py"
    names = [*DEFECTS, *CORRECT]
    module.write_text(_MODULE + "".join(_CLASS.format(name=name) for name in names))
    report = folder / "report.xml"
    result = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            module,
        ],
        folder,
        env={"PYTHONPATH": str(TESTS)},
        timeout=600,
    )
    assert report.exists(), result.stdout + result.stderr
    found: dict[str, dict[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            message = (failure.get("message") or "") + (failure.text or "")
        elif skipped is not None:
            message = f"skipped: {skipped.get('message')}"
        else:
            message = ""
        found.setdefault(case.get("classname", "").rsplit(".", 1)[-1], {})[case.get("name", "")] = (
            message
        )
    return found


def test_the_reference_backend_passes_every_check(outcomes: dict[str, dict[str, str]]) -> None:
    failed = {test: message for test, message in outcomes["TestReference"].items() if message}
    assert not failed, failed
    assert len(outcomes["TestReference"]) >= 19


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_planted_defect_is_caught_and_named(
    outcomes: dict[str, dict[str, str]], defect: str
) -> None:
    messages = [m for m in outcomes[f"Test_{defect}"].values() if m]
    words = DEFECTS[defect][1]
    assert messages, f"no check of the kit failed for the {defect} backend"
    assert any(words in m for m in messages), (defect, words, messages)
    named = next(m for m in messages if words in m)
    for part in ("expected:", "stored:", "fix:"):
        assert part in named, named


@pytest.mark.parametrize("backend", list(CORRECT))
def test_each_correct_variant_passes_every_check(
    outcomes: dict[str, dict[str, str]], backend: str
) -> None:
    """A backend that declares no artifacts passes: its artifact records are counted as
    unsupported, and the artifact checks ask nothing more of it (they pass, never skip)."""
    failed = {test: message for test, message in outcomes[f"Test_{backend}"].items() if message}
    assert not failed, failed
    assert "test_typed_artifact_versions_round_trip" in outcomes[f"Test_{backend}"]


def test_only_the_typed_artifact_check_catches_a_lost_manifest(
    outcomes: dict[str, dict[str, str]],
) -> None:
    """Dropping only the manifest keeps every file a plain artifact check looks at: the typed
    artifact check is the one that catches it, and it names the version lost."""
    failed = {test for test, message in outcomes["Test_drops_manifests"].items() if message}
    assert failed == {"test_typed_artifact_versions_round_trip"}, failed
    message = outcomes["Test_drops_manifests"]["test_typed_artifact_versions_round_trip"]
    assert "read back by the harness" in message, message
    assert "model/contract-model/v0" in message, message


def test_failures_show_values_though_the_kit_is_installed(
    outcomes: dict[str, dict[str, str]],
) -> None:
    """pytest rewrites the kit's own asserts although it is an installed package: a failing
    one shows what it compared."""
    message = outcomes["Test_flush_fails"]["test_params_and_tags_over_several_batches"]
    assert "where False = " in message, message
    assert "flush" in message, message
