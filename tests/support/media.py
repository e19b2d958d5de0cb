"""Media read back from a backend, by kind, in the contract's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Media:
    """Name → ``(step, content)`` pairs per kind: image file bytes, histogram counts, text."""

    images: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    histograms: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    texts: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
