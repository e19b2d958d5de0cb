"""The ``wandb:`` section of Tracelet's settings.

Importing this module does not import wandb: plugin discovery stays cheap.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr

from tracelet.settings.model import CommaList, SectionModel

#: W&B's own environment variables that set a key of the section. They rank with Tracelet's
#: env vars, below ``TRACELET_WANDB__<KEY>``.
NATIVE_ENV = {
    "WANDB_PROJECT": "project",
    "WANDB_ENTITY": "entity",
    "WANDB_NAME": "name",
    "WANDB_TAGS": "tags",
    "WANDB_MODE": "mode",
    "WANDB_API_KEY": "api_key",
    "WANDB_DIR": "dir",
    "WANDB_RUN_GROUP": "group",
    "WANDB_NOTES": "notes",
    "WANDB_JOB_TYPE": "job_type",
    "WANDB_RUN_ID": "id",
    "WANDB_RESUME": "resume",
    "WANDB_BASE_URL": "base_url",
}


class WandbSettings(SectionModel):
    """Section ``wandb:`` of ``tracelet.yaml`` (env ``TRACELET_WANDB__<KEY>``)."""

    project: str | None = Field(
        None, min_length=1, description="W&B project. Default: the Tracelet project."
    )
    entity: str | None = Field(
        None, min_length=1, description="Team or user the project belongs to. Default: yours."
    )
    name: str | None = Field(
        None, min_length=1, description="Run display name. Default: the Tracelet run name."
    )
    tags: CommaList = Field(
        default_factory=list, description="Tags of the run (a list, or comma-separated text)."
    )
    mode: Literal["online", "offline", "disabled"] = Field(
        "online",
        description="online: stream to W&B (needs credentials); offline: write the run "
        "under dir, upload later with `wandb sync`; disabled: log nothing.",
    )
    api_key: SecretStr | None = Field(
        None, description="W&B API key. Default: WANDB_API_KEY, else `wandb login`'s netrc."
    )
    base_url: str | None = Field(
        None, description="A self-hosted W&B server's URL. Default: W&B's (WANDB_BASE_URL)."
    )
    dir: str | None = Field(
        None, description="Folder that gets the run's wandb/ folder. Default: the working dir."
    )
    group: str | None = Field(None, description="Group the run with others (a sweep, a job).")
    notes: str | None = Field(None, description="Run description.")
    job_type: str | None = Field(None, description="Kind of run (train, eval), for grouping.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Config the run starts with (params are added to it)."
    )
    id: str | None = Field(
        None, min_length=1, description="Run ID; with resume, the run to continue."
    )
    resume: Literal["allow", "must", "never"] | None = Field(
        None,
        description="Continue the run with this id: must (it has to exist), allow (if it "
        "exists), never (it must not).",
    )
    start_timeout: float = Field(
        30.0, gt=0, description="Seconds start_logging waits for W&B to start the run."
    )
    close_timeout: float = Field(
        30.0,
        gt=0,
        description="Offline: seconds closing the run waits for W&B to write the run's last "
        "records (finish() may return before).",
    )
    quiet: bool = Field(
        True, description="Silence W&B's own messages (its banner, sync hints) on the console."
    )
    console_capture: bool = Field(
        False, description="Let W&B capture the script's stdout/stderr into the run's logs."
    )
    system_metrics: bool = Field(
        False,
        description="Let W&B sample its own system metrics (Tracelet's collectors already "
        "log system/* metrics).",
    )
