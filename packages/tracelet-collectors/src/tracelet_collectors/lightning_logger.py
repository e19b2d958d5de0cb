"""``TraceletLogger``: a Lightning logger that logs into a Tracelet run.

One implementation serves ``lightning.pytorch`` and ``pytorch_lightning``: :func:`logger_class`
builds the class on the ``Logger`` base of either package (a ``Trainer`` accepts only loggers of
its own package). Import it as ``from tracelet_collectors.lightning import TraceletLogger`` or
``from tracelet_collectors.pytorch_lightning import TraceletLogger``.

* ``self.log(...)`` values (tensors included) become metrics at the step Lightning passes, the
  trainer's global step;
* ``save_hyperparameters()`` becomes params (nested dicts flattened with ``/``; values that are
  not numbers, strings or booleans are stored as their ``str``);
* with ``log_model=True`` the checkpoints ``ModelCheckpoint`` keeps (its best ``k`` and last)
  become artifacts ``checkpoints/<file name>`` when the trainer finishes; with ``"all"``, each
  checkpoint as soon as it is saved;
* only rank 0 logs; ``finalize`` (after ``fit``, after ``test``) flushes and never stops the run,
  so ``fit`` then ``test`` go into the same run.

The run is the one given, else the active run, else one started with the keyword arguments of
``start_logging`` given to the logger (``exp_name``, ``project``, ``backend``, ``config``).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from tracelet_collectors.files import keep_until_exit

#: The packages a TraceletLogger can be built for.
PACKAGES = ("lightning.pytorch", "pytorch_lightning")

_classes: dict[str, type] = {}


def is_tracelet_logger(logger: object) -> bool:
    """Whether ``logger`` is a TraceletLogger of either package."""
    return getattr(type(logger), "_is_tracelet_logger", False) is True


def flat_params(params: Mapping[str, Any] | Namespace) -> dict[str, Any]:
    """Hyperparameters as Tracelet params: a ``Namespace`` as a dict, nested mappings kept (the
    run flattens them), other values that are not numbers, strings, booleans or ``None`` as
    their ``str`` (a class, a loss module, a transform)."""
    items = vars(params) if isinstance(params, Namespace) else dict(params)

    def simple(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): simple(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return str(value)

    return {str(k): simple(v) for k, v in items.items()}


def logger_class(package: str) -> type:
    """The ``TraceletLogger`` class for ``package`` (``"lightning.pytorch"`` or
    ``"pytorch_lightning"``), built once."""
    if package not in PACKAGES:
        raise ValueError(f"package must be one of {', '.join(PACKAGES)}; got {package!r}")
    if package not in _classes:
        base = importlib.import_module(f"{package}.loggers.logger").Logger
        _classes[package] = _build(base, package)
    return _classes[package]


def _build(base: type, package: str) -> type:
    from lightning_utilities.core.rank_zero import rank_zero_only

    import tracelet

    class TraceletLogger(base):  # type: ignore[misc]
        __doc__ = f"A ``{package}`` logger that logs into a Tracelet run (see the module doc)."
        _is_tracelet_logger = True

        def __init__(
            self,
            run: tracelet.Run | None = None,
            *,
            log_model: bool | Literal["all"] = False,
            **start_logging: Any,
        ) -> None:
            super().__init__()
            if log_model not in (True, False, "all"):
                raise ValueError(f"log_model must be True, False or 'all'; got {log_model!r}")
            self._run = run
            self._start_logging = start_logging
            self._log_model = log_model
            self._checkpoint_callback: Any = None
            self._logged: set[tuple[str, float]] = set()

        @property
        def name(self) -> str:
            return self.experiment.project

        @property
        def version(self) -> str:
            return self.experiment.id

        @property
        def experiment(self) -> tracelet.Run:
            """The Tracelet run (on every rank: a run of a non-zero rank ignores every call)."""
            if self._run is None:
                self._run = tracelet.get_active_run() or tracelet.start_logging(
                    **self._start_logging
                )
            return self._run

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            self.experiment.log_metrics(dict(metrics), step)

        @rank_zero_only
        def log_hyperparams(
            self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any
        ) -> None:
            self.experiment.log_params(flat_params(params))

        @rank_zero_only
        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            self._checkpoint_callback = checkpoint_callback
            if self._log_model == "all":
                self._log_checkpoints()

        @rank_zero_only
        def finalize(self, status: str) -> None:
            if self._log_model is True and self._checkpoint_callback is not None:
                self._log_checkpoints()
            if self._run is not None:
                self._run.flush()

        def _log_checkpoints(self) -> None:
            """Log the callback's kept checkpoints not logged yet in their current version.
            ``ModelCheckpoint`` may delete a file before the backend copies it: a hard link
            (or a copy, across file systems) is what gets logged."""
            callback = self._checkpoint_callback
            paths = {*callback.best_k_models, callback.last_model_path, callback.best_model_path}
            for path in sorted(p for p in paths if p and os.path.isfile(p)):
                key = (path, os.path.getmtime(path))
                if key in self._logged:
                    continue
                self._logged.add(key)
                name = f"checkpoints/{Path(path).name}"
                self.experiment.log_artifact(_pinned(path), name=name)

    TraceletLogger.__module__ = (
        "tracelet_collectors.lightning"
        if package == "lightning.pytorch"
        else "tracelet_collectors.pytorch_lightning"
    )
    return TraceletLogger


def _pinned(path: str) -> Path:
    """A name for the file at ``path`` that stays valid when ``path`` is deleted or replaced."""
    folder = keep_until_exit(tempfile.mkdtemp(prefix=".tracelet-ckpt-", dir=Path(path).parent))
    target = folder / Path(path).name
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
    return target
