"""What automagic captures: :class:`AutomagicConfig`, the choices the rest of the package reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AutomagicConfig"]


@dataclass(frozen=True)
class AutomagicConfig:
    """What automagic captures; ``Experiment(automagic_config=...)`` takes one.

    Attributes:
        include: ``fnmatch`` patterns of variable names captured although no hyperparameter
            word is in them (``"n_*"``); the value must still be a plain value.
        exclude: Patterns of names never captured (``"seed"``, ``"*_size"``); they win.
        hyperparams: Capture hyperparameter variables (and argparse namespaces, optimizers).
        models: Describe the PyTorch and Keras models among the variables (automagic only).
        datasets: Describe the datasets and data loaders among the variables (automagic only).
    """

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    hyperparams: bool = True
    models: bool = True
    datasets: bool = True

    def __post_init__(self) -> None:
        # Lists are welcome as arguments; the frozen config keeps tuples.
        for field in ("include", "exclude"):
            value = getattr(self, field)
            if isinstance(value, str):
                value = (value,)
            if not all(isinstance(p, str) for p in value):
                raise TypeError(f"AutomagicConfig.{field} takes name patterns (strings)")
            object.__setattr__(self, field, tuple(value))

    def settings(self) -> dict[str, Any]:
        """These choices as the run's settings keys (``automagic_include``, ...), with
        ``automagic: True``."""
        return {
            "automagic": True,
            "automagic_include": list(self.include),
            "automagic_exclude": list(self.exclude),
            "automagic_hyperparams": self.hyperparams,
            "automagic_models": self.models,
            "automagic_datasets": self.datasets,
        }
