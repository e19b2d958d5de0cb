"""The contract's checks of delivery: flush, the stored status, retries, and resuming an
interrupted delivery with ``tracelet sync``."""

from __future__ import annotations

import pytest

from tracelet.delivery_state import DeliveryState
from tracelet.journal import JournalReader
from tracelet.records import RunStatus
from tracelet.syncing import NOT_SYNCED, sync
from tracelet.testing.checks import check_metrics, expect
from tracelet.testing.flaky import flaky_host
from tracelet.testing.harness import BackendHarness
from tracelet.testing.kit import KitRuns, stopped


class DeliveryChecks(KitRuns):
    """Flush, close status, retries and resume."""

    def test_flush_delivers_everything_logged_before_it(self, harness: BackendHarness) -> None:
        run = self.start(harness, "flush")
        for step in range(50):
            run.log_metric("x", float(step), step=step)
        flushed = run.flush(timeout=60)
        stats = run.stats()[harness.backend]
        expect(
            flushed and (stats.delivered, stats.pending, stats.failed) == (50, 0, 0),
            "run.flush() returned before the backend had stored what was logged",
            {"delivered": 50, "pending": 0, "failed": 0},
            {"delivered": stats.delivered, "pending": stats.pending, "failed": stats.failed},
            "write() must store the batch before returning; flush() must make it durable",
        )
        run.log_metric("x", 50.0, step=50)
        stopped(run, harness)
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(51)]})

    def test_sync_resumes_an_interrupted_delivery(self, harness: BackendHarness) -> None:
        """For a backend with an ``identity``: as if its process had died after storing every
        record but before its cursor moved past the second half, ``tracelet.sync`` resumes
        the run and every point is stored exactly once."""
        if harness.backend in NOT_SYNCED:
            return  # nothing outside the process to deliver into
        run = self.start(harness, "resume")
        run.log_params({"lr": 0.5})
        for step in range(100):
            run.log_metric("x", float(step), step=step)
        stopped(run, harness)
        assert run.journal_path is not None
        state = DeliveryState.load(run.journal_path, harness.backend)
        if state.identity is None:
            return  # declared: cannot resume, so sync delivers only runs it never started
        state.progress_path.unlink(missing_ok=True)
        state.cursor = JournalReader(run.journal_path).seek(51)
        state.closed, state.skip = False, 0
        state.save()
        config = {**harness.config(), "local": {"path": str(self.journal_root)}}
        (result,) = sync(
            [run.journal_path],
            to=[harness.backend],
            config=config,
            host=harness.host,
            progress=False,
        )
        expect(
            (result.status, result.remaining) == ("finished", 0),
            "tracelet sync did not finish the interrupted delivery",
            {"status": "finished", "remaining": 0},
            {"status": result.status, "remaining": result.remaining},
            "resume the run named by run.resume in start(); a record sent again must not be "
            "stored twice (or replace the run with a complete one and return a new identity)",
        )
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(100)]})

    @pytest.mark.parametrize("status", ["finished", "failed", "killed"])
    def test_close_status(self, harness: BackendHarness, status: RunStatus) -> None:
        run = self.start(harness, f"status-{status}")
        run.log_metric("x", 1.0, step=0)
        assert run.stop(status)
        stored = harness.read(run).status
        if not harness.stores_status:
            expect(
                stored is None,
                "the harness declares stores_status = False but read a status",
                None,
                stored,
                "set stores_status = True in the harness (the default)",
            )
            return
        expected = harness.killed_status if status == "killed" else status
        expect(
            stored == expected,
            f"run.stop({status!r}): the stored run status differs",
            expected,
            stored,
            "store the status close() receives; if the tool has no run status, declare "
            "stores_status = False in the harness",
        )

    def test_exception_in_with_block_fails_the_run(self, harness: BackendHarness) -> None:
        run = self.start(harness, "with-error")

        def fail_inside_the_run() -> None:
            with run:
                run.log_metric("x", 1.0, step=0)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_inside_the_run()
        stored = harness.read(run)
        if harness.stores_status:
            expect(
                stored.status == "failed",
                "a run left by an exception is not stored as failed",
                "failed",
                stored.status,
                "store the status close() receives",
            )
        check_metrics(stored, {"x": [(0, 1.0)]})

    def test_transient_write_failures_are_retried(self, harness: BackendHarness) -> None:
        host = flaky_host(harness.backend, failures=2, source=harness.host)
        run = self.start(harness, "flaky", host=host)
        for step in range(20):
            run.log_metric("x", float(step), step=step)
        stopped(run, harness)
        stats = run.stats()[harness.backend]
        expect(
            stats.retries >= 2 and "injected transient failure" in (stats.last_error or ""),
            "the injected write failures were not retried",
            "2 retries",
            {"retries": stats.retries, "last_error": stats.last_error},
            "this is Tracelet's job: report it as a Tracelet bug",
        )
        expect(
            (stats.delivered, stats.failed, stats.pending) == (20, 0, 0),
            "after retries, not every point was delivered",
            {"delivered": 20, "failed": 0, "pending": 0},
            {"delivered": stats.delivered, "failed": stats.failed, "pending": stats.pending},
            "a write that raised must have stored nothing, or tolerate the batch again",
        )
        check_metrics(harness.read(run), {"x": [(s, float(s)) for s in range(20)]})
