"""Tracelet's Weights & Biases backend (``backend="wandb"``).

Installing the ``tracelet-wandb`` distribution registers it through the ``tracelet`` entry-point
group; nothing needs importing. :class:`~tracelet_wandb.backend.WandbBackend` is the backend and
:class:`~tracelet_wandb.settings.WandbSettings` the ``wandb:`` settings section.
"""

__version__ = "0.1.0"
