"""The one format of every configuration error.

Each problem is one line, ``<key>: <problem> (from <source>); <fix>``, and a
:class:`~tracelet.errors.ConfigError` lists them all under ``Invalid Tracelet configuration (N
problems):``, so a user fixes everything in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracelet.errors import ConfigError


def problem(key: str, text: str, source: str, fix: str) -> str:
    """One problem line: ``<key>: <text> (from <source>); <fix>``."""
    return f"{key}: {text} (from {source}); {fix}"


def invalid_config(problems: Sequence[str]) -> ConfigError:
    """The error listing ``problems`` (one or more lines made by :func:`problem`)."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(
        f"Invalid Tracelet configuration ({len(problems)} {noun}):\n{lines}", list(problems)
    )
