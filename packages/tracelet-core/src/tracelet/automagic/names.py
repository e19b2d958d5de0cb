"""The hyperparameter naming rule, and where the variables it reads are.

The rule itself is stated in :mod:`tracelet.automagic`'s docstring; this module holds its word
lists (:data:`HYPERPARAMETER_WORDS`, :data:`NOT_HYPERPARAMETER_WORDS`), the value filter
(:data:`MAX_TEXT`, :data:`MAX_ITEMS`), :func:`is_hyperparameter` for one variable,
:func:`find_hyperparams` for whole namespaces (argparse namespaces and PyTorch optimizers too)
and :func:`script_namespaces`, the namespaces of the code that started a run.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import re
import sys
from collections.abc import Iterable, Mapping
from types import FrameType
from typing import Any

from tracelet.automagic.config import AutomagicConfig

__all__ = [
    "HYPERPARAMETER_WORDS",
    "MAX_ITEMS",
    "MAX_TEXT",
    "NOT_HYPERPARAMETER_WORDS",
    "find_hyperparams",
    "is_hyperparameter",
    "merged",
    "script_namespaces",
    "skipped",
]

#: A variable whose name has one of these words is a hyperparameter (see
#: :mod:`tracelet.automagic`).
# fmt: off
HYPERPARAMETER_WORDS: frozenset[str] = frozenset({
    # optimisation
    "lr", "learning", "rate", "momentum", "decay", "wd", "beta", "betas", "eps", "epsilon",
    "optimizer", "optim", "scheduler", "warmup", "gamma", "alpha", "lambda", "lam", "clip",
    "accumulation", "accumulate", "patience", "tol", "temperature", "smoothing",
    # schedule and batching
    "bs", "epochs", "steps", "iters", "iterations", "seed", "workers", "shuffle",
    # architecture
    "hidden", "layers", "heads", "units", "neurons", "dim", "dims", "size", "sizes", "depth",
    "width", "channels", "kernel", "stride", "filters", "embedding", "embed", "vocab", "classes",
    "activation", "arch", "architecture", "backbone", "model", "pretrained", "dropout", "drop",
    # regularisation and classic estimators
    "regularization", "reg", "l1", "l2", "penalty", "estimators", "leaves", "margin",
    "threshold", "augment", "augmentation",
    # sequences
    "len", "length", "seq", "horizon", "window",
})

#: A variable whose name has one of these words is never a hyperparameter: results, counters
#: and locations.
NOT_HYPERPARAMETER_WORDS: frozenset[str] = frozenset({
    "loss", "losses", "acc", "accuracy", "score", "scores", "metric", "metrics", "correct",
    "best", "path", "dir", "file", "filename", "url", "uri", "time", "elapsed", "duration",
    "idx", "index", "count", "counter", "error", "err",
})
# fmt: on

#: The longest string captured as a hyperparameter.
MAX_TEXT = 250
#: The longest list or tuple captured as a hyperparameter.
MAX_ITEMS = 16

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_DIGITS = re.compile(r"\d+$")


# -- one variable ------------------------------------------------------------------------------


def _words(name: str) -> list[str]:
    """``"learningRate_2"`` -> ``["learning", "rate", "2"]``: split at ``_`` and at lower-to-upper
    case changes, lowercased."""
    return [w for w in _CAMEL.sub("_", name).lower().split("_") if w]


def _plain(value: Any) -> bool:
    """A value captured as it is: bool, int, a finite float, a str of at most :data:`MAX_TEXT`
    characters, a list or tuple of at most :data:`MAX_ITEMS` of those."""
    if isinstance(value, bool | int | float):
        return not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list | tuple) and len(value) <= MAX_ITEMS:
        return all(isinstance(v, bool | int | float | str) and _plain(v) for v in value)
    return False


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _frozen(value: Any) -> Any:
    """A list as a tuple, so that a captured value no longer changes with the script's."""
    return tuple(value) if isinstance(value, list) else value


def skipped(name: str, config: AutomagicConfig) -> bool:
    """Whether automagic never reads the variable ``name``: it starts with ``_`` or matches an
    :attr:`AutomagicConfig.exclude` pattern."""
    return name.startswith("_") or _matches(name, config.exclude)


def is_hyperparameter(name: str, value: Any, config: AutomagicConfig | None = None) -> bool:
    """Whether the variable ``name`` holding ``value`` is captured (the rule of
    :mod:`tracelet.automagic`)."""
    config = config or AutomagicConfig()
    if name.startswith("_") or not _plain(value) or _matches(name, config.exclude):
        return False
    if _matches(name, config.include):
        return True
    words = _words(name)
    if any(w in NOT_HYPERPARAMETER_WORDS for w in words):
        return False
    return any(
        w in HYPERPARAMETER_WORDS or _DIGITS.sub("", w) in HYPERPARAMETER_WORDS for w in words
    )


# -- whole namespaces --------------------------------------------------------------------------


def merged(namespaces: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The variables of ``namespaces`` in one dict; a later namespace hides an earlier one's
    name."""
    out: dict[str, Any] = {}
    for namespace in namespaces:
        out.update(namespace)
    return out


def find_hyperparams(
    namespaces: Iterable[Mapping[str, Any]], config: AutomagicConfig | None = None
) -> dict[str, Any]:
    """The hyperparameters in ``namespaces`` (a later namespace hides an earlier one's name):
    plain variables by :func:`is_hyperparameter`, and the values of argparse namespaces and
    PyTorch optimizers held by any variable (see :mod:`tracelet.automagic`). Lists become
    tuples, so the result is a snapshot."""
    config = config or AutomagicConfig()
    found: dict[str, Any] = {}
    for name, value in merged(namespaces).items():
        if skipped(name, config):
            continue
        try:
            if isinstance(value, argparse.Namespace):
                found.update(
                    (f"{name}/{k}", _frozen(v)) for k, v in vars(value).items() if _plain(v)
                )
            elif _is_optimizer(value):
                found.update(_optimizer_params(name, value))
            elif is_hyperparameter(name, value, config):
                found[name] = _frozen(value)
        except Exception:
            continue  # an object whose attributes raise is left out, not the others
    return found


def _is_optimizer(value: Any) -> bool:
    """Whether ``value`` looks like a PyTorch optimizer: a ``step()`` and a non-empty list of
    dict ``param_groups``."""
    groups = getattr(value, "param_groups", None)
    return (
        isinstance(groups, list)
        and bool(groups)
        and isinstance(groups[0], dict)
        and callable(getattr(value, "step", None))
    )


def _optimizer_params(name: str, optimizer: Any) -> dict[str, Any]:
    """``<name>/type`` and the plain values of the first parameter group (``lr``, ...)."""
    group = optimizer.param_groups[0]
    out: dict[str, Any] = {f"{name}/type": type(optimizer).__name__}
    out.update((f"{name}/{k}", _frozen(v)) for k, v in group.items() if k != "params" and _plain(v))
    return out


# -- where the variables are -------------------------------------------------------------------


def script_namespaces(frame: FrameType | None) -> list[Mapping[str, Any]]:
    """The namespaces the rule reads for code running in ``frame``: ``__main__``'s module
    globals, then the frame's locals (unless the frame is module level, or a library's)."""
    spaces: list[Mapping[str, Any]] = []
    main = sys.modules.get("__main__")
    main_globals = getattr(main, "__dict__", None)
    if main_globals is not None:
        spaces.append(main_globals)
    if frame is not None and not _library_frame(frame):
        local = frame.f_locals
        if local is not main_globals:
            spaces.append(local)
    return spaces


def _library_frame(frame: FrameType) -> bool:
    """Whether ``frame`` runs an installed package's code (``site-packages``,
    ``dist-packages``)."""
    filename = frame.f_code.co_filename
    return "site-packages" in filename or "dist-packages" in filename
