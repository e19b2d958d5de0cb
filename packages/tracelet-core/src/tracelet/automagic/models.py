"""The facts of a PyTorch or Keras model: :func:`describe_model`.

:func:`~tracelet.automagic.capture_model` logs them; automagic logs them for the models among
the script's variables.

Neither torch nor keras is imported: a PyTorch module is anything with ``parameters()`` and
``named_modules()``, a Keras model anything with ``count_params()`` and ``layers``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tracelet.automagic.names import MAX_TEXT

__all__ = ["describe_model", "is_model"]


def _is_torch_module(value: Any) -> bool:
    return callable(getattr(value, "parameters", None)) and callable(
        getattr(value, "named_modules", None)
    )


def _is_keras_model(value: Any) -> bool:
    return callable(getattr(value, "count_params", None)) and hasattr(value, "layers")


def is_model(value: Any) -> bool:
    """Whether ``value`` is a model :func:`describe_model` describes (not a class)."""
    return not isinstance(value, type) and (_is_torch_module(value) or _is_keras_model(value))


def _type_summary(types: Iterable[str], limit: int = MAX_TEXT) -> str:
    """``"Linear x2, ReLU x1"``, in order of first appearance, cut at ``limit`` characters."""
    counts = Counter(types)
    text = ", ".join(f"{t} x{n}" for t, n in counts.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_model(model: Any) -> dict[str, Any]:
    """The facts of a model, without logging them.

    For a PyTorch module (anything with ``parameters()`` and ``named_modules()``): ``type``,
    ``total_params``, ``trainable_params`` (``requires_grad``), ``frozen_params`` (shared
    parameters counted once), ``layers`` (modules without children), ``layer_types``
    (``"Linear x2, ReLU x1"``) and ``size_mb`` (parameters and buffers, in MiB). For a built
    Keras model: the same from its weights and ``layers``.

    Raises:
        TypeError: ``model`` is neither.
    """
    if isinstance(model, type) or not is_model(model):
        raise TypeError(
            f"capture_model takes a torch.nn.Module or a Keras model, got {type(model).__name__}"
        )
    if _is_keras_model(model):  # first: on Keras' torch backend a model is a torch module too
        return _describe_keras(model)
    return _describe_torch(model)


def _describe_torch(model: Any) -> dict[str, Any]:
    total = trainable = size = 0
    for p in model.parameters():
        n = int(p.numel())
        total += n
        trainable += n if getattr(p, "requires_grad", True) else 0
        size += n * int(p.element_size())
    buffers = getattr(model, "buffers", None)
    for b in buffers() if callable(buffers) else ():
        size += int(b.numel()) * int(b.element_size())
    leaves = [
        type(m).__name__
        for _, m in model.named_modules()
        if m is not model and next(iter(m.children()), None) is None
    ] or [type(model).__name__]  # a model without submodules is one layer
    return {
        "type": type(model).__name__,
        "total_params": total,
        "trainable_params": trainable,
        "frozen_params": total - trainable,
        "layers": len(leaves),
        "layer_types": _type_summary(leaves),
        "size_mb": round(size / 2**20, 4),
    }


def _weights_size(weights: Iterable[Any]) -> tuple[int, int]:
    """(values, bytes) of Keras weights."""
    count = size = 0
    for w in weights:
        n = math.prod(int(d) for d in w.shape)
        count += n
        size += n * _itemsize(getattr(w, "dtype", "float32"))
    return count, size


def _itemsize(dtype: Any) -> int:
    """Bytes per value of a dtype named with its bits (``float16`` -> 2); 4 when unnamed."""
    bits = re.search(r"(\d+)", str(dtype))
    return int(bits.group(1)) // 8 if bits else 4


def _describe_keras(model: Any) -> dict[str, Any]:
    trainable, trainable_size = _weights_size(getattr(model, "trainable_weights", ()))
    frozen, frozen_size = _weights_size(getattr(model, "non_trainable_weights", ()))
    layers = [type(layer).__name__ for layer in model.layers]
    return {
        "type": type(model).__name__,
        "total_params": trainable + frozen,
        "trainable_params": trainable,
        "frozen_params": frozen,
        "layers": len(layers),
        "layer_types": _type_summary(layers),
        "size_mb": round((trainable_size + frozen_size) / 2**20, 4),
    }
