"""``tracelet.Experiment`` (the earlier releases' entry point) logging to W&B offline, read back
from the run's ``.wandb`` log with W&B's own record types (``support.wandb_reading``).

The scenarios, the facade used as an earlier script did, are ``support.facade_scenarios``'s;
each test here reads back what W&B stored of one.
"""

from __future__ import annotations

from typing import Any

from support import facade_scenarios as scenario
from support.wandb_reading import WandbRun, metric_points
from support.wandb_stored import STATUS, metric_names, tags_of, wandb_run_of

import tracelet
from tracelet_wandb.backend import RUN_ID_CONFIG, STEP_METRIC


def offline(**more: Any) -> dict[str, Any]:
    """An Experiment's ``config`` for an offline W&B run (flushing often: quick tests)."""
    return {"project": "legacy", "flush_interval": 0.05, "wandb": {"mode": "offline"}, **more}


def stored_of(exp: tracelet.Experiment) -> WandbRun:
    """The offline W&B run of a stopped experiment."""
    assert exp.run is not None, "the experiment was never started"
    return wandb_run_of(exp.run)


def points(stored: WandbRun, name: str) -> list[tuple[int, float]]:
    """``(Tracelet step, value)`` of every history row holding ``name``."""
    return [(int(step), value) for step, value in metric_points(stored, name, STEP_METRIC)]


def test_an_experiment_started_and_stopped_is_a_finished_wandb_run() -> None:
    exp = scenario.start_log_and_stop("wandb", offline())
    run = exp.run
    assert run is not None

    stored = stored_of(exp)
    assert (stored.project, stored.name) == ("legacy", "baseline")
    assert stored.exit_code == 0
    assert STATUS[stored.exit_code] == "finished"
    assert stored.tags == ["pytorch", "baseline"]
    assert tags_of(stored) == {"pytorch": "", "baseline": ""}
    assert stored.config == {
        "learning_rate": 0.001,
        "batch_size": 32,
        "optimizer": "adam",
        RUN_ID_CONFIG: run.id,
    }
    assert sorted(metric_names(stored)) == ["auto", "train_loss", "val_loss"]
    assert points(stored, "train_loss") == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert points(stored, "val_loss") == [(10, 0.9)]
    assert points(stored, "auto") == [(0, 1.0), (1, 2.0)]


def test_set_iteration_is_the_step_of_metrics_logged_without_one() -> None:
    exp = scenario.log_at_set_iterations("wandb", offline())

    stored = stored_of(exp)
    assert stored.exit_code == 0
    assert points(stored, "acc") == [(5, 0.75)]
    assert points(stored, "f1") == [(5, 0.5)]
    assert [row["f1"] for row in stored.history if "acc" in row] == [0.5]
    assert points(stored, "lr") == [(100, 0.01), (0, 0.02), (100, 0.03)]


def test_mapping_tags_and_a_with_block_finish_the_run() -> None:
    exp = scenario.log_in_a_with_block("wandb", offline(project="tagged"))
    assert exp.run is not None

    stored = stored_of(exp)
    assert (stored.project, stored.name) == ("tagged", "ctx")
    assert stored.tags == ["team:ml", "v:2"]
    assert tags_of(stored) == {"team": "ml", "v": "2"}
    assert stored.config == {"seed": 7, RUN_ID_CONFIG: exp.run.id}
    assert points(stored, "loss") == [(1, 0.25)]
    assert stored.exit_code == 0


def test_an_exception_in_the_with_block_ends_the_wandb_run_failed() -> None:
    exp = scenario.fail_in_a_with_block("wandb", offline())

    stored = stored_of(exp)
    assert stored.name == "fails"
    assert stored.exit_code == 1
    assert STATUS[stored.exit_code] == "failed"
    assert points(stored, "loss") == [(4, 3.5)]  # what was logged before it failed is kept


def test_an_experiment_started_again_after_stop_is_a_second_wandb_run() -> None:
    first, second = scenario.start_again_after_stop("wandb", offline())
    assert second.id != first.id

    one, two = wandb_run_of(first), wandb_run_of(second)
    assert one.id != two.id
    assert one.dir != two.dir
    assert (one.name, two.name) == ("twice", "twice")
    assert (one.tags, two.tags) == (["again"], ["again"])
    assert points(one, "loss") == [(0, 1.0)]
    assert points(two, "loss") == [(0, 2.0)]
    assert (one.exit_code, two.exit_code) == (0, 0)
