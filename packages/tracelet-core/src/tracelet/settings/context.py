"""What the explanations of configuration errors know about one resolution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from tracelet.settings.layers import LayerProvenance, source_in_layers
from tracelet.settings.model import CoreSettings
from tracelet.settings.sources import KeyPath

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost


@dataclass(frozen=True)
class ResolutionContext:
    """One resolution's settings class, sections, selected backends and layers.

    Attributes:
        cls: The settings class of this installation.
        sections: Section name → model, for every installed section.
        selected: The selected backends, ``None`` when the value is malformed.
        host: The plugin host (installed, broken and unloaded plugins).
        layers: The provenance of each layer, highest priority first.
    """

    cls: type[CoreSettings]
    sections: Mapping[str, type[BaseModel]]
    selected: list[str] | None
    host: PluginHost
    layers: LayerProvenance

    def source(self, path: KeyPath) -> str:
        """The source of the value validated at ``path``: the highest layer that set it
        (``"default"`` when none did)."""
        return source_in_layers(self.layers, path, self.sections)

    @property
    def missing(self) -> set[str]:
        """Selected backends that are not available (each reported as a backend problem)."""
        return {n for n in self.selected or () if n not in self.host.backends}
