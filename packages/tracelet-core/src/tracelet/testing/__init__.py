"""Test helpers for backend authors: the backend contract suite.

Subclass :class:`BackendContract` in your backend's tests and provide one fixture, ``harness``,
returning a :class:`BackendHarness` that says how to select your backend, what it declares it
stores, and how to read a run back through your backend's own reader::

    import pytest
    from tracelet.testing import BackendContract, BackendHarness, StoredRun

    class MyHarness(BackendHarness):
        backend = "mine"

        def config(self):
            return {"mine": {"path": str(self.tmp_path)}}

        def read(self, run):
            return StoredRun(metrics=..., params=..., tags=..., artifacts=..., status=...)

    class TestMyBackend(BackendContract):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)

pytest collects the inherited tests; each runs a real run through your backend, with no
collector or capture running, so the run holds exactly what the test logged.
"""

import pytest

# The kit is installed, not a test module: ask pytest to show the values of its assertions.
pytest.register_assert_rewrite(
    "tracelet.testing.checks",
    "tracelet.testing.kit",
    "tracelet.testing.records_checks",
    "tracelet.testing.artifact_checks",
    "tracelet.testing.media_checks",
    "tracelet.testing.delivery_checks",
    "tracelet.testing.contract",
)

from tracelet.testing.checks import ContractError, png_rgb  # noqa: E402
from tracelet.testing.contract import BackendContract  # noqa: E402
from tracelet.testing.flaky import flaky_host  # noqa: E402
from tracelet.testing.harness import (  # noqa: E402
    BackendHarness,
    StoredRun,
    file_entries,
    typed_artifacts_in,
)

__all__ = [
    "BackendContract",
    "BackendHarness",
    "ContractError",
    "StoredRun",
    "file_entries",
    "flaky_host",
    "png_rgb",
    "typed_artifacts_in",
]
