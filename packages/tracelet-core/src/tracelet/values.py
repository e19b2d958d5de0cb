"""Turning what users pass into what records hold, without importing numpy or torch.

Python numbers, NumPy scalars and 0-d arrays, and 0-d (or one-element) tensors all become
plain floats through their ``.item()`` method (duck typing), so these helpers work the same
whether or not those libraries are installed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.records import Param, ParamValue


def metric_value(value: object, name: str) -> float:
    """The float to log for ``value`` (the slow path: the caller already ruled out ``float``).

    Raises:
        TypeError: ``value`` is not a real number or a one-element array or tensor.
        ValueError: ``value`` is an integer too large for a float (beyond ±1.8e308).
    """
    kind = type(value)
    if kind is int or kind is bool:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise _too_large(name, value) from None
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(
            f"metric {name!r}: value must be a number, got {kind.__name__} {value!r}; "
            "log text with run.log_text() or a param with run.log_param()"
        )
    item = getattr(value, "item", None)
    if callable(item):
        try:
            value = item()
        except (ValueError, RuntimeError) as exc:
            shape = getattr(value, "shape", None)
            raise TypeError(
                f"metric {name!r}: value must be a single number, got a {kind.__name__} of "
                f"shape {tuple(shape) if shape is not None else '?'}; reduce it first "
                "(e.g. loss.mean())"
            ) from exc
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise _too_large(name, value) from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric {name!r}: value must be a number, got {kind.__name__}") from exc


def _too_large(name: str, value: object) -> ValueError:
    if isinstance(value, int):  # str() of a huge int is itself refused past 4300 digits
        bits = value.bit_length()
        digits = str(len(str(abs(value)))) if bits < 10_000 else f"over {int(bits * 0.30103)}"
        size = f"an integer of {digits} digits"
    else:
        size = f"{type(value).__name__} {value!r}"
    return ValueError(
        f"metric {name!r}: {size} is too large for a float (at most about 1.8e308); log it "
        "scaled, or as a param or text"
    )


#: The steps every backend can store (a signed 64-bit integer).
STEP_MIN = -(2**63)
STEP_MAX = 2**63 - 1


def step_value(step: object, where: str) -> int:
    """The int step for ``step`` (the caller already ruled out ``int`` and ``None``).

    Args:
        step: What the caller passed: a whole float, a NumPy integer, a 0-d tensor.
        where: What the step belongs to, for the error (``"metric 'loss'"``).

    Raises:
        TypeError: ``step`` is not a whole number.
        ValueError: ``step`` is outside the signed 64-bit range.
    """
    if isinstance(step, bool):
        raise TypeError(f"{where}: step must be an int, got bool {step!r}")
    item = getattr(step, "item", None)
    raw: object = step
    if callable(item):
        try:
            raw = item()
        except (ValueError, RuntimeError):  # a multi-element array or tensor
            raw = step
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not STEP_MIN <= raw <= STEP_MAX:
            raise ValueError(
                f"{where}: step {raw} is outside the 64-bit range every backend stores "
                f"({STEP_MIN}..{STEP_MAX}); log a smaller step"
            )
        return int(raw)
    raise TypeError(f"{where}: step must be a whole number, got {type(step).__name__} {step!r}")


def check_name(name: object, what: str = "metric") -> str:
    """Reject empty and non-string names with a clear error."""
    if type(name) is str and name:
        return name
    if isinstance(name, str) and name:
        return str(name)
    raise TypeError(f"{what} name must be a non-empty string, got {name!r}")


def param_value(value: Any) -> ParamValue:
    """A param value backends can store: scalars as they are, everything else as text.

    Numpy scalars become Python scalars; enums their value; paths strings; lists, tuples and
    sets JSON when possible (``[32, 64]``), ``str()`` otherwise.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    enum = sys.modules.get("enum")  # an Enum exists only if its module was imported
    if enum is not None and isinstance(value, enum.Enum):
        return param_value(value.value)
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        try:
            return param_value(item())
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        import json

        try:
            return json.dumps(seq, default=str)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> list[Param]:
    """Params from a possibly nested mapping: ``{"opt": {"lr": 0.1}}`` → ``opt/lr = 0.1``; an
    empty mapping is the param ``"{}"`` (``{"scheduler": {}}`` → ``scheduler = {}``).

    Raises:
        TypeError: A key is not a string or is empty.
    """
    from tracelet.records import Param

    out: list[Param] = []
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"param names must be non-empty strings, got {key!r}")
        name = f"{prefix}/{key}" if prefix else key
        if isinstance(value, Mapping) and not value:
            out.append(Param(name, "{}"))  # an empty section stays visible
        elif isinstance(value, Mapping):
            out.extend(flatten_params(value, name))
        else:
            out.append(Param(name, param_value(value)))
    return out


def is_finite(value: float) -> bool:
    """``math.isfinite`` under a name the run's slow path reads well with."""
    return math.isfinite(value)
