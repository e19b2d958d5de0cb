"""Hyperparameters of the training libraries as Tracelet params (the transformers and accelerate
integrations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def string_keys(value: Any) -> Any:
    """``value`` with the key of every mapping in it as a string, as params need them (a model
    config's ``id2label`` has int keys). Values are left to the run: it keeps numbers, strings,
    booleans and ``None``, and stores lists as JSON and other objects as their ``str``."""
    if isinstance(value, Mapping):
        return {str(k): string_keys(v) for k, v in value.items()}
    return value
