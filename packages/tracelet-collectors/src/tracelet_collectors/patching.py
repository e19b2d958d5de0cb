"""Replacing methods of library classes while a run is active, and putting back exactly what
was there (the TensorBoard and Lightning captures)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tracelet_collectors.imports import ImportWatcher

if TYPE_CHECKING:
    from tracelet.run import Run

#: Takes the class's method and returns what replaces it.
Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

_ABSENT = object()


class ClassPatch:
    """Methods of one class replaced by wrappers; :meth:`restore` puts back the class's own
    attributes as they were (an inherited method is inherited again)."""

    def __init__(self, cls: type, wrappers: dict[str, Wrap]) -> None:
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


class RunPatcher:
    """Patches one class of each module in ``modules`` (when it is imported, or at once if it
    already is) for as long as a run is attached; the wrappers read :attr:`run` at each call.

    Attaching a second run switches the patch to it (the classes are patched once); detaching
    the attached run removes the patches and the import watcher.

    Args:
        modules: The modules to watch.
        class_name: The class to patch in each (``"SummaryWriter"``, ``"Trainer"``).
        wrappers: Given the module, its method name → wrap function.
    """

    def __init__(
        self,
        modules: Sequence[str],
        class_name: str,
        wrappers: Callable[[ModuleType], dict[str, Wrap]],
    ) -> None:
        self.modules = tuple(modules)
        self.class_name = class_name
        self.wrappers = wrappers
        self.lock = threading.RLock()
        self.run: Run | None = None
        self.patches: list[ClassPatch] = []
        self.watcher: ImportWatcher | None = None

    def attach(self, run: Run) -> None:
        with self.lock:
            self.run = run
            if self.watcher is None:
                self.watcher = ImportWatcher(self.modules, self._patch_module)

    def detach(self, run: Run) -> None:
        with self.lock:
            if self.run is not run:
                return  # a newer run took over the patch
            self.run = None
            if self.watcher is not None:
                self.watcher.close()
                self.watcher = None
            for patch in self.patches:
                patch.restore()
            self.patches.clear()

    def _patch_module(self, module: ModuleType) -> None:
        cls = getattr(module, self.class_name, None)
        with self.lock:
            if not isinstance(cls, type) or any(p.cls is cls for p in self.patches):
                return
            self.patches.append(ClassPatch(cls, self.wrappers(module)))


class PatchCollector:
    """The collector of a capture: attaches the run to ``patcher`` from ``start`` to ``stop``."""

    def __init__(self, patcher: RunPatcher) -> None:
        self.patcher = patcher
        self._run: Run | None = None

    def start(self, run: Run) -> None:
        self._run = run
        self.patcher.attach(run)

    def stop(self) -> None:
        if self._run is not None:
            self.patcher.detach(self._run)
