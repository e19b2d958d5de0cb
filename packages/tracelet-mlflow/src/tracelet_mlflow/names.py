"""What Tracelet does to names and values MLflow would refuse, so that no batch is lost.

MLflow rejects a whole ``log_batch`` request when one key breaks its rules. Tracelet rewrites
such keys instead, the same way every time, so a name always lands under the same key:

* A metric, param or tag key may hold letters, digits, ``_ - . /``, spaces and ``:``. Every
  other character becomes ``_`` (``"loss[0]"`` → ``"loss_0_"``).
* Keys are paths: empty parts and ``.``/``..`` parts are not allowed (``"a//b/"`` → ``"a/b"``,
  ``"../x"`` → ``"__/x"``).
* A key longer than 250 characters keeps its first 241 and ends with ``-`` and 8 hex digits of
  the full name's SHA-1, so two long names that share a prefix stay apart.
* A param value longer than MLflow's limit (6000 characters) is stored cut to the limit, ending
  in :data:`TRUNCATED`; the backend stores the full value as an artifact. A tag value longer
  than its limit (8000) is cut the same way.
* Artifact paths made from names (text, figures, histograms) follow the key rules without ``:``.
"""

from __future__ import annotations

import hashlib
import re

#: The longest metric, param or tag key MLflow accepts.
MAX_KEY_LENGTH = 250
#: Appended to a value cut to MLflow's length limit.
TRUNCATED = "...[truncated]"

_NOT_KEY = re.compile(r"[^/\w.\- :]")
_NOT_PATH = re.compile(r"[^/\w.\- ]")
_NOT_IMAGE_KEY = re.compile(r"[^a-zA-Z0-9_\-./ ]")


def _as_path(name: str, invalid: re.Pattern[str]) -> str:
    parts = [p for p in invalid.sub("_", name).split("/") if p]
    cleaned = "/".join("_" * len(p) if p in (".", "..") else p for p in parts) or "_"
    if len(cleaned) > MAX_KEY_LENGTH:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[: MAX_KEY_LENGTH - 9]}-{digest}"
    return cleaned


def mlflow_key(name: str) -> str:
    """``name`` as a metric, param or tag key MLflow accepts (itself when already valid)."""
    return _as_path(name, _NOT_KEY)


def artifact_path(name: str) -> str:
    """``name`` as a relative artifact path (no ``:``, no empty or dot parts)."""
    return _as_path(name, _NOT_PATH)


def image_key(name: str) -> str:
    """``name`` as a key for ``MlflowClient.log_image`` (ASCII letters, digits, ``_-./ ``)."""
    return _as_path(name, _NOT_IMAGE_KEY)


def truncate(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending in :data:`TRUNCATED` (itself if short)."""
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED
