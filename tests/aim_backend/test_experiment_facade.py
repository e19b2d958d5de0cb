"""``tracelet.Experiment`` (the earlier releases' entry point) logging to a local AIM repo, read
back through ``aim``'s own ``Repo`` (``support.aim_reading``).

The scenarios, the facade used as an earlier script did, are ``support.facade_scenarios``'s;
each test here reads back what AIM stored of one. AIM has no run status: the backend keeps it
as the run's ``tracelet_status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import facade_scenarios as scenario
from support.aim_reading import AimStoredRun
from support.aim_stored import aim_run_of

import tracelet
from tracelet.run import Run


def local_repo(repo: Path, **more: Any) -> dict[str, Any]:
    """An Experiment's ``config`` for a local AIM repo (flushing often: quick tests)."""
    return {"project": "legacy", "flush_interval": 0.05, "aim": {"repo_path": str(repo)}, **more}


def stored_of(exp: tracelet.Experiment) -> AimStoredRun:
    """The AIM run of a stopped experiment."""
    assert exp.run is not None, "the experiment was never started"
    return aim_run_of(exp.run)


def aim_runs_of(*runs: Run) -> list[AimStoredRun]:
    """The AIM runs of several stopped runs of one repo. Each is indexed before any is read:
    a reader's ``Repo`` keeps the repo's index as it first read it, so a run indexed after
    another was read is not found through that ``Repo`` (``get_run`` returns ``None``)."""
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.repo import Repo

    for run in runs:
        link = run.links["aim"]
        assert link.path is not None
        assert link.id is not None
        RepoIndexManager.get_index_manager(Repo.from_path(link.path)).index(link.id)
    return [aim_run_of(run) for run in runs]


def test_an_experiment_started_and_stopped_is_a_finished_aim_run(tmp_path: Path) -> None:
    exp = scenario.start_log_and_stop("aim", local_repo(tmp_path / "repo"))
    run = exp.run
    assert run is not None

    stored = stored_of(exp)
    assert (stored.experiment, stored.name) == ("legacy", "baseline")
    assert sorted(stored.tags) == ["baseline", "pytorch"]
    assert stored.params == {"learning_rate": 0.001, "batch_size": 32, "optimizer": "adam"}
    assert stored.metrics == {
        ("train_loss", ()): [(0, 1.0), (1, 0.5), (2, 1.0 / 3)],
        ("val_loss", ()): [(10, 0.9)],
        ("auto", ()): [(0, 1.0), (1, 2.0)],
    }
    assert stored.raw["tracelet_run_id"] == run.id
    assert stored.raw["tracelet_status"] == "finished"


def test_set_iteration_is_the_step_of_metrics_logged_without_one(tmp_path: Path) -> None:
    exp = scenario.log_at_set_iterations("aim", local_repo(tmp_path / "repo"))

    stored = stored_of(exp)
    # Step 0 after step 100 starts the series' next revision in AIM (one value per step).
    assert stored.metrics == {
        ("acc", ()): [(5, 0.75)],
        ("f1", ()): [(5, 0.5)],
        ("lr", ()): [(100, 0.01)],
        ("lr", (("revision", "1"),)): [(0, 0.02), (100, 0.03)],
    }
    assert stored.raw["tracelet_status"] == "finished"


def test_mapping_tags_and_a_with_block_finish_the_run(tmp_path: Path) -> None:
    config = local_repo(tmp_path / "repo", project="tagged")
    exp = scenario.log_in_a_with_block("aim", config)

    stored = stored_of(exp)
    assert (stored.experiment, stored.name) == ("tagged", "ctx")
    assert sorted(stored.tags) == ["team:ml", "v:2"]
    assert stored.params == {"seed": 7}
    assert stored.metrics == {("loss", ()): [(1, 0.25)]}
    assert stored.raw["tracelet_status"] == "finished"


def test_an_exception_in_the_with_block_ends_the_aim_run_failed(tmp_path: Path) -> None:
    exp = scenario.fail_in_a_with_block("aim", local_repo(tmp_path / "repo"))

    stored = stored_of(exp)
    assert stored.name == "fails"
    assert stored.metrics == {("loss", ()): [(4, 3.5)]}  # logged before it failed: kept
    assert stored.raw["tracelet_status"] == "failed"


def test_an_experiment_started_again_after_stop_is_a_second_aim_run(tmp_path: Path) -> None:
    config = local_repo(tmp_path / "repo")
    first, second = scenario.start_again_after_stop("aim", config)

    one, two = aim_runs_of(first, second)
    assert one.hash != two.hash
    assert (one.name, two.name) == ("twice", "twice")
    assert (one.tags, two.tags) == (["again"], ["again"])
    assert one.metrics == {("loss", ()): [(0, 1.0)]}
    assert two.metrics == {("loss", ()): [(0, 2.0)]}
    assert (one.raw["tracelet_run_id"], two.raw["tracelet_run_id"]) == (first.id, second.id)
    assert (one.raw["tracelet_status"], two.raw["tracelet_status"]) == ("finished", "finished")
