"""The models and datasets among the script's variables, as params: :func:`find_objects`.

Also :func:`flat_params`, which turns the nested facts of :func:`describe_model` and
:func:`describe_dataset` into ``<prefix>/<key>`` params (for the captures too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracelet.automagic.config import AutomagicConfig
from tracelet.automagic.datasets import describe_dataset, is_dataset, loader_dataset
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
    names). A model or dataset that cannot be described is skipped, and so is a module with no
    parameters (a loss function, an activation). A data loader whose dataset another variable
    holds gives only ``<var>/loader_type``, ``<var>/batch_size`` and ``<var>/dataset`` (that
    variable's name), not the dataset's facts again."""
    config = config or AutomagicConfig()
    variables = {n: v for n, v in merged(namespaces).items() if not skipped(n, config)}
    held = {id(v): n for n, v in variables.items() if config.datasets and _plain_dataset(v)}
    out: dict[str, Any] = {}
    for name, value in variables.items():
        try:
            if config.models and is_model(value):
                facts = describe_model(value)
                if facts.get("total_params") != 0:
                    out.update(flat_params(name, facts))
            elif config.datasets and is_dataset(value):
                out.update(flat_params(name, _dataset_facts(value, held)))
        except Exception:
            continue  # a user object that cannot be described is left out, not the run
    return out


def _plain_dataset(value: Any) -> bool:
    """A dataset that is not a data loader."""
    return is_dataset(value) and loader_dataset(value) is None


def _dataset_facts(value: Any, held: Mapping[int, str]) -> dict[str, Any]:
    """A dataset's facts, or a loader's own when another variable holds its dataset."""
    of = loader_dataset(value)
    if of is None or id(of) not in held:
        return describe_dataset(value)
    facts: dict[str, Any] = {"loader_type": type(value).__name__}
    if isinstance(value.batch_size, int):
        facts["batch_size"] = value.batch_size
    facts["dataset"] = held[id(of)]
    return facts
