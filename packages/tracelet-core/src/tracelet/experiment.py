"""``tracelet.Experiment``: the entry point of earlier Tracelet releases, as a facade over
:class:`~tracelet.run.Run`.

It holds what the constructor was given and, once started, the run; every call goes to that
run (:func:`tracelet.start_logging` starts it), so nothing here logs, stores or delivers by
itself. New code can call :func:`tracelet.start_logging` directly; ``experiment.run`` gives the
whole :class:`~tracelet.run.Run` API.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tracelet.values import step_value

if TYPE_CHECKING:
    from tracelet.artifacts.builder import TypedArtifact
    from tracelet.artifacts.manifest import ArtifactInfo
    from tracelet.artifacts.types import ArtifactType
    from tracelet.core.experiment_config import ExperimentConfig
    from tracelet.run import Run

Tags = Mapping[str, Any] | Iterable[str]


class Experiment:
    """A named run to start, log to and stop, as in earlier Tracelet releases.

    ``Experiment(name, ...)`` only records its arguments; :meth:`start` starts the run
    (``start_logging(exp_name=name, backend=backend, config=config)``, so env vars and
    ``tracelet.yaml`` apply as for any run) and sets ``tags`` on it. A ``with`` block starts it
    and stops it, ``"failed"`` if an exception escapes.

    Args:
        name: The run's name.
        config: Settings for the run, as ``start_logging``'s ``config`` (earlier key names such
            as ``track_system`` are read as today's); a
            :class:`tracelet.settings.TraceletSettings` works too, and so does an earlier
            :class:`tracelet.core.experiment.ExperimentConfig`: the fields set away from their
            defaults are read as today's keys here, each said once
            (:meth:`~tracelet.core.experiment.ExperimentConfig.settings`), and its
            ``enable_automagic`` and ``automagic_artifacts`` act as the arguments below.
        backend: A backend name or a list of names (default: settings, else ``local``).
        tags: Tags set on the run when it starts: a mapping of name to value, or a list of
            labels (each a tag with an empty value, shown as the label in W&B and ClearML).
        automagic: Log the script's hyperparameter variables (``learning_rate``,
            ``batch_size``, ... also those assigned after :meth:`start`) and the models and
            datasets it holds as params when the run stops: the ``automagic`` setting (see
            :mod:`tracelet.automagic` for the rule).
        automagic_config: A :class:`tracelet.automagic.AutomagicConfig` saying what automagic
            captures (include and exclude patterns, switches); giving one turns automagic on.
        artifacts: Accepted for earlier scripts; typed artifacts are always available
            (:meth:`create_artifact`, :meth:`log_artifact`, ``docs/artifacts.md``).
        automagic_artifacts: Log the model and checkpoint files written during the run
            (``*.pt``, ``*.ckpt``, ...) as typed artifacts: the ``automagic_artifacts`` setting
            of Tracelet's collectors (``docs/artifacts.md``).
    """

    def __init__(  # noqa: PLR0917 - the earlier releases' signature, positional arguments too
        self,
        name: str,
        config: Mapping[str, Any] | ExperimentConfig | None = None,
        backend: str | Sequence[str] | None = None,
        tags: Tags | None = None,
        automagic: bool = False,
        automagic_config: Any = None,
        artifacts: bool = False,
        automagic_artifacts: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Experiment name must be a non-empty string, got {name!r}")
        self._name = name
        self._config: Mapping[str, Any] | ExperimentConfig = config if config is not None else {}
        self._run_config: Mapping[str, Any] = _run_config(config)
        self._backend = backend
        self._tags = tags
        self._tag_values = _tag_values(tags)  # checked now, set at start
        self._run: Run | None = None
        self._iteration = 0
        self._iteration_set = False
        self._automagic = _automagic_settings(automagic, automagic_config)
        if automagic_artifacts:
            self._automagic["automagic_artifacts"] = True

    # -- what it was given ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name given (the run's name)."""
        return self._name

    @property
    def config(self) -> Mapping[str, Any] | ExperimentConfig:
        """The ``config`` given (``{}`` if none), an ``ExperimentConfig`` included."""
        return self._config

    @property
    def tags(self) -> Tags:
        """The ``tags`` given (``[]`` if none)."""
        return self._tags if self._tags is not None else []

    @property
    def run(self) -> Run | None:
        """The run, once :meth:`start` has been called (``None`` before)."""
        return self._run

    @property
    def id(self) -> str | None:
        """The run's id, once started (``None`` before)."""
        return None if self._run is None else self._run.id

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> Experiment:
        """Start the run and make it the active one; does nothing while it is running.

        After :meth:`stop`, it starts a new run with the same arguments.

        Returns:
            This experiment.

        Raises:
            ConfigError: Invalid settings (see :func:`tracelet.start_logging`).
            BackendStartError: A backend could not start.
        """
        if self._run is not None and self._run.status == "running":
            return self
        from tracelet import start_logging

        config = {**self._run_config, **self._automagic} if self._automagic else self._run_config
        run = start_logging(exp_name=self._name, backend=self._backend, config=config)
        if self._tag_values:
            run.set_tags(self._tag_values)
        self._run = run
        return self

    def stop(self) -> bool:
        """Stop the run (see :meth:`tracelet.Run.stop`); nothing happens if it is not running.

        Returns:
            True if every backend received everything in time.
        """
        return True if self._run is None else self._run.stop()

    def end(self) -> bool:
        """The same as :meth:`stop`."""
        return self.stop()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every backend has written what was logged so far (see
        :meth:`tracelet.Run.flush`); True at once when no run was started.

        Returns:
            True if every backend confirmed in time.
        """
        return True if self._run is None else self._run.flush(timeout)

    def __enter__(self) -> Experiment:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._run is not None:
            self._run.__exit__(exc_type, exc, tb)

    # -- logging -------------------------------------------------------------------------------

    def set_iteration(self, iteration: int) -> None:
        """Make ``iteration`` the step of the metrics logged next without one.

        Raises:
            TypeError, ValueError: ``iteration`` is not a whole number in the 64-bit range.
        """
        self._iteration = step_value(iteration, "set_iteration")
        self._iteration_set = True

    @property
    def iteration(self) -> int:
        """The last :meth:`set_iteration` value (0 before the first)."""
        return self._iteration

    def log_metric(self, name: str, value: float, iteration: int | None = None) -> None:
        """Log one point of a metric at ``iteration``; without one, at the
        :meth:`set_iteration` value, or (if it was never set) at the name's next automatic
        step, as :meth:`tracelet.Run.log_metric`.

        Raises:
            RuntimeError: The experiment has not been started.
            TypeError, ValueError: As :meth:`tracelet.Run.log_metric`.
        """
        if iteration is None and self._iteration_set:
            iteration = self._iteration
        self._started("log_metric").log_metric(name, value, iteration)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (see :meth:`tracelet.Run.log_params`).

        Raises:
            RuntimeError: The experiment has not been started.
        """
        self._started("log_params").log_params(params)

    def log_hyperparameter(self, name: str, value: Any) -> None:
        """Log one parameter (see :meth:`tracelet.Run.log_param`).

        Raises:
            RuntimeError: The experiment has not been started.
        """
        self._started("log_hyperparameter").log_param(name, value)

    def log_artifact(
        self, path: str | os.PathLike[str] | TypedArtifact, artifact_path: str | None = None
    ) -> ArtifactInfo | None:
        """Store a typed artifact (from :meth:`create_artifact`) as its next version, or a file
        or a directory under ``artifact_path`` (its destination in the run's artifacts, such as
        ``"models/best.pt"``; default: the file's name).

        Returns:
            For a typed artifact, the version logged (:class:`tracelet.artifacts.ArtifactInfo`,
            as stored in the run folder; each backend stores it shortly after, see
            :meth:`get_artifact`); ``None`` for a file or a directory.

        Raises:
            RuntimeError: The experiment has not been started.
            FileNotFoundError, ValueError: As :meth:`tracelet.Run.log_artifact`.
        """
        return self._started("log_artifact").log_artifact(path, name=artifact_path)

    def create_artifact(
        self,
        name: str,
        artifact_type: ArtifactType | str,
        description: str | None = None,
    ) -> TypedArtifact:
        """A new typed artifact to fill and pass to :meth:`log_artifact` (no run needed yet).

        Raises:
            TypeError, ValueError: An invalid name or type (see
                :class:`tracelet.artifacts.TypedArtifact`).
        """
        from tracelet.artifacts.builder import TypedArtifact

        return TypedArtifact(name, artifact_type, description)

    def get_artifact(
        self, name: str, version: int | str = "latest", backend: str | None = None
    ) -> ArtifactInfo | None:
        """A logged version of a typed artifact, or ``None`` (see
        :meth:`tracelet.Run.get_artifact`).

        Raises:
            RuntimeError: The experiment has not been started.
        """
        return self._started("get_artifact").get_artifact(name, version, backend)

    def list_artifacts(
        self, type_filter: ArtifactType | str | None = None, backend: str | None = None
    ) -> list[ArtifactInfo]:
        """The logged typed artifact versions (see :meth:`tracelet.Run.list_artifacts`).

        Raises:
            RuntimeError: The experiment has not been started.
        """
        return self._started("list_artifacts").list_artifacts(type_filter, backend)

    def log_file_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """The same as :meth:`log_artifact`."""
        self.log_artifact(local_path, artifact_path)

    def _started(self, call: str) -> Run:
        run = self._run
        if run is None:
            raise RuntimeError(
                f"Experiment {self._name!r}: {call} before start(); call .start() first, or "
                "use the experiment in a with block"
            )
        return run

    def __repr__(self) -> str:
        state = "not started" if self._run is None else self._run.status
        return f"<tracelet.Experiment {self._name!r} {state}>"


