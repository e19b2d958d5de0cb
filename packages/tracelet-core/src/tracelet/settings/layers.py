"""Precedence: which layer a value comes from, and which backends are selected.

A run's settings come in layers, highest priority first: the call's arguments
(:mod:`tracelet.settings.arguments`), the env vars, the YAML file
(:mod:`tracelet.settings.sources`), then the defaults. pydantic-settings merges the values key by
key in that order (see :func:`~tracelet.settings.model.build_settings_class`); the functions
here apply the same order to the provenance of each layer (key path → ``"env var NAME"``,
``"/path/tracelet.yaml:3"``, ...), so that an error or ``tracelet config`` names the layer whose
value won.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from tracelet.settings.model import CORE_KEYS, CoreSettings, split_commas
from tracelet.settings.sources import KeyPath

#: The provenance of each layer, highest priority first.
LayerProvenance = Sequence[Mapping[KeyPath, str]]


def merge_provenance(layers: LayerProvenance) -> dict[KeyPath, str]:
    """One provenance for the merged settings: each key path's source in the highest layer
    that has it."""
    merged: dict[KeyPath, str] = {}
    for layer in reversed(layers):  # lowest priority first, so higher layers overwrite
        merged.update(layer)
    return merged


def source_in(
    provenance: Mapping[KeyPath, str], path: KeyPath, sections: Iterable[str]
) -> str | None:
    """The source of ``path`` in a merged provenance: its own entry, else the closest
    enclosing key's; ``None`` when neither is there (the value is a default).

    A section's own entry does not stand for the keys inside it: every key given in a section
    has its own entry, and the others have their default.
    """
    if path in provenance:
        return provenance[path]
    roots = set(sections)
    for end in range(len(path) - 1, 0, -1):
        if end == 1 and path[0] in roots:
            break
        if path[:end] in provenance:
            return provenance[path[:end]]
    return None


def source_in_layers(layers: LayerProvenance, path: KeyPath, sections: Iterable[str]) -> str:
    """The source of the value validated at ``path``: the highest layer that set it.

    The key's own entry wins in any layer; else the closest enclosing key's (not a section's:
    the keys of a section have their own entries); else, for a value built from nested keys
    only (``TRACELET_PROJECT__X`` makes ``project`` a mapping), the first key below it.
    ``"default"`` when no layer set it.
    """
    roots = set(sections)
    for layer in layers:
        if path in layer:
            return layer[path]
    for end in range(len(path) - 1, 0, -1):
        if end == 1 and path[0] in roots:
            break
        for layer in layers:
            if path[:end] in layer:
                return layer[path[:end]]
    for layer in layers:
        for key, found in layer.items():
            if key[: len(path)] == path:
                return found
    return "default"


def backend_names(value: Any) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` as a list; ``None`` when malformed (validation says so)."""
    names = split_commas(value)
    if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
        return [n.strip() for n in names if n.strip()]
    return None


def selected_backends(
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
    layers_below_arguments: Sequence[Mapping[str, Any]],
) -> list[str] | None:
    """The backend list by precedence, before validation (to route flat keys and check names).

    Args:
        backend: The call's ``backend`` argument (it wins over ``config['backend']``).
        config: The call's ``config`` argument.
        layers_below_arguments: The values of the env vars and the file, highest first.

    Returns:
        The winning list, ``["local"]`` when no layer sets one, or ``None`` when the winning
        value is malformed (validation reports it).
    """
    candidates = (backend, (config or {}).get("backend"))
    for candidate in (*candidates, *(layer.get("backend") for layer in layers_below_arguments)):
        if candidate is not None:
            return backend_names(candidate)
    return ["local"]


def sections_of(cls: type[CoreSettings]) -> dict[str, type[BaseModel]]:
    """Section name → model, for every section of this installation's settings class."""
    out: dict[str, type[BaseModel]] = {}
    for name, field in cls.model_fields.items():
        if name in CORE_KEYS:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = annotation
    return out
