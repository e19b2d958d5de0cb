"""The models and datasets among the script's variables, as params: :func:`find_objects`.

Also :func:`flat_params`, which turns the nested facts of :func:`describe_model` and
:func:`describe_dataset` into ``<prefix>/<key>`` params (for the captures too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracelet.automagic.config import AutomagicConfig
from tracelet.automagic.datasets import describe_dataset, is_dataset
from tracelet.automagic.models import describe_model, is_model
from tracelet.automagic.names import merged, skipped

__all__ = ["find_objects", "flat_params"]


def flat_params(prefix: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """``facts`` as params named ``<prefix>/<key>``; a nested mapping's keys are joined with
    ``/`` too (``class_counts`` -> ``<prefix>/class_counts/<label>``)."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, Mapping):
            out.update(flat_params(f"{prefix}/{key}", value))
        else:
            out[f"{prefix}/{key}"] = value
    return out


def find_objects(
    namespaces: Iterable[Mapping[str, Any]], config: AutomagicConfig | None = None
) -> dict[str, Any]:
    """The facts of the models and datasets held by the variables of ``namespaces``, under
    ``<var>/`` (switches ``models`` and ``datasets``; ``exclude`` applies to the variable
    names). A model or dataset that cannot be described is skipped."""
    config = config or AutomagicConfig()
    out: dict[str, Any] = {}
    for name, value in merged(namespaces).items():
        if skipped(name, config):
            continue
        try:
            if config.models and is_model(value):
                out.update(flat_params(name, describe_model(value)))
            elif config.datasets and is_dataset(value):
                out.update(flat_params(name, describe_dataset(value)))
        except Exception:
            continue  # a user object that cannot be described is left out, not the run
    return out
