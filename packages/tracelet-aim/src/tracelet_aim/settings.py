"""The ``aim:`` section of Tracelet's settings.

Importing this module does not import AIM: plugin discovery stays cheap.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from tracelet.settings.model import SectionModel


class AimSettings(SectionModel):
    """Section ``aim:`` of ``tracelet.yaml`` (env ``TRACELET_AIM__<KEY>``)."""

    repo_path: str = Field(
        ".", description="Folder of the local AIM repo (its .aim inside), created when missing."
    )
    remote_uri: str | None = Field(
        None,
        description="An aim server instead of the local repo: aim://host:port "
        "(http://host:port is accepted).",
    )
    experiment_name: str | None = Field(
        None, min_length=1, description="AIM experiment. Default: the Tracelet project."
    )
    run_name: str | None = Field(
        None, min_length=1, description="Run name. Default: the Tracelet run name."
    )
    tags: dict[str, str | int | float | bool] | list[str] = Field(
        default_factory=list,
        description="Tags: a list of labels, or a mapping stored as 'key:value' labels.",
    )
    run_hash: str | None = Field(
        None, min_length=1, description="Resume the run with this hash instead of a new one."
    )
    artifacts_uri: str | None = Field(
        None,
        description="Where artifacts are stored (file://, s3://). Default for a local repo: "
        "file://<repo_path>/.aim/artifacts; a remote repo needs one.",
    )
    start_timeout: float = Field(
        30.0, gt=0, description="Seconds start_logging waits for an aim server to answer."
    )
    system_tracking_interval: float | None = Field(
        None,
        gt=0,
        description="Seconds between AIM's own system metrics (off: Tracelet's collectors "
        "log system/*).",
    )
    capture_terminal_logs: bool = Field(
        False, description="Let AIM capture the script's terminal output into the run."
    )
    log_system_params: bool = Field(
        False, description="Let AIM record installed packages, env vars and git info."
    )

    @field_validator("remote_uri")
    @classmethod
    def _aim_scheme(cls, value: str | None) -> str | None:
        """``http://host:port`` (the configuration page's form) means ``aim://host:port``."""
        if value is None:
            return None
        for prefix in ("http://", "https://"):
            if value.startswith(prefix):
                return "aim://" + value.removeprefix(prefix).rstrip("/")
        if not value.startswith("aim://"):
            raise ValueError("use aim://host:port (or http://host:port)")
        return value
