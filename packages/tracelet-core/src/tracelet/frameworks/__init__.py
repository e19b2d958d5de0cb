"""The framework integrations of earlier Tracelet releases, as today's captures.

Today a run captures frameworks by itself: ``SummaryWriter`` calls with
``capture_tensorboard``, Lightning ``Trainer`` metrics with ``capture_lightning``, Hugging Face
``Trainer`` logs with ``capture_transformers`` (the ``tracelet-collectors`` distribution; see
docs/integrations). :class:`CaptureFramework` and its classes in
:mod:`tracelet.frameworks.pytorch` and :mod:`tracelet.frameworks.lightning` keep the earlier
calls working: they check that the capture is on for the run, and log into it.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from tracelet.collectors import import_collectors_module

if TYPE_CHECKING:
    from tracelet.experiment import Experiment
    from tracelet.plugins import PluginHost
    from tracelet.run import Run

logger = logging.getLogger("tracelet.frameworks")

#: Capture (the collector's name) → ways its library can be installed: every module of one
#: tuple importable. Only top-level modules are looked up, so nothing gets imported.
LIBRARIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "tensorboard": (("torch", "tensorboard"), ("tensorboardX",)),
    "lightning": (("lightning",), ("pytorch_lightning",)),
    "transformers": (("transformers",),),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module in sys.modules without a spec
        return False


def available_frameworks(host: PluginHost | None = None) -> list[str]:
    """The captures of :data:`LIBRARIES` that ``host`` (default: the process's) registers and
    whose library is importable, sorted (see :func:`tracelet.available_frameworks`)."""
    if host is None:
        from tracelet.plugins import get_default_host

        host = get_default_host()
    return sorted(
        name
        for name, ways in LIBRARIES.items()
        if name in host.collectors and any(all(_importable(m) for m in way) for way in ways)
    )


class CaptureFramework:
    """An earlier framework object, over today's capture of the ``tracelet_collectors`` module
    :attr:`module`, switched by the setting :attr:`setting`.

    Raises:
        ImportError: ``tracelet-collectors`` (which has the captures) is not installed.
    """

    #: The ``tracelet_collectors`` module of the capture.
    module: ClassVar[str]
    #: The setting that switches the capture on.
    setting: ClassVar[str]
    #: What the capture sends to the run, for messages.
    captured: ClassVar[str]

    def __init__(self) -> None:
        import_collectors_module(self.module, f"tracelet.frameworks.{type(self).__name__}")
        self._target: Run | Experiment | None = None

    def initialize(self, experiment: Run | Experiment | None = None) -> None:
        """Log into ``experiment`` (a run or an :class:`~tracelet.Experiment`); default: the
        active run at each call."""
        self._target = experiment

    def start_tracking(self) -> None:
        """Check that the capture is on for the run, and warn if it is not: the capture
        itself starts and stops with the run.

        Raises:
            RuntimeError: No run is active (or the experiment given has not started).
        """
        run = self._run()
        if not self._capturing(run):
            logger.warning(
                "tracelet: %s is off for run %r, so %s are not captured; start the run with "
                "config={'%s': True}",
                self.setting,
                run.name,
                self.captured,
                self.setting,
            )

    def _capturing(self, run: Run) -> bool:
        """Whether the capture is on for ``run`` (True for a no-op run: nothing to say)."""
        resolved = run.settings
        return resolved is None or bool(getattr(resolved.model, self.setting, False))

    def stop_tracking(self) -> None:
        """Nothing to do: the capture ends when the run stops."""

    def log_metric(self, name: str, value: float, iteration: int | None = None) -> None:
        """Log a metric into the run (see :meth:`tracelet.Run.log_metric`).

        Raises:
            RuntimeError: No run is active (or the experiment given has not started).
        """
        self._run().log_metric(name, value, iteration)

    def _run(self) -> Run:
        target: Any = self._target
        if target is None:
            from tracelet.session import get_active_run

            target = get_active_run()
        elif not hasattr(target, "log_metrics"):  # an Experiment: its run, once started
            target = target.run
        if target is None:
            raise RuntimeError(
                f"{type(self).__name__}: no run to log into; start one first "
                "(tracelet.start_logging(...) or Experiment(...).start())"
            )
        run: Run = target
        return run