def _run_config(config: Mapping[str, Any] | ExperimentConfig | None) -> Mapping[str, Any]:
    """The ``config`` a run is started with: as given, or an ``ExperimentConfig`` read as
    today's keys (which says what changed, once per process; see
    :meth:`tracelet.core.experiment.ExperimentConfig.settings`)."""
    if config is None:
        return {}
    from tracelet.core.experiment_config import ExperimentConfig

    return config.settings() if isinstance(config, ExperimentConfig) else config


def _automagic_settings(automagic: bool, config: Any) -> dict[str, Any]:
    """The settings ``automagic`` and ``automagic_config`` add to the run's config.

    Raises:
        TypeError: ``config`` is not an ``AutomagicConfig``.
    """
    if config is None:
        return {"automagic": True} if automagic else {}
    from tracelet.automagic import AutomagicConfig

    if not isinstance(config, AutomagicConfig):
        raise TypeError(
            "automagic_config takes a tracelet.automagic.AutomagicConfig, got "
            f"{type(config).__name__}"
        )
    return config.settings()


def _tag_values(tags: Tags | None) -> dict[str, Any]:
    """The tags to set: a mapping as given; labels (a list, or one string) with empty values.

    Raises:
        TypeError: ``tags`` is neither a mapping nor strings.
    """
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return dict(tags)
    labels = [tags] if isinstance(tags, str) else list(tags)
    bad = [label for label in labels if not isinstance(label, str) or not label]
    if bad:
        raise TypeError(
            f"Experiment tags must be a mapping or a list of non-empty strings; got {bad[0]!r}"
        )
    return dict.fromkeys(labels, "")
