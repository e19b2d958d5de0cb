"""Keeping credentials out of what Tracelet shows and stores.

A URI may carry a password (``http://user:pass@host``, ``postgresql://user:pass@db/mlflow``):
:func:`redact_uri_credentials` masks it wherever Tracelet prints or returns a URI (``tracelet
config``, ``run.locations()``, ``repr(run.settings)``, start errors), and
:func:`strip_uri_credentials` drops it from what is saved in a run folder.
"""

from __future__ import annotations

import re

#: What a secret is shown as.
REDACTED = "**********"

_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s:/@]*):(?P<password>[^\s@/]+)@"
)


def redact_uri_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it masked."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)


def strip_uri_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URI in it removed."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: m["scheme"], text)
