"""Automagic: hyperparameters, model and dataset facts found in your script, logged as params.

Three calls log into the active run (or the ``run`` given) and return what they logged:

* :func:`capture_hyperparams` — the hyperparameter-like variables of the calling code;
* :func:`capture_model` — parameter counts, layers and size of a PyTorch (or Keras) model;
* :func:`capture_dataset` — size, first-item shapes and dtypes, class counts of a dataset.

With ``automagic: true`` (``Experiment(name, automagic=True)``, ``TRACELET_AUTOMAGIC=true``), the
``automagic`` collector of ``tracelet-collectors`` applies the same rule for the whole run: it
reads the variables when the run starts and again when it stops, and logs each one once, at the
stop, with its final value (so a value assigned after ``start()`` is there too, and MLflow never
sees a param change value). No tracing hook is installed: a training step costs nothing more.

**The rule.** The variables read are the module-level names of ``__main__`` and the locals of
the code that started the run (the first frame outside Tracelet; not a library's frame, such as
a Lightning ``Trainer`` starting the run from ``site-packages``); a local hides a module-level
name. A variable is a hyperparameter when:

1. its value is a ``bool``, ``int``, ``float`` or ``str`` (at most :data:`MAX_TEXT` characters),
   or a list or tuple of at most :data:`MAX_ITEMS` of those;
2. its name does not start with ``_``;
3. its name, split into words at ``_`` and at lower-to-upper case changes and lowercased, has a
   word of :data:`HYPERPARAMETER_WORDS` (a word's trailing digits are ignored: ``beta1``) and no
   word of :data:`NOT_HYPERPARAMETER_WORDS` (``val_loss``, ``data_path``, ``best_acc``);
4. then :attr:`AutomagicConfig.include` patterns (``fnmatch``, case-sensitive) add names the
   words miss, and :attr:`AutomagicConfig.exclude` patterns remove names, whatever else says.

So ``learning_rate``, ``LR``, ``batch_size``, ``num_epochs``, ``weight_decay``, ``dropout``,
``seed``, ``hidden_sizes = [256, 128]`` and ``optimizer_name = "adam"`` are captured; a loop
counter ``epoch`` or ``i``, ``loss``, ``data_path`` and objects (a model, an optimizer) are not.
Besides, among the same variables: an ``argparse.Namespace`` gives its plain values as
``<var>/<option>``, a PyTorch optimizer its class and first parameter group as
``<var>/type``, ``<var>/lr``, ..., and (switches :attr:`AutomagicConfig.models` and
:attr:`AutomagicConfig.datasets`) a model or a dataset its :func:`capture_model` or
:func:`capture_dataset` facts under ``<var>/``.

Nothing here imports torch, numpy or keras: objects are recognised by what they have
(``parameters()`` and ``named_modules()``, ``count_params()``, ``shape`` and ``dtype``).

**The modules.** Every name above is importable from here; each job has its module (no module
of this package much over 250 lines):

* :mod:`tracelet.automagic.config` — :class:`AutomagicConfig`;
* :mod:`tracelet.automagic.names` — the rule: word lists, value filter,
  :func:`is_hyperparameter`, :func:`find_hyperparams`, :func:`script_namespaces`;
* :mod:`tracelet.automagic.models` — :func:`describe_model`, :func:`is_model`;
* :mod:`tracelet.automagic.datasets` — :func:`describe_dataset`, :func:`is_dataset`;
* :mod:`tracelet.automagic.objects` — :func:`find_objects`, the models and datasets among the
  variables;
* this package — the three captures, which log.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tracelet.automagic.config import AutomagicConfig
from tracelet.automagic.datasets import MAX_CLASSES as MAX_CLASSES
from tracelet.automagic.datasets import MAX_COUNTED_TARGETS as MAX_COUNTED_TARGETS
from tracelet.automagic.datasets import describe_dataset, is_dataset
from tracelet.automagic.models import describe_model, is_model
from tracelet.automagic.names import (
    HYPERPARAMETER_WORDS,
    NOT_HYPERPARAMETER_WORDS,
    find_hyperparams,
    is_hyperparameter,
    script_namespaces,
)
from tracelet.automagic.names import MAX_ITEMS as MAX_ITEMS
from tracelet.automagic.names import MAX_TEXT as MAX_TEXT
from tracelet.automagic.objects import find_objects, flat_params

if TYPE_CHECKING:
    from tracelet.run import Run

__all__ = [
    "HYPERPARAMETER_WORDS",
    "NOT_HYPERPARAMETER_WORDS",
    "AutomagicConfig",
    "capture_dataset",
    "capture_hyperparams",
    "capture_model",
    "describe_dataset",
    "describe_model",
    "find_hyperparams",
    "find_objects",
    "is_dataset",
    "is_hyperparameter",
    "is_model",
    "script_namespaces",
]


class _ParamSink(Protocol):
    """Anything params are logged to: a :class:`~tracelet.Run`, a started ``Experiment``."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...


def _sink(run: _ParamSink | None) -> _ParamSink:
    """``run``, or else the active run.

    Raises:
        RuntimeError: No run given and none active.
    """
    if run is not None:
        return run
    from tracelet.session import get_active_run

    active = get_active_run()
    if active is None:
        raise RuntimeError(
            "no active run: start one (tracelet.start_logging(...) or Experiment(...).start()) "
            "or pass run="
        )
    return active


def capture_hyperparams(
    run: Run | _ParamSink | None = None, config: AutomagicConfig | None = None
) -> dict[str, Any]:
    """Log the hyperparameter variables of the calling code now (the rule of
    :mod:`tracelet.automagic`, read from ``__main__`` and the caller's locals).

    Args:
        run: Where to log (a :class:`~tracelet.Run` or a started ``Experiment``); default: the
            active run.
        config: Include and exclude patterns.

    Returns:
        The params logged, by name.

    Raises:
        RuntimeError: No run given and none active.
    """
    sink = _sink(run)
    found = find_hyperparams(script_namespaces(sys._getframe(1)), config)
    if found:
        sink.log_params(found)
    return found


def capture_model(
    model: Any, run: Run | _ParamSink | None = None, *, name: str = "model"
) -> dict[str, Any]:
    """Log :func:`describe_model`'s facts as params ``<name>/total_params``, ...

    Returns:
        The params logged, by name.

    Raises:
        TypeError: ``model`` is not a PyTorch or Keras model.
        RuntimeError: No run given and none active.
    """
    facts = flat_params(name, describe_model(model))
    _sink(run).log_params(facts)
    return facts


def capture_dataset(
    ds: Any, run: Run | _ParamSink | None = None, *, name: str = "dataset"
) -> dict[str, Any]:
    """Log :func:`describe_dataset`'s facts as params ``<name>/size``, ``<name>/sample/shape``,
    ``<name>/class_counts/<label>``, ...

    Returns:
        The params logged, by name.

    Raises:
        RuntimeError: No run given and none active.
    """
    facts = flat_params(name, describe_dataset(ds))
    _sink(run).log_params(facts)
    return facts
