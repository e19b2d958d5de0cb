"""``from tracelet.core.experiment import Experiment, ExperimentConfig``, as in earlier Tracelet
releases: the same class as :class:`tracelet.Experiment` (see :mod:`tracelet.experiment`), and
the earlier options object, read as today's settings (see
:mod:`tracelet.core.experiment_config`)."""

from tracelet.core.experiment_config import ExperimentConfig
from tracelet.experiment import Experiment

__all__ = ["Experiment", "ExperimentConfig"]
