"""Writing a batch as a list of SDK calls that a retry does not repeat.

A backend often stores one batch with several calls (one request per 1000 metrics, one upload
per artifact). When a call fails, the dispatcher retries the *same* batch; calls that went
through before the failure must not run again, or points would be stored twice. A
:class:`ResumableWriter` plans the calls once per batch and, on a retry of that batch, carries
on from the first call that did not complete::

    class MyBackend(BaseBackend):
        def __init__(self) -> None:
            self._writer = ResumableWriter(self._plan)

        def write(self, batch: Batch) -> None:
            self._writer.write(batch)

        def _plan(self, batch: Batch) -> WritePlan:
            plan = WritePlan(batch)
            plan.calls.append(lambda: sdk.log_many(batch.metrics))
            return plan
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tracelet.errors import RejectedError
from tracelet.records import Batch


@dataclass
class WritePlan:
    """The calls that store one batch, in order.

    Attributes:
        batch: The batch the calls store.
        calls: Run one after the other; each either completes or raises.
        refused: Records the backend can never store (one line each, for ``run.stats()``);
            planning or a call may add to it. They are reported once every call is done.
        done: How many calls completed.
    """

    batch: Batch
    calls: list[Callable[[], None]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    done: int = 0
    #: With :meth:`add`: how many records each call stores, in the journal's order (params,
    #: tags, metrics, artifacts, media), so that progress inside a batch can be reported.
    records: list[int] = field(default_factory=list)

    def add(self, call: Callable[[], None], records: int) -> None:
        """Plan ``call``, which stores the next ``records`` records in the journal's order."""
        self.calls.append(call)
        self.records.append(records)


class ResumableWriter:
    """Runs each batch's planned calls; a retry of the same batch resumes where it stopped."""

    def __init__(self, plan: Callable[[Batch], WritePlan]) -> None:
        self._make_plan = plan
        self._pending: WritePlan | None = None
        #: Called with the number of the batch's records stored so far, after each call, when
        #: every call was planned with :meth:`WritePlan.add` (see
        #: ``track_progress`` in :mod:`tracelet.backend`).
        self.progress: Callable[[int], None] | None = None

    def write(self, batch: Batch) -> None:
        """Run the batch's calls, from the first one not done yet when ``batch`` is the batch
        whose write failed last time (the dispatcher retries the same object).

        Raises:
            RejectedError: After every call completed, for the plan's refused records.
            Exception: Whatever a call raised; the calls before it are not run again.
        """
        plan = self._pending
        if plan is None or plan.batch is not batch:
            plan = self._pending = self._make_plan(batch)
        report = self.progress if len(plan.records) == len(plan.calls) else None
        while plan.done < len(plan.calls):
            plan.calls[plan.done]()
            plan.done += 1
            if report is not None and plan.done < len(plan.calls):
                report(sum(plan.records[: plan.done]))
        self._pending = None
        if plan.refused:
            raise RejectedError("; ".join(plan.refused), count=len(plan.refused))
