"""The contract kit's harness for the built-in ``memory`` backend (and backends built on it)."""

from __future__ import annotations

from tracelet.backends import memory
from tracelet.records import Histogram, Image, Text
from tracelet.run import Run
from tracelet.testing import BackendHarness, StoredRun


class MemoryHarness(BackendHarness):
    """Reads what a run sent to a ``memory`` store, every kind of record included."""

    backend = "memory"

    def read(self, run: Run) -> StoredRun:
        store = memory.stored(run)
        images: dict[str, list[tuple[int, bytes]]] = {}
        histograms: dict[str, list[tuple[int, list[float]]]] = {}
        texts: dict[str, list[tuple[int, str]]] = {}
        for m in store.media:
            if isinstance(m, Image):
                images.setdefault(m.name, []).append((m.step, m.png))
            elif isinstance(m, Histogram):
                histograms.setdefault(m.name, []).append((m.step, list(m.counts)))
            elif isinstance(m, Text):
                texts.setdefault(m.name, []).append((m.step, m.text))
        return StoredRun(
            metrics={n: [(m.step, m.value) for m in pts] for n, pts in store.metrics.items()},
            metric_times={n: [m.timestamp for m in pts] for n, pts in store.metrics.items()},
            params=dict(store.params),
            tags=dict(store.tags),
            artifacts=dict(store.artifacts),
            status=store.status,
            name=store.info.name,
            images=images,
            histograms=histograms,
            texts=texts,
        )
