"""The ``automagic`` collector: the script's hyperparameters, models and datasets as params.

With ``automagic`` on (``Experiment(name, automagic=True)``, ``config={"automagic": True}``,
``TRACELET_AUTOMAGIC=true``), it finds, when the run starts, the code that started it (the
first frame outside Tracelet) and reads the variables :mod:`tracelet.automagic`'s rule names:
``__main__``'s module-level names and that frame's locals. It reads them again when the run
stops (collectors stop before the run stops taking records) and logs every hyperparameter once,
then: with its value at the stop, or, for a name gone by then, its value at the start. One
value per name means MLflow never refuses a param for changing; a value assigned after
``start()`` is captured. Models and datasets found among the same variables are described at
the stop too.

Nothing runs between start and stop: no tracing or profiling hook, no thread, so a training
step costs the same with automagic on. A run killed without a stop (``SIGKILL``) logs none of
it; ``SIGTERM``, Ctrl-C and interpreter exit do stop the run.
"""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from tracelet.automagic import AutomagicConfig, find_hyperparams, find_objects, script_namespaces
from tracelet.legacy import is_internal_frame

if TYPE_CHECKING:
    from tracelet.run import Run

logger = logging.getLogger("tracelet.collectors.automagic")


def starting_frame() -> FrameType | None:
    """The frame of the code that called into Tracelet to start the run (``None`` if every
    frame is Tracelet's)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and is_internal_frame(frame):
        frame = frame.f_back
    return frame


class AutomagicCollector:
    """Reads the variables at :meth:`start` and at :meth:`stop`; logs them at :meth:`stop`."""

    def __init__(self, config: AutomagicConfig) -> None:
        self.config = config
        self._run: Run | None = None
        self._frame: FrameType | None = None
        self._at_start: dict[str, Any] = {}

    def start(self, run: Run) -> None:
        self._run = run
        # Kept until stop: a function's locals are read again from its frame, also after the
        # function returned (the frame keeps its last values).
        self._frame = starting_frame()
        if self.config.hyperparams:
            self._at_start = find_hyperparams(script_namespaces(self._frame), self.config)

    def stop(self) -> None:
        run, frame = self._run, self._frame
        self._run = self._frame = None  # the frame holds the script's objects: let them go
        if run is None:
            return
        try:
            spaces = script_namespaces(frame)
            params: dict[str, Any] = {}
            if self.config.hyperparams:
                params = {**self._at_start, **find_hyperparams(spaces, self.config)}
            if self.config.models or self.config.datasets:
                params.update(find_objects(spaces, self.config))
        except Exception:
            logger.warning("tracelet: automagic could not read the variables", exc_info=True)
            return
        finally:
            del frame
        if params:
            run.log_params(params)


def config_from(settings: Any) -> AutomagicConfig:
    """The :class:`~tracelet.automagic.AutomagicConfig` the ``automagic_*`` settings make."""
    return AutomagicConfig(
        include=tuple(settings.automagic_include),
        exclude=tuple(settings.automagic_exclude),
        hyperparams=settings.automagic_hyperparams,
        models=settings.automagic_models,
        datasets=settings.automagic_datasets,
    )


def create(settings: Any) -> AutomagicCollector | None:
    """The factory: a collector when ``automagic`` is on."""
    if not settings.automagic:
        return None
    return AutomagicCollector(config_from(settings))
