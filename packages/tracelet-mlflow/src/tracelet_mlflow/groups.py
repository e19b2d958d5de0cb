"""A Tracelet group in MLflow: one parent run per group and experiment, the group's runs nested
under it (MLflow's ``mlflow.parentRunId`` tag), as MLflow shows the trials of a sweep.

The parent is created by the group's first run and found again by its tags by every later run,
from any process: ``tracelet.group`` holds the group's name on the parent and on each child, and
``tracelet.group_parent`` is ``true`` on the parent only. The parent is named after the group,
holds no metrics and is created ``FINISHED``. Two processes that create it at the same moment
both keep the oldest (by start time, then run id) and the other deletes its own, so the group
ends with one parent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run as MlflowRun

#: The tag holding the group's name, on the parent and on every run of the group.
GROUP_TAG = "tracelet.group"
#: The tag (``"true"``) that marks a group's parent run.
PARENT_TAG = "tracelet.group_parent"


def _parents(client: MlflowClient, experiment_id: str, group: str) -> list[MlflowRun]:
    """The group's parent runs in the experiment, oldest first."""
    # The group's name is compared here rather than in the filter, which would need quoting.
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = 'true'",
        order_by=["attributes.start_time ASC"],
    )
    parents = [r for r in found if r.data.tags.get(GROUP_TAG) == group]
    return sorted(parents, key=lambda r: (r.info.start_time, r.info.run_id))


def group_parent(client: MlflowClient, experiment_id: str, group: str) -> str:
    """The run id of ``group``'s parent run in the experiment, created when missing."""
    existing = _parents(client, experiment_id, group)
    if existing:
        return str(existing[0].info.run_id)
    created = client.create_run(
        experiment_id,
        start_time=int(time.time() * 1000),
        tags={GROUP_TAG: group, PARENT_TAG: "true"},
        run_name=group,
    )
    own = created.info.run_id
    client.set_terminated(own, status="FINISHED")
    oldest = _parents(client, experiment_id, group)[0].info.run_id
    if oldest != own:  # another process created one too, earlier: keep that one
        client.delete_run(own)
    return str(oldest)
