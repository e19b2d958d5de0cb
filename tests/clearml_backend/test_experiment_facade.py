"""``tracelet.Experiment`` (the earlier releases' entry point) logging to ClearML offline, read
back from the offline session ClearML wrote (``support.clearml_reading``).

The scenarios, the facade used as an earlier script did, are ``support.facade_scenarios``'s;
each test here reads back what ClearML stored of one. An offline session has no task status
(that needs a server), so the status is read from the calls the backend made on ClearML's
``Task`` (``mark_completed``, ``mark_failed``, ``mark_stopped``), recorded by a spy that still
calls ClearML. (``Task.close`` calls ``mark_completed`` itself, after the backend's own mark:
only the backend's calls count.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from support import facade_scenarios as scenario
from support.clearml_reading import OfflineSession
from support.clearml_stored import session_of

import tracelet

#: The ClearML ``Task`` call that sets each Tracelet status.
MARKS = {"mark_completed": "finished", "mark_failed": "failed", "mark_stopped": "killed"}


@pytest.fixture
def marks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """``(task id, Tracelet status)`` for each ``mark_*`` call the Tracelet backend made on a
    ClearML task (not those ClearML makes itself, from ``Task.close``)."""
    from clearml import Task

    calls: list[tuple[str, str]] = []

    def spy(method: str) -> Callable[..., Any]:
        original = getattr(Task, method)

        def marked(self: Any, *args: Any, **kwargs: Any) -> Any:
            if sys._getframe(1).f_globals.get("__name__") == "tracelet_clearml.backend":
                calls.append((str(self.id), MARKS[method]))
            return original(self, *args, **kwargs)

        return marked

    for method in MARKS:
        monkeypatch.setattr(Task, method, spy(method))
    return calls


def offline(**more: Any) -> dict[str, Any]:
    """An Experiment's ``config`` for an offline ClearML session (flushing often)."""
    return {"project": "legacy", "flush_interval": 0.05, "clearml": {"offline": True}, **more}


def session_for(exp: tracelet.Experiment) -> OfflineSession:
    """The offline session of a stopped experiment."""
    assert exp.run is not None, "the experiment was never started"
    return session_of(exp.run)


def scalars(session: OfflineSession) -> dict[str, list[tuple[int, float]]]:
    """Scalars by name: a name without ``/`` is ClearML's title and series both."""
    out = {}
    for (title, series), points in session.scalars().items():
        assert title == series, f"{title}/{series}: the facade logged no '/' names"
        out[title] = points
    return out


def test_an_experiment_started_and_stopped_is_a_completed_clearml_task(
    marks: list[tuple[str, str]],
) -> None:
    exp = scenario.start_log_and_stop("clearml", offline())
    run = exp.run
    assert run is not None

    session = session_for(exp)
    assert (session.project, session.name) == ("legacy", "baseline")
    assert sorted(session.tags) == ["baseline", "pytorch"]
    assert session.params("General") == {
        "learning_rate": "0.001",
        "batch_size": "32",
        "optimizer": "adam",
    }
    assert session.params("properties")["tracelet_run_id"] == run.id
    assert scalars(session) == {
        "train_loss": [(0, 1.0), (1, 0.5), (2, 1.0 / 3)],
        "val_loss": [(10, 0.9)],
        "auto": [(0, 1.0), (1, 2.0)],
    }
    assert marks == [(session.task["id"], "finished")]


def test_set_iteration_is_the_step_of_metrics_logged_without_one(
    marks: list[tuple[str, str]],
) -> None:
    exp = scenario.log_at_set_iterations("clearml", offline())

    session = session_for(exp)
    assert scalars(session) == {
        "acc": [(5, 0.75)],
        "f1": [(5, 0.5)],
        "lr": [(100, 0.01), (0, 0.02), (100, 0.03)],
    }
    assert marks == [(session.task["id"], "finished")]


def test_mapping_tags_and_a_with_block_complete_the_task(marks: list[tuple[str, str]]) -> None:
    exp = scenario.log_in_a_with_block("clearml", offline(project="tagged"))

    session = session_for(exp)
    assert (session.project, session.name) == ("tagged", "ctx")
    assert sorted(session.tags) == ["team:ml", "v:2"]
    assert session.params("General") == {"seed": "7"}
    assert scalars(session) == {"loss": [(1, 0.25)]}
    assert marks == [(session.task["id"], "finished")]


def test_an_exception_in_the_with_block_marks_the_task_failed(
    marks: list[tuple[str, str]],
) -> None:
    exp = scenario.fail_in_a_with_block("clearml", offline())

    session = session_for(exp)
    assert session.name == "fails"
    assert scalars(session) == {"loss": [(4, 3.5)]}  # what was logged before it failed is kept
    assert marks == [(session.task["id"], "failed")]


def test_an_experiment_started_again_after_stop_is_a_second_clearml_task(
    marks: list[tuple[str, str]],
) -> None:
    first, second = scenario.start_again_after_stop("clearml", offline())

    one, two = session_of(first), session_of(second)
    assert one.task["id"] != two.task["id"]
    assert one.folder != two.folder
    assert (one.name, two.name) == ("twice", "twice")
    assert (one.tags, two.tags) == (["again"], ["again"])
    assert scalars(one) == {"loss": [(0, 1.0)]}
    assert scalars(two) == {"loss": [(0, 2.0)]}
    assert marks == [(one.task["id"], "finished"), (two.task["id"], "finished")]
