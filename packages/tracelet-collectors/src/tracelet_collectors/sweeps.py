"""What the sweep integrations (:mod:`tracelet_collectors.optuna`,
:mod:`tracelet_collectors.ray_tune`) share: each trial of a sweep is a Tracelet run of its own, a
run of the sweep's group.

A trial's run is started with ``activate=False`` and no collectors:

* it never stops or replaces the active run, so a run the user started around the whole sweep
  (``tracelet.start_logging`` before ``study.optimize`` or ``tuner.fit``) goes on, and trials
  that run at the same time (Ray Tune, Optuna with ``n_jobs``) each keep their own run;
* it holds only what the integration logs: the system, GPU, git and environment collectors and
  the TensorBoard and Lightning captures stay with the user's own run. (They would describe the
  driver process, not the trial, and a capture would send the user's values to a trial run.)

A sweep run inside a run of the user's (``Trainer.hyperparameter_search`` in
:mod:`tracelet_collectors.transformers`) starts its trials' runs as that run was started:
:meth:`TrialRuns.like`.

Importing this module imports nothing of Optuna or Ray.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.run import Run
    from tracelet.settings import ResolvedSettings

#: The start of the provenance of a value the ``start_logging`` call's arguments set.
ARGUMENT_SOURCE = "argument "
#: The keys that are a run's own, or that :class:`TrialRuns` holds apart: never copied from a
#: run's ``config`` to its trials'.
OWN_KEYS = frozenset({"experiment_name", "group", "project", "backend"})
#: Section keys that name or resume one backend run (the first-party backends'): copied to
#: trials, they would send every trial into the user's run there.
RUN_IDENTITY_KEYS = frozenset(
    {
        ("mlflow", "run_id"),
        ("mlflow", "run_name"),
        ("wandb", "id"),
        ("wandb", "name"),
        ("wandb", "resume"),
        ("clearml", "task_name"),
        ("clearml", "reuse_last_task_id"),
        ("clearml", "continue_last_task"),
        ("aim", "run_hash"),
        ("aim", "run_name"),
    }
)


@dataclass(frozen=True)
class TrialRuns:
    """Starts the run of one trial with the arguments of :func:`tracelet.start_logging`.

    Attributes:
        project: The project (default: Tracelet's, from the environment, ``tracelet.yaml`` or
            ``"default"``).
        backend: A backend name or a list of names (default: Tracelet's, ``"local"``).
        config: More settings, as for ``start_logging``.
    """

    project: str | None = None
    backend: str | Sequence[str] | None = None
    config: Mapping[str, Any] | None = None

    @classmethod
    def like(cls, run: Run) -> TrialRuns:
        """The trial runs of a sweep inside ``run``, started as ``run`` was: with its project,
        its backends and what its ``start_logging`` call set through ``config`` (see
        :func:`given_config`), but not its name or group. The environment and
        ``tracelet.yaml`` apply to them as to any run."""
        resolved = run.settings
        config = None if resolved is None else given_config(resolved)
        return cls(run.project, list(run.backends), config)

    def check(self) -> None:
        """Resolve the settings once, now, so that a mistake is reported when the callback is
        made rather than when the first trial ends (which may be hours later).

        Raises:
            ConfigError: As :func:`tracelet.start_logging` would (unknown backend or key, wrong
                type, bad ``tracelet.yaml``).
        """
        from tracelet.plugins import get_default_host
        from tracelet.settings import resolve_settings

        resolve_settings(
            get_default_host(), project=self.project, backend=self.backend, config=self.config
        )

    def start(self, name: str, group: str | None) -> Run:
        """Start the run of a trial named ``name`` in ``group``, beside the active run.

        Raises:
            ConfigError, BackendStartError: As :func:`tracelet.start_logging`.
        """
        from tracelet.session import start_run

        return start_run(
            name,
            self.project,
            self.backend,
            self.config,
            group=group,
            collectors=False,
            activate=False,
        )


def given_config(resolved: ResolvedSettings) -> dict[str, Any]:
    """What a run's ``start_logging`` call set through its arguments, as a ``config``: each
    top-level key and each section key whose value came from an argument (by ``config``, flat
    or in its section, or the earlier ``settings``), with its validated value; not
    :data:`OWN_KEYS` nor :data:`RUN_IDENTITY_KEYS`."""
    config: dict[str, Any] = {}
    for path, source in resolved.provenance.items():
        if not source.startswith(ARGUMENT_SOURCE) or path[0] in OWN_KEYS:
            continue
        if tuple(path) in RUN_IDENTITY_KEYS:
            continue
        section = resolved.section(path[0])
        if section is None and len(path) == 1:
            config[path[0]] = getattr(resolved.model, path[0])
        elif section is not None and len(path) == 2:
            config.setdefault(path[0], {})[path[1]] = getattr(section, path[1])
    return config
