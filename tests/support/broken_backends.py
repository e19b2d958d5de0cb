"""Backends with one planted defect each, built on the ``memory`` backend, to show that the
contract kit catches every one of them (tests/core/test_contract_kit.py).

:data:`DEFECTS` maps each backend's name to the words the kit's failure message must contain.
:data:`CORRECT` holds backends that are not broken but take the kit's other paths (a backend
that declares fewer kinds).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, ClassVar

from support.memory_harness import MemoryHarness
from tracelet.artifacts import MANIFEST_FILE, ArtifactInfo, typed_manifest
from tracelet.artifacts.manifest import select_version
from tracelet.backend import RunInfo
from tracelet.backends import memory
from tracelet.backends.memory import MemoryBackend
from tracelet.hookspecs import RegisterBackend, hookimpl
from tracelet.plugins import PluginHost
from tracelet.records import ALL_CAPABILITIES, Batch, Histogram, RunStatus, Text
from tracelet.testing import typed_artifacts_in

Fix = Callable[[Batch], Batch]


def _metrics(change: Callable[[list[tuple[str, float, int, float]]], list]) -> Fix:  # type: ignore[type-arg]
    return lambda batch: dataclasses.replace(batch, metrics=change(list(batch.metrics)))


class _Broken(MemoryBackend):
    """The memory backend, with ``change`` applied to each batch before it is stored."""

    change: ClassVar[Fix | None] = None

    def write(self, batch: Batch) -> None:
        change = type(self).change
        super().write(change(batch) if change is not None else batch)


def _with(change: Fix) -> type[MemoryBackend]:
    return type("Broken", (_Broken,), {"change": staticmethod(change)})


class _FirstParamsOnly(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.seen_params = False

    def write(self, batch: Batch) -> None:
        if self.seen_params:
            batch = dataclasses.replace(batch, params=[])
        self.seen_params = self.seen_params or bool(batch.params)
        super().write(batch)


class _NoStatus(MemoryBackend):
    def close(self, status: RunStatus) -> None:
        """Forgets the status."""


class _FlushFails(MemoryBackend):
    def flush(self) -> None:
        raise OSError("flush failed")


class _StoresThenRaisesOnce(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.raised = False

    def write(self, batch: Batch) -> None:
        super().write(batch)
        if not self.raised and batch.metrics:
            self.raised = True
            raise ConnectionError("stored, then failed")


class _RaisesOnText(MemoryBackend):
    def write(self, batch: Batch) -> None:
        if any(isinstance(m, Text) for m in batch.media):
            raise TypeError("cannot store text")
        super().write(batch)


class _ResumesWithDuplicates(MemoryBackend):
    """Resumes its run by identity, but stores a record sent again a second time."""

    def start(self, run: RunInfo) -> None:
        if run.resume:
            self.store = memory.stored(str(run.resume["run"]))
            return
        super().start(run)

    @property
    def identity(self) -> dict[str, Any] | None:
        return None if self.store is None else {"run": self.store.info.id}


class _DropsManifests(MemoryBackend):
    """Stores a typed artifact version's folder without its ``manifest.json`` (as a backend
    that skips "its own" metadata files would): every file logged is there, the version is
    not."""

    def write(self, batch: Batch) -> None:
        super().write(batch)
        assert self.store is not None
        for artifact in batch.artifacts:
            if typed_manifest(artifact) is not None:
                self.store.artifacts.pop(f"{artifact.name}/{MANIFEST_FILE}", None)


class _ReadsLatestOnly(MemoryBackend):
    """Stores typed artifacts correctly, but its ``get_artifact`` ignores the version asked
    for and returns the latest."""

    def list_artifacts(self) -> list[ArtifactInfo]:
        assert self.store is not None
        return typed_artifacts_in(self.store.artifacts, backend="reads_latest_only")

    def get_artifact(self, name: str, version: int | str = "latest") -> ArtifactInfo | None:
        return select_version(self.list_artifacts(), name, "latest")


class _StoresNoArtifacts(MemoryBackend):
    """Correct: it declares every kind but artifacts (the kit checks that they are counted as
    unsupported, and passes it)."""

    capabilities = ALL_CAPABILITIES - {"artifacts"}


def _histograms_reversed(batch: Batch) -> Batch:
    media = [
        dataclasses.replace(m, counts=tuple(reversed(m.counts))) if isinstance(m, Histogram) else m
        for m in batch.media
    ]
    return dataclasses.replace(batch, media=media)


def _first_line_of_texts(batch: Batch) -> Batch:
    media = [
        dataclasses.replace(m, text=m.text.splitlines()[0]) if isinstance(m, Text) else m
        for m in batch.media
    ]
    return dataclasses.replace(batch, media=media)


#: Backend name → (its class, words the kit's message must contain).
DEFECTS: dict[str, tuple[type[MemoryBackend], str]] = {
    "drops_points": (
        _with(_metrics(lambda ps: [p for i, p in enumerate(ps) if i % 7 != 3])),
        "the steps differ",
    ),
    "reverses_batches": (_with(_metrics(lambda ps: ps[::-1])), "the steps differ"),
    "shifts_steps": (
        _with(_metrics(lambda ps: [(n, v, s + 1, t) for n, v, s, t in ps])),
        "the steps differ",
    ),
    "rounds_values": (
        _with(_metrics(lambda ps: [(n, round(v, 3), s, t) for n, v, s, t in ps])),
        "the value differs",
    ),
    "ignores_timestamps": (
        _with(_metrics(lambda ps: [(n, v, s, time.time()) for n, v, s, _ in ps])),
        "stored timestamp is not the time of the call",
    ),
    "drops_non_finite": (
        _with(_metrics(lambda ps: [p for p in ps if math.isfinite(p[1])])),
        "lost silently",
    ),
    "first_batch_params_only": (_FirstParamsOnly, "params logged after the first batch"),
    "drops_tags": (_with(lambda b: dataclasses.replace(b, tags=[])), "tag 'team' differs"),
    "truncates_artifacts": (
        _with(lambda b: dataclasses.replace(b, artifacts=[a for a in b.artifacts if a.is_dir])),
        "artifact 'models/model.bin' is missing",
    ),
    "never_stores_status": (_NoStatus, "the stored run status differs"),
    "flush_fails": (_FlushFails, "run.flush() returned before"),
    "stores_then_raises": (_StoresThenRaisesOnce, "the steps differ"),
    "drops_images": (
        _with(lambda b: dataclasses.replace(b, media=[m for m in b.media if m.name != "sample"])),
        "images 'sample': not stored once",
    ),
    "reverses_histograms": (_with(_histograms_reversed), "the stored counts differ"),
    "cuts_texts": (_with(_first_line_of_texts), "the stored text differs"),
    "raises_on_text": (_RaisesOnText, "run.stop() did not deliver everything"),
    "resumes_with_duplicates": (_ResumesWithDuplicates, "the steps differ"),
    "drops_manifests": (_DropsManifests, "typed artifact 'contract-model' v0 is missing"),
    "reads_latest_only": (
        _ReadsLatestOnly,
        "run.get_artifact('contract-model', 0, backend='reads_latest_only'): typed artifact "
        "'contract-model' v0 is missing",
    ),
}

#: Backend name → its class, for backends that must pass every check.
CORRECT: dict[str, type[MemoryBackend]] = {"stores_no_artifacts": _StoresNoArtifacts}


def broken_host() -> PluginHost:
    """The installed plugins, plus every backend of :data:`DEFECTS` and :data:`CORRECT` under
    its name."""

    class BrokenPlugin:
        @hookimpl
        def tracelet_register_backends(self, register: RegisterBackend) -> None:
            classes = {name: cls for name, (cls, _) in DEFECTS.items()} | CORRECT
            for name, cls in classes.items():
                register(name, lambda settings, cls=cls: cls())

    host = PluginHost()
    assert host.register(BrokenPlugin(), name="broken").status == "loaded"
    return host


def harness_for(name: str) -> MemoryHarness:
    """The memory harness, pointed at the broken backend ``name``."""
    host = broken_host()
    return type(f"{name}Harness", (MemoryHarness,), {"backend": name, "host": host})()
