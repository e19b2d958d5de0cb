"""Replacing methods of a class and putting back exactly what was there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT = object()


class ClassPatch:
    """Methods of one class replaced by wrappers; :meth:`restore` puts back the class's own
    attributes as they were (an inherited method is inherited again)."""

    def __init__(self, cls: type, wrappers: dict[str, Callable[[Callable[..., Any]], Any]]) -> None:
        self.cls = cls
        self.saved: dict[str, Any] = {}
        for name, wrap in wrappers.items():
            if not hasattr(cls, name):
                continue  # an older version of the library without this method
            self.saved[name] = cls.__dict__.get(name, _ABSENT)
            setattr(cls, name, wrap(getattr(cls, name)))

    def restore(self) -> None:
        for name, original in self.saved.items():
            if original is _ABSENT:
                delattr(self.cls, name)
            else:
                setattr(self.cls, name, original)
        self.saved.clear()
