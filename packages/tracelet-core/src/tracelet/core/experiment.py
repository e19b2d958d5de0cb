"""``from tracelet.core.experiment import Experiment``, as in earlier Tracelet releases: the same
class as :class:`tracelet.Experiment` (see :mod:`tracelet.experiment`)."""

from tracelet.experiment import Experiment

__all__ = ["Experiment"]
