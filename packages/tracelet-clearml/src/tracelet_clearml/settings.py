"""The ``clearml:`` section of Tracelet's settings.

Importing this module does not import ClearML: plugin discovery stays cheap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from tracelet.settings.model import CommaList, SectionModel

#: ClearML's own environment variables that set a key of the section (ClearML reads them too).
#: They rank with Tracelet's env vars, below ``TRACELET_CLEARML__<KEY>``.
NATIVE_ENV = {
    "CLEARML_OFFLINE_MODE": "offline",
    "CLEARML_API_HOST": "api_host",
    "CLEARML_WEB_HOST": "web_host",
    "CLEARML_FILES_HOST": "files_host",
    "CLEARML_API_ACCESS_KEY": "api_access_key",
    "CLEARML_API_SECRET_KEY": "api_secret_key",
}

TaskType = Literal[
    "training",
    "testing",
    "inference",
    "data_processing",
    "application",
    "monitor",
    "controller",
    "optimizer",
    "service",
    "qc",
    "custom",
]


class ClearmlSettings(SectionModel):
    """Section ``clearml:`` of ``tracelet.yaml`` (env ``TRACELET_CLEARML__<KEY>``)."""

    project_name: str | None = Field(
        None, min_length=1, description="ClearML project. Default: the Tracelet project."
    )
    task_name: str | None = Field(
        None, min_length=1, description="Task name. Default: the Tracelet run name."
    )
    tags: CommaList = Field(default_factory=list, description="Tags of the task.")
    task_type: TaskType = Field("training", description="ClearML task type.")
    output_uri: str | None = Field(
        None,
        description="Where artifacts and models are uploaded (s3://, gs://, azure://, a "
        "path). Default: ClearML's (the files server).",
    )
    offline: bool = Field(
        False,
        description="Write an offline session under ClearML's cache folder instead of "
        "talking to a server; import it later.",
    )
    reuse_last_task_id: bool = Field(
        False,
        description="Reuse the last task of this project and name if it holds nothing yet "
        "(ClearML's default); false: a new task per run.",
    )
    continue_last_task: bool | str = Field(
        False,
        description="Continue a task: true for the last one of this project and name, or a "
        "task id; new scalars are appended.",
    )
    params_section: str = Field(
        "General", min_length=1, description="Hyperparameter section that gets the params."
    )
    api_host: str | None = Field(None, description="ClearML API server (CLEARML_API_HOST).")
    web_host: str | None = Field(None, description="ClearML web app (CLEARML_WEB_HOST).")
    files_host: str | None = Field(None, description="ClearML files server (CLEARML_FILES_HOST).")
    api_access_key: SecretStr | None = Field(None, description="API access key.")
    api_secret_key: SecretStr | None = Field(None, description="API secret key.")
    start_timeout: float = Field(
        30.0, gt=0, description="Seconds start_logging waits for the ClearML server to answer."
    )
    auto_connect_frameworks: bool = Field(
        False,
        description="Let ClearML capture frameworks itself (Tracelet's captures do), "
        "TensorBoard excepted: Tracelet captures it (capture_tensorboard).",
    )
    auto_connect_arg_parser: bool = Field(
        False, description="Let ClearML record argparse arguments as hyperparameters."
    )
    auto_resource_monitoring: bool = Field(
        False, description="Let ClearML sample machine resources (Tracelet's collectors do)."
    )
    auto_connect_streams: bool = Field(
        False, description="Let ClearML capture stdout/stderr and logging into the task log."
    )
    report_in_subprocess: bool = Field(
        False,
        description="ClearML's reporting subprocess (its Linux default); Tracelet already "
        "reports from a background thread, and in-process is ~70x faster. With ClearML 2.1 "
        "in a git checkout, close can then wait minutes (its async repo detection).",
    )
