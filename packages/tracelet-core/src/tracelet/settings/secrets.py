"""Secrets: which keys hold one, how values are masked, and the warning for one in a file.

A key is secret when its field is typed with a pydantic secret (``SecretStr``, ``SecretBytes``,
``Secret[...]``), alone or inside a container (``dict[str, SecretStr]``). Its value is never
shown: ``tracelet config`` and :class:`~tracelet.settings.ResolvedSettings` print
:data:`~tracelet.redact.REDACTED`, and an error about it does not quote the input.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Secret, SecretBytes, SecretStr

from tracelet.redact import REDACTED, redact_uri_credentials
from tracelet.settings.model import model_in
from tracelet.settings.sources import KeyPath, env_var_name

logger = logging.getLogger("tracelet.settings")

#: The pydantic types whose values are secrets.
SECRET_TYPES = (SecretStr, SecretBytes, Secret)


def has_secret(annotation: Any) -> bool:
    """Whether a field's type is a secret type or contains one (``dict[str, SecretStr]``)."""
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, SECRET_TYPES):
        return True
    return any(has_secret(a) for a in typing.get_args(annotation))


def is_secret(cls: type[BaseModel], path: KeyPath) -> bool:
    """Whether the value at ``path`` is, or lies inside, a field typed with a secret."""
    model: type[BaseModel] | None = cls
    for part in path:
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return False
        if has_secret(field.annotation):
            return True
        model = model_in(field.annotation)
    return False


def redact(value: Any) -> Any:
    """``value`` fit to show: a set secret as :data:`~tracelet.redact.REDACTED` (an empty one
    as ``""``), passwords in URIs masked, inside mappings, lists and tuples too."""
    if isinstance(value, SECRET_TYPES):
        return REDACTED if value.get_secret_value() else ""
    if isinstance(value, str):
        return redact_uri_credentials(value)
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def warn_secrets_in_file(
    cls: type[BaseModel],
    file_provenance: Mapping[KeyPath, str],
    native_env: Mapping[str, tuple[str, str]],
) -> None:
    """Log a warning on the ``tracelet.settings`` logger for each secret set in the config
    file, naming the file and line and the env var to use instead (never the value).

    Args:
        cls: The settings class.
        file_provenance: Key path → ``"<file>:<line>"`` for every key in the file.
        native_env: Native env var → (section, key), named as the alternative to the
            ``TRACELET_`` env var.
    """
    native = {path: var for var, path in native_env.items()}
    for path, source in file_provenance.items():
        if len(path) > 1 and is_secret(cls, path[:-1]):
            continue  # warn once, for the key itself
        if is_secret(cls, path):
            var = env_var_name(path)
            alias = native.get((path[0], path[-1])) if len(path) == 2 else None
            logger.warning(
                "%s: the secret %s is set in a config file, which is easy to commit or share; "
                "set env var %s instead",
                source,
                ".".join(path),
                f"{var} (or {alias})" if alias else var,
            )
