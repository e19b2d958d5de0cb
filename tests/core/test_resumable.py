"""ResumableWriter: a retried batch carries on from the call that failed."""

from __future__ import annotations

import pytest

from tracelet.errors import RejectedError
from tracelet.records import Batch
from tracelet.resumable import ResumableWriter, WritePlan


def test_a_retry_of_the_same_batch_resumes_and_a_new_batch_starts_over() -> None:
    done: list[str] = []
    failures = {"b": 1}

    def call(name: str) -> None:
        if failures.get(name):
            failures[name] -= 1
            raise ConnectionError(name)
        done.append(name)

    plans: list[Batch] = []

    def plan(batch: Batch) -> WritePlan:
        plans.append(batch)
        made = WritePlan(batch)
        made.calls = [lambda n=n: call(n) for n in ("a", "b", "c")]
        return made

    writer = ResumableWriter(plan)
    first = Batch()
    with pytest.raises(ConnectionError):
        writer.write(first)
    writer.write(first)
    assert done == ["a", "b", "c"], "a ran once"
    assert plans == [first], "planned once"
    writer.write(Batch())
    assert done == ["a", "b", "c", "a", "b", "c"]


def test_refused_records_are_reported_after_every_call() -> None:
    done: list[int] = []

    def plan(batch: Batch) -> WritePlan:
        made = WritePlan(batch, refused=["param 'lr' changed"])
        made.calls.append(lambda: done.append(1))
        return made

    with pytest.raises(RejectedError, match="param 'lr' changed") as error:
        ResumableWriter(plan).write(Batch())
    assert error.value.count == 1
    assert done == [1]
