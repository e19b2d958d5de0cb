"""The keys of Tracelet's collectors, registered at the top level of the settings.

Each collector registers its model with ``top_level=True``, so the keys keep the names users
know: ``collect_system_metrics: false`` in ``tracelet.yaml``,
``TRACELET_SYSTEM_METRICS_INTERVAL=30``, ``config={"capture_tensorboard": False}``. An install
without ``tracelet-collectors`` has none of these keys, and names this distribution when one is
set.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SystemSettings(BaseModel):
    """The ``system`` collector (the interval also paces the ``gpu`` collector)."""

    model_config = ConfigDict(extra="forbid")

    collect_system_metrics: bool = Field(
        True, description="Sample CPU, memory, disk and network usage into system/* metrics."
    )
    system_metrics_interval: float = Field(
        10.0, gt=0, description="Seconds between two system metric samples."
    )


class GpuSettings(BaseModel):
    """The ``gpu`` collector."""

    model_config = ConfigDict(extra="forbid")

    collect_gpu_metrics: bool = Field(
        True, description="Sample NVIDIA GPU utilisation, memory, temperature and power."
    )


class GitSettings(BaseModel):
    """The ``git`` collector."""

    model_config = ConfigDict(extra="forbid")

    track_git_info: bool = Field(
        True, description="Record commit, branch, remote and dirty state of the git repository."
    )
    git_repo_path: str = Field(".", description="Where to look for the git repository.")
    include_uncommitted_changes: bool = Field(
        False, description="Store the uncommitted diff and the list of untracked files."
    )


class EnvironmentSettings(BaseModel):
    """The ``environment`` collector."""

    model_config = ConfigDict(extra="forbid")

    track_environment: bool = Field(
        True,
        description="Record Python version, platform, hostname, command line, Tracelet "
        "plugins and installed distributions.",
    )


class TensorboardSettings(BaseModel):
    """The ``tensorboard`` capture."""

    model_config = ConfigDict(extra="forbid")

    capture_tensorboard: bool = Field(
        True,
        description="Send SummaryWriter calls (torch.utils.tensorboard, tensorboardX) to the "
        "run as well as to the event files.",
    )


class LightningSettings(BaseModel):
    """The ``lightning`` capture."""

    model_config = ConfigDict(extra="forbid")

    capture_lightning: bool = Field(
        True,
        description="Add a TraceletLogger to every Lightning Trainer built without one while "
        "a run is active.",
    )
