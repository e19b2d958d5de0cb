"""Test helpers for backend authors: the backend contract suite.

Subclass :class:`BackendContract` in your backend's tests and provide one fixture, ``harness``,
returning a :class:`BackendHarness` that says how to select your backend and how to read a run
back through your backend's own reader::

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

pytest collects the inherited tests; each runs a real run through your backend.
"""

from tracelet.testing.contract import BackendContract, BackendHarness, StoredRun, flaky_host

__all__ = ["BackendContract", "BackendHarness", "StoredRun", "flaky_host"]
