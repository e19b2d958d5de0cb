"""Exceptions Tracelet raises, and the one a backend raises to refuse records."""

from __future__ import annotations


class ConfigError(ValueError):
    """The configuration is invalid.

    Raised by :func:`tracelet.start_logging` before anything starts. The message lists every
    problem with the key, where its value came from (argument, env var, file and line) and the
    fix. ``problems`` holds the same lines, one per problem.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class BackendStartError(RuntimeError):
    """A selected backend could not start (unreachable server, missing credentials, ...).

    The backends that had started are closed again before this is raised, so nothing is left
    half-open.
    """


class RejectedError(Exception):
    """Raised by :meth:`Backend.write` for records the backend can never store.

    The backend has written the rest of the batch. The dispatcher does not retry; it counts
    ``count`` records as failed, keeps ``str(error)`` as the backend's last error and carries on.
    Any other exception from ``write`` means "try the whole batch again later".
    """

    def __init__(self, message: str, count: int = 1) -> None:
        super().__init__(message)
        self.count = count
