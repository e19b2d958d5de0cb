"""Acting on a module when it is imported, without importing it first.

The TensorBoard and Lightning captures patch classes of torch, tensorboardX and Lightning only
when the user's code uses them: a module already imported is patched at once, and one imported
later is patched right after it executes, through a finder at the front of ``sys.meta_path``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

OnImport = Callable[[ModuleType], None]


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Calls ``on_import(module)`` for each module of ``names``: now for those already imported,
    and right after a later import executes one. ``close`` removes the finder."""

    def __init__(self, names: Sequence[str], on_import: OnImport) -> None:
        self.names = frozenset(names)
        self.on_import = on_import
        self._local = threading.local()
        sys.meta_path.insert(0, self)
        for name in names:
            module = sys.modules.get(name)
            if module is not None:
                on_import(module)

    def close(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names or getattr(self._local, "finding", False):
            return None
        self._local.finding = True  # the finders below may call find_spec again
        try:
            spec = _find_with_others(self, fullname, path, target)
        finally:
            self._local.finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ThenCall(spec.loader, self.on_import)
        return spec


def _find_with_others(
    me: object, fullname: str, path: Sequence[str] | None, target: ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    for finder in sys.meta_path:
        if finder is me:
            continue
        find = getattr(finder, "find_spec", None)
        if find is not None:
            spec = find(fullname, path, target)
            if spec is not None:
                return spec  # type: ignore[no-any-return]
    return None


class _ThenCall(importlib.abc.Loader):
    """The module's own loader, then ``on_import`` on the executed module."""

    def __init__(self, loader: Any, on_import: OnImport) -> None:
        self.loader = loader
        self.on_import = on_import

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.on_import(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self.loader, name)
