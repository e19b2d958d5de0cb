"""Tracelet's ClearML backend (``backend="clearml"``).

Installing the ``tracelet-clearml`` distribution registers it through the ``tracelet``
entry-point group; nothing needs importing. :class:`~tracelet_clearml.backend.ClearmlBackend` is
the backend and :class:`~tracelet_clearml.settings.ClearmlSettings` the ``clearml:`` section.
"""

__version__ = "0.1.0"
