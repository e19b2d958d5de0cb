"""The highest layer: the call's arguments (``exp_name``, ``project``, ``backend``, ``group``
and ``config``) as the settings class's init values, with their provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tracelet.settings.model import CORE_KEYS
from tracelet.settings.problems import problem
from tracelet.settings.sources import KeyPath, leaf_paths


@dataclass
class ArgumentLayer:
    """The call's arguments, routed to the keys they set.

    Attributes:
        values: The settings class's init values (sections as nested dicts).
        provenance: Key path → ``"argument config['key']"``, ``"argument project='x'"``, ...
        problems: Keys given twice (flat and in their section), as problem lines.
    """

    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def set(self, path: KeyPath, value: Any, where: str) -> None:
        """Set the top-level key or the section key at ``path``, and the provenance of every
        key inside ``value``."""
        target = self.values
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        for leaf in leaf_paths(value, path):
            self.provenance[leaf] = where


def route_arguments(
    sections: Mapping[str, type[BaseModel]],
    selected: list[str] | None,
    *,
    exp_name: str | None,
    project: str | None,
    backend: str | Sequence[str] | None,
    config: Mapping[str, Any] | None,
    group: str | None = None,
) -> ArgumentLayer:
    """The call's arguments as init values, their provenance, and conflicts found.

    ``config`` keys naming a section go to it (a section model instance is merged like a
    mapping of the keys set on it). A flat key goes to each selected backend's section that
    has it, and to the core as well when the core has it; other flat keys are top-level keys.
    ``exp_name``, ``project``, ``backend`` and ``group`` win over the same keys in ``config``.

    Args:
        sections: Section name → model, for every section of this installation.
        selected: The selected backends (see
            :func:`~tracelet.settings.layers.selected_backends`), ``None`` when malformed.
    """
    layer = ArgumentLayer()
    selected_sections = [name for name in selected or () if name in sections]

    def put(section: str, key: str, value: Any, where: str) -> None:
        target = layer.values.setdefault(section, {})
        if not isinstance(target, dict) or (section, key) in layer.provenance:
            layer.problems.append(
                problem(
                    f"{section}.{key}",
                    "given twice: as a flat key and in its section",
                    "argument config",
                    "give it once",
                )
            )
            return
        layer.set((section, key), value, where)

    for raw_key, raw_value in (config or {}).items():
        key = str(raw_key)
        where = f"argument config[{key!r}]"
        value = raw_value
        if key in sections and isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True)  # merge it like a mapping
        if key in sections and isinstance(value, Mapping):
            layer.provenance[(key,)] = where
            for sub, sub_value in value.items():
                put(key, str(sub), sub_value, f"argument config[{key!r}][{sub!r}]")
        elif owners := [n for n in selected_sections if key in sections[n].model_fields]:
            # A flat key is set wherever it exists: in each selected backend's section that
            # has it, and in the core too if the core has it (``experiment_name``: the run's
            # name and MLflow's experiment), however many backends are selected.
            for owner in owners:
                put(owner, key, value, where)
            if key in CORE_KEYS and key not in layer.values:
                layer.set((key,), value, where)
        elif key in layer.values:
            layer.problems.append(
                problem(key, "given twice: as a flat key and in its section", where, "give it once")
            )
        else:
            layer.set((key,), value, where)

    for key, value, label in (
        ("experiment_name", exp_name, "exp_name"),
        ("project", project, "project"),
        ("backend", backend, "backend"),
        ("group", group, "group"),
    ):
        if value is not None:
            layer.values[key] = value
            layer.provenance[(key,)] = f"argument {label}={value!r}"
    return layer
