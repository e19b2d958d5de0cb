"""What every check of the contract kit starts from: the harness fixture, a kit run (no
collectors or captures, the journal in a temporary folder) and two helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracelet.plugins import PluginHost, get_default_host
from tracelet.run import Run
from tracelet.session import start_run
from tracelet.testing.checks import expect
from tracelet.testing.harness import BackendHarness


def declined(run: Run, harness: BackendHarness, kind: str, logged: int) -> bool:
    """True when the backend does not declare ``kind``: then its records must be counted as
    unsupported (never failed, never raised); the caller skips the round-trip check."""
    if kind in run.capabilities()[harness.backend]:
        return False
    stats = run.stats()[harness.backend]
    expect(
        (stats.unsupported, stats.failed) == (logged, 0),
        f"records of an undeclared kind ({kind}) were not counted as unsupported",
        {"unsupported": logged, "failed": 0},
        {"unsupported": stats.unsupported, "failed": stats.failed},
        "this is Tracelet's job: report it as a Tracelet bug",
    )
    return True


def stopped(run: Run, harness: BackendHarness, timeout: float = 60) -> None:
    ok = run.stop(timeout=timeout)
    expect(
        ok,
        "run.stop() did not deliver everything",
        "every record delivered",
        run.stats()[harness.backend],
        "write() must return once the batch is stored, and raise only when nothing was",
    )


class KitRuns:
    """The fixtures and the run every check uses."""

    journal_root: Path

    @pytest.fixture
    def harness(self) -> BackendHarness:
        """Override in the subclass: return the harness for the backend under test."""
        raise NotImplementedError("subclasses of BackendContract provide a 'harness' fixture")

    @pytest.fixture(autouse=True)
    def _journal_folder(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        """The run folders (journals) of the kit's runs go to a temporary folder."""
        self.journal_root = tmp_path_factory.mktemp("tracelet-kit-runs")

    def start(
        self,
        harness: BackendHarness,
        name: str,
        host: PluginHost | None = None,
        **settings: Any,
    ) -> Run:
        """Start a run on the harness's backend: no collectors or captures, the journal in a
        temporary folder, a small flush interval (tests stay quick), then ``settings``."""
        config: dict[str, Any] = {"flush_interval": 0.05, **harness.config(), **settings}
        host = host or harness.host or get_default_host()
        if "local" in host.backends:
            config.setdefault("local", {"path": str(self.journal_root)})
        return start_run(
            exp_name=name,
            project="tracelet-contract",
            backend=harness.backend,
            config=config,
            host=host,
            collectors=False,
        )

    # -- metrics ---------------------------------------------------------------------------
