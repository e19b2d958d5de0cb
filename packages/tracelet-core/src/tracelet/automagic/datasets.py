"""The facts of a dataset: :func:`describe_dataset`.

:func:`~tracelet.automagic.capture_dataset` logs them; automagic logs them for the datasets
(:func:`is_dataset`) among the script's variables.

Neither torch, numpy nor ``datasets`` is imported: an array or tensor is anything with ``shape``
and ``dtype``, and :func:`is_dataset` goes by class names and modules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_CLASSES", "MAX_COUNTED_TARGETS", "describe_dataset", "is_dataset"]

#: Targets longer than this are not counted into classes (counting must stay cheap).
MAX_COUNTED_TARGETS = 1_000_000
#: Class counts are logged for at most this many classes (``num_classes`` always).
MAX_CLASSES = 50


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def is_dataset(value: Any) -> bool:
    """Whether automagic describes ``value`` as a dataset: a PyTorch ``Dataset``,
    ``IterableDataset`` or ``DataLoader``, or a Hugging Face ``Dataset`` (by their classes'
    names and modules, nothing imported). :func:`describe_dataset` takes more than these."""
    if isinstance(value, type):
        return False
    for cls in type(value).__mro__:
        module = cls.__module__ or ""
        if (cls.__name__ in {"Dataset", "DataLoader", "IterableDataset"}) and module.startswith(
            ("torch.utils.data", "datasets.")
        ):
            return True
    return False


def _shape_and_dtype(value: Any) -> dict[str, Any]:
    if _is_array(value):
        return {"shape": [int(d) for d in value.shape], "dtype": str(value.dtype)}
    if isinstance(value, bool | int | float | str):
        return {"dtype": type(value).__name__}
    return {"type": type(value).__name__}


def _item_facts(item: Any) -> dict[str, Any]:
    """Shapes and dtypes of a dataset's first item: ``sample/shape`` for one array,
    ``sample/<i>/shape`` for a tuple, ``sample/<key>/shape`` for a mapping."""
    if isinstance(item, tuple | list):
        return {
            f"sample/{i}/{k}": v
            for i, part in enumerate(item)
            for k, v in _shape_and_dtype(part).items()
        }
    if isinstance(item, Mapping):
        return {
            f"sample/{key}/{k}": v
            for key, part in item.items()
            for k, v in _shape_and_dtype(part).items()
        }
    return {f"sample/{k}": v for k, v in _shape_and_dtype(item).items()}


def _targets(ds: Any) -> Any:
    """Labels that are cheap to get: ``targets`` or ``labels``, or the last of several tensors
    or arrays (``TensorDataset``, an ``(x, y)`` tuple) when it is one-dimensional."""
    for attr in ("targets", "labels"):
        found = getattr(ds, attr, None)
        if found is not None and not callable(found):
            return found
    columns = getattr(ds, "tensors", None)
    if columns is None and isinstance(ds, tuple | list) and all(_is_array(c) for c in ds):
        columns = ds
    if columns is not None and len(columns) >= 2:
        last = columns[-1]
        if _is_array(last) and len(last.shape) == 1:
            return last
    return None


def _class_counts(targets: Any) -> dict[str, Any]:
    """``num_classes`` and ``class_counts`` of integer or string labels; nothing for
    regression targets, for more than :data:`MAX_COUNTED_TARGETS` labels, or for labels that
    are not ints or strs."""
    if _is_array(targets) and not any(
        k in str(targets.dtype) for k in ("int", "bool", "str", "<U")
    ):
        return {}  # regression targets
    try:
        if len(targets) > MAX_COUNTED_TARGETS:
            return {}
        values = targets.tolist() if callable(getattr(targets, "tolist", None)) else list(targets)
    except TypeError:
        return {}
    if not all(isinstance(v, int | str) for v in values):
        return {}
    counts = Counter(values)
    out: dict[str, Any] = {"num_classes": len(counts)}
    if len(counts) <= MAX_CLASSES:
        out["class_counts"] = {str(k): n for k, n in sorted(counts.items())}
    return out


def loader_dataset(value: Any) -> Any:
    """The dataset of a data loader (an object with ``dataset`` and ``batch_size``), or
    ``None`` when ``value`` is not one."""
    of = getattr(value, "dataset", None)
    if of is None or not hasattr(value, "batch_size") or _is_array(value):
        return None
    return of


def describe_dataset(ds: Any) -> dict[str, Any]:
    """The facts of a dataset, without logging them, reading at most its first item.

    ``type``; ``size`` (``len``); the first item's shapes and dtypes (``sample/shape``,
    ``sample/dtype``, or per part ``sample/0/shape``, ...); ``num_classes`` and
    ``class_counts`` (up to :data:`MAX_CLASSES` classes) when integer or string labels are at
    hand: ``ds.targets``, ``ds.labels``, the last tensor of a ``TensorDataset``, the last array
    of an ``(x, y)`` tuple. A ``DataLoader`` gives its dataset's facts and its ``batch_size``.
    An array or tensor is a dataset of its rows. A dataset without ``len`` has no size, and its
    first item is not read.
    """
    facts: dict[str, Any] = {}
    loader_of = loader_dataset(ds)
    if loader_of is not None:
        facts["loader_type"] = type(ds).__name__
        if isinstance(ds.batch_size, int):
            facts["batch_size"] = ds.batch_size
        ds = loader_of
    facts["type"] = type(ds).__name__
    if _is_array(ds):
        facts["size"] = int(ds.shape[0]) if len(ds.shape) else 1
        facts["sample/shape"] = [int(d) for d in ds.shape[1:]]
        facts["sample/dtype"] = str(ds.dtype)
        return facts
    try:
        size = len(ds)
    except TypeError:
        return facts
    facts["size"] = size
    if isinstance(ds, tuple | list) and ds and all(_is_array(c) for c in ds):
        facts["size"] = int(ds[0].shape[0])  # columns (x, y): rows are the samples
        facts.update(_item_facts(tuple(c[0] for c in ds)))
    elif size and callable(getattr(ds, "__getitem__", None)):
        facts.update(_item_facts(ds[0]))
    targets = _targets(ds)
    if targets is not None:
        facts.update(_class_counts(targets))
    return facts
