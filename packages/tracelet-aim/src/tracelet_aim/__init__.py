"""Tracelet's AIM backend (``backend="aim"``).

Installing the ``tracelet-aim`` distribution registers it through the ``tracelet`` entry-point
group; nothing needs importing. :class:`~tracelet_aim.backend.AimBackend` is the backend and
:class:`~tracelet_aim.settings.AimSettings` the ``aim:`` settings section.
"""

__version__ = "0.1.0"
