"""Checking, before a task starts, that a ClearML server is configured and answers.

``Task.init`` would wait for minutes for a server that is down; :func:`check_server` fails at
once when nothing is configured, and within ``start_timeout`` when the server is silent.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from tracelet.errors import BackendStartError
from tracelet_clearml.settings import ClearmlSettings

#: What to set for a server, in the words of ClearML's docs.
SERVER_FIX = (
    "set CLEARML_API_HOST, CLEARML_WEB_HOST, CLEARML_FILES_HOST, CLEARML_API_ACCESS_KEY and "
    "CLEARML_API_SECRET_KEY (or run `clearml-init` to write clearml.conf); or set "
    "clearml.offline: true (CLEARML_OFFLINE_MODE=1) to write an offline session"
)


def server_config(settings: ClearmlSettings) -> tuple[str | None, bool]:
    """The API server ClearML will use and whether it has credentials for it: from the
    settings, else ``CLEARML_API_HOST`` / ``CLEARML_API_ACCESS_KEY``, else ``clearml.conf``."""
    from clearml.config import config_obj

    def configured(key: str) -> str | None:
        try:
            value = config_obj.get(key, None)
        except Exception:  # an unreadable clearml.conf: ClearML will say so
            return None
        return str(value) if value else None

    host = settings.api_host or os.environ.get("CLEARML_API_HOST") or configured("api.api_server")
    key = (
        settings.api_access_key is not None
        or bool(os.environ.get("CLEARML_API_ACCESS_KEY"))
        or configured("api.credentials.access_key") is not None
    )
    return host, key


def check_server(settings: ClearmlSettings) -> None:
    """Fail at once when no ClearML server or credentials are configured, or within
    ``start_timeout`` when the server does not answer (``Task.init`` would retry for minutes).

    Raises:
        BackendStartError: naming the server, the cause and the ``CLEARML_*`` variables.
    """
    host, has_key = server_config(settings)
    timeout = settings.start_timeout
    if not host:
        raise BackendStartError(f"no ClearML server is configured; {SERVER_FIX}")
    if not has_key:
        raise BackendStartError(f"no ClearML credentials for {host}; {SERVER_FIX}")
    url = host.rstrip("/") + "/debug.ping"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered: ClearML will report auth problems itself
    except (OSError, ValueError) as exc:
        raise BackendStartError(
            f"the ClearML server at {host} did not answer within {timeout:g} s ({exc}); "
            f"{SERVER_FIX}; clearml.start_timeout sets how long to wait"
        ) from exc
