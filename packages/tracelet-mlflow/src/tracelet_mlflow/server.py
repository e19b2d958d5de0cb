"""Reaching the tracking server and naming the store: the check made before a run starts on a
server (:func:`check_server`), and the store's URI as a run folder remembers it
(:func:`identity_uri`) or ``mlflow ui`` is given it (:func:`absolute_store_uri`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracelet.errors import BackendStartError
from tracelet.redact import strip_uri_credentials


def check_server(uri: str, timeout: float) -> None:
    """Fail fast when the tracking server at ``uri`` is down or refuses the credentials.

    One request, no retries, ``timeout`` seconds to connect and to answer; MLflow's own retries
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``) apply to every later call.

    Raises:
        BackendStartError: naming the server, the cause and the fix.
    """
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    fix = (
        "start it (mlflow server --host 127.0.0.1 --port 5000) or point mlflow.tracking_uri "
        "(MLFLOW_TRACKING_URI) at a running one; mlflow.start_timeout sets how long to wait"
    )
    try:
        response = http_request(  # type: ignore[no-untyped-call]
            get_default_host_creds(uri),  # type: ignore[no-untyped-call]
            "/api/2.0/mlflow/experiments/get-by-name",
            "GET",
            params={"experiment_name": "tracelet-connection-check"},
            max_retries=0,
            backoff_factor=0,
            timeout=timeout,
            raise_on_status=False,
        )
    except Exception as exc:
        raise BackendStartError(
            f"the MLflow tracking server at {uri} {_unreachable(exc, timeout)}; {fix}"
        ) from exc
    if response.status_code in (401, 403):
        raise BackendStartError(
            f"the MLflow tracking server at {uri} refused the credentials (HTTP "
            f"{response.status_code}); set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
        )
    if response.status_code >= 500 or (response.status_code == 404 and not _is_mlflow(response)):
        raise BackendStartError(
            f"{uri} answered HTTP {response.status_code}, not like an MLflow tracking server; {fix}"
        )


def _unreachable(exc: BaseException, timeout: float) -> str:
    """What went wrong when the check request failed, in words: refused, unknown host, or
    silent (MLflow wraps the network error in an ``MlflowException`` message)."""
    text = str(exc)
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "refused the connection (nothing listens on that host and port)"
    if any(
        marker in text
        for marker in ("Name or service not known", "NameResolutionError", "getaddrinfo failed")
    ):
        return "cannot be reached: its host name does not resolve"
    if "timed out" in text.lower() or "Timeout" in text:
        return f"did not answer within {timeout:g} s"
    return f"could not be reached ({text})"


def _is_mlflow(response: Any) -> bool:
    """Whether a 404 is MLflow's "no such experiment" (and not a server without the API)."""
    try:
        return bool(response.json().get("error_code") == "RESOURCE_DOES_NOT_EXIST")
    except ValueError:
        return False


def identity_uri(uri: str) -> str:
    """The store as saved in a run folder's delivery state: absolute, without credentials."""
    return strip_uri_credentials(absolute_store_uri(uri))


def absolute_store_uri(uri: str) -> str:
    """A relative ``sqlite:///file.db`` made absolute (``mlflow ui`` may run elsewhere)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri
