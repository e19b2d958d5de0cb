"""What Tracelet does to names and values MLflow would refuse, so that no batch is lost.

MLflow rejects a whole ``log_batch`` request when one key breaks its rules. Tracelet rewrites
such keys instead, by one rule that depends on the name alone, so a name lands under the same
key in every run and every process, and two different names never share a key:

* A name MLflow accepts as it is stays as it is.
* Otherwise its readable form is made: a metric, param or tag key may hold letters, digits,
  ``_ - . /``, spaces and ``:``, and every other character becomes ``_``; keys are paths, so
  empty parts are dropped, a part of dots only (``.``, ``..``) becomes as many ``_`` and a
  leading ``..`` becomes ``__``. The key is that readable form, ``-``, and the first 8 hex
  digits of the SHA-1 of the original name's UTF-8 bytes (:func:`name_digest`): ``"loss🔥"``
  → ``"loss_-3d25ee55"``, ``"loss💧"`` → ``"loss_-2f215166"``. Where the key would pass
  MLflow's 250 characters, the readable form is cut so that the key is exactly 250 long; the
  digest, of the full name, keeps long names apart.
* A param value longer than MLflow's limit (6000 characters) is stored cut to the limit, ending
  in :data:`TRUNCATED`; the backend stores the full value as an artifact. A tag value longer
  than its limit (8000) is cut the same way.
* Image keys (ASCII only) and artifact paths made from names (no ``:``) follow the same rule;
  an artifact file keeps its extension last (``"a:b.csv"`` → ``"a_b-<8 hex>.csv"``).

Two names share a key only if their digests collide (about one chance in 4 billion for a pair
with the same readable form), or if one name is literally another's rewritten key.
"""

from __future__ import annotations

import hashlib
import re

#: The longest metric, param or tag key MLflow accepts.
MAX_KEY_LENGTH = 250
#: Appended to a value cut to MLflow's length limit.
TRUNCATED = "...[truncated]"
#: Hex digits of the original name's SHA-1 that end a rewritten name.
DIGEST_LENGTH = 8
#: The longest file extension an artifact path keeps after the digest (``.tar.gz`` counts as
#: ``.gz``).
MAX_EXTENSION_LENGTH = 10

_NOT_KEY = re.compile(r"[^/\w.\- :]")
_NOT_PATH = re.compile(r"[^/\w.\- ]")
_NOT_IMAGE_KEY = re.compile(r"[^a-zA-Z0-9_\-./ ]")


def name_digest(name: str) -> str:
    """The first :data:`DIGEST_LENGTH` hex digits of the SHA-1 of ``name``'s UTF-8 bytes: the
    same in every process and run (unlike ``hash()``)."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]


def _readable(name: str, invalid: re.Pattern[str]) -> str:
    """``name`` with each ``invalid`` character as ``_``, without empty path parts, each part
    of dots only as that many ``_``, and a leading ``..`` as ``__`` (``_`` when nothing is
    left)."""
    parts = [p for p in invalid.sub("_", name).split("/") if p]
    readable = "/".join("_" * len(p) if not p.strip(".") else p for p in parts) or "_"
    return "__" + readable[2:] if readable.startswith("..") else readable


def _extension(path: str) -> str:
    """The last part's file extension (``.json``), or ``""``: none, a dotfile, or too long."""
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    if dot <= 0 or len(last) - dot > MAX_EXTENSION_LENGTH:
        return ""
    return last[dot:]


def _rewrite(name: str, invalid: re.Pattern[str], *, keep_extension: bool = False) -> str:
    """``name`` itself when valid and short enough, else its readable form ending in ``-`` and
    its digest (before the extension with ``keep_extension``), at most :data:`MAX_KEY_LENGTH`
    characters."""
    readable = _readable(name, invalid)
    if readable == name and len(name) <= MAX_KEY_LENGTH:
        return name
    extension = _extension(readable) if keep_extension else ""
    stem = readable[: len(readable) - len(extension)]
    stem = stem[: MAX_KEY_LENGTH - len(extension) - DIGEST_LENGTH - 1]
    return f"{stem}-{name_digest(name)}{extension}"


def mlflow_key(name: str) -> str:
    """``name`` as a metric, param or tag key MLflow accepts: itself when already valid, else
    rewritten by the module's rule (distinct names give distinct keys)."""
    return _rewrite(name, _NOT_KEY)


def artifact_path(name: str, *, keep_extension: bool = False) -> str:
    """``name`` as a relative artifact path (no ``:``, no empty or dot parts), rewritten by the
    module's rule; with ``keep_extension`` (a file's name) the digest goes before the
    extension."""
    return _rewrite(name, _NOT_PATH, keep_extension=keep_extension)


def image_key(name: str) -> str:
    """``name`` as a key for ``MlflowClient.log_image`` (ASCII letters, digits, ``_-./ ``),
    rewritten by the module's rule."""
    return _rewrite(name, _NOT_IMAGE_KEY)


def truncate(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending in :data:`TRUNCATED` (itself if short)."""
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED
