"""The keys of Tracelet's collectors, registered at the top level of the settings.

Each collector registers its model with ``top_level=True``, so the keys keep the names users
know: ``collect_system_metrics: false`` in ``tracelet.yaml``,
``TRACELET_SYSTEM_METRICS_INTERVAL=30``, ``config={"capture_tensorboard": False}``. An install
without ``tracelet-collectors`` has none of these keys, and names this distribution when one is
set.
"""

from __future__ import annotations

from pydantic import Field

from tracelet.settings.model import CommaList, SectionModel


class SystemSettings(SectionModel):
    """The ``system`` collector (the interval also paces the ``gpu`` collector)."""

    collect_system_metrics: bool = Field(
        True, description="Sample CPU, memory, disk and network usage into system/* metrics."
    )
    system_metrics_interval: float = Field(
        10.0, gt=0, description="Seconds between two system metric samples."
    )


class GpuSettings(SectionModel):
    """The ``gpu`` collector."""

    collect_gpu_metrics: bool = Field(
        True, description="Sample NVIDIA GPU utilisation, memory, temperature and power."
    )


class GitSettings(SectionModel):
    """The ``git`` collector."""

    track_git_info: bool = Field(
        True, description="Record commit, branch, remote and dirty state of the git repository."
    )
    git_repo_path: str = Field(".", description="Where to look for the git repository.")
    include_uncommitted_changes: bool = Field(
        False, description="Store the uncommitted diff and the list of untracked files."
    )


class EnvironmentSettings(SectionModel):
    """The ``environment`` collector."""

    track_environment: bool = Field(
        True,
        description="Record Python version, platform, hostname, command line, Tracelet "
        "plugins and installed distributions.",
    )


class TensorboardSettings(SectionModel):
    """The ``tensorboard`` capture."""

    capture_tensorboard: bool = Field(
        True,
        description="Send SummaryWriter calls (torch.utils.tensorboard, tensorboardX) to the "
        "run as well as to the event files.",
    )


class LightningSettings(SectionModel):
    """The ``lightning`` capture."""

    capture_lightning: bool = Field(
        True,
        description="Add a TraceletLogger to every Lightning Trainer built without one while "
        "a run is active.",
    )


class TransformersSettings(SectionModel):
    """The ``transformers`` capture."""

    capture_transformers: bool = Field(
        True,
        description="Add a TraceletCallback to every Hugging Face Trainer built while a run is "
        "active, and remove its own MLflow, W&B, ClearML and AIM callbacks for the backends "
        "the run sends to.",
    )


class AutomagicSettings(SectionModel):
    """The ``automagic`` collector (see :mod:`tracelet.automagic` for the rule)."""

    automagic: bool = Field(
        False,
        description="Log the script's hyperparameter variables (learning_rate, batch_size, "
        "...) as params when the run stops, with the models and datasets it holds.",
    )
    automagic_include: CommaList = Field(
        default_factory=list,
        description="Name patterns (fnmatch) of more variables to capture, such as 'n_*'.",
    )
    automagic_exclude: CommaList = Field(
        default_factory=list,
        description="Name patterns of variables never captured; they win over the rest.",
    )
    automagic_hyperparams: bool = Field(
        True, description="With automagic: capture hyperparameter variables."
    )
    automagic_models: bool = Field(
        True, description="With automagic: describe the PyTorch and Keras models found."
    )
    automagic_datasets: bool = Field(
        True, description="With automagic: describe the datasets and data loaders found."
    )


#: The default ``artifact_watch_patterns``: the usual model and checkpoint files.
ARTIFACT_PATTERNS = (
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.safetensors",
    "*.onnx",
    "*.h5",
    "*.keras",
    "*.joblib",
)


class ArtifactCaptureSettings(SectionModel):
    """The ``artifacts`` collector (see :mod:`tracelet_collectors.artifact_watch`)."""

    automagic_artifacts: bool = Field(
        False,
        description="Log the model and checkpoint files written during the run as typed "
        "artifacts (a scan of artifact_watch_dirs every artifact_watch_interval seconds).",
    )
    artifact_watch_dirs: CommaList = Field(
        default_factory=lambda: ["."],
        description="With automagic_artifacts: the folders scanned, four levels deep "
        "(default: the working directory).",
    )
    artifact_watch_patterns: CommaList = Field(
        default_factory=lambda: list(ARTIFACT_PATTERNS),
        description="With automagic_artifacts: file name patterns (fnmatch) of the files captured.",
    )
    artifact_watch_interval: float = Field(
        10.0, gt=0, description="With automagic_artifacts: seconds between two scans."
    )
    artifact_max_mb: float = Field(
        1024.0,
        gt=0,
        description="With automagic_artifacts: larger files are not captured (a warning "
        "names each).",
    )
