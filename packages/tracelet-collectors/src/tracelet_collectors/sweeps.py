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

Importing this module imports nothing of Optuna or Ray.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.run import Run


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
