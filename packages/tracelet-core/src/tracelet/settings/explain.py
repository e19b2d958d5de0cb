"""The problem lines of a resolution: the selected backends, and each validation error.

Each line reads ``<key>: <problem> (from <source>); <fix>`` (see
:mod:`tracelet.settings.problems`): the source is the layer whose value failed, and the fix is
worded for that source (:mod:`tracelet.settings.fixes`). An unknown key is explained by
:mod:`tracelet.settings.unknown_keys`. A secret's value is never quoted.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tracelet.plugins import FIRST_PARTY_BACKENDS, PLUGINS_ENV, install_hint
from tracelet.settings.context import ResolutionContext
from tracelet.settings.fixes import fix_change
from tracelet.settings.problems import problem
from tracelet.settings.secrets import is_secret
from tracelet.settings.sources import env_var_name
from tracelet.settings.unknown_keys import unknown_key_problem

#: Longest input value quoted in an error message.
MAX_SHOWN = 60


def config_not_a_mapping(config: object) -> str:
    """The line for a ``config`` argument that is not a mapping."""
    return problem(
        "config",
        f"must be a mapping of keys to values, got {type(config).__name__}",
        "argument config",
        "pass a dict, e.g. config={'batch_size': 500}",
    )


# -- backends ----------------------------------------------------------------------------------


def backend_problems(ctx: ResolutionContext) -> list[str]:
    """One line per selected backend that is not available (failed to load, left out of
    ``TRACELET_PLUGINS``, not installed, unknown), one for an empty selection and one for
    backends listed twice. Nothing for a malformed selection: validation reports its type."""
    names = ctx.selected
    if names is None:
        return []
    source = ctx.source(("backend",))
    if not names:
        return [
            problem(
                "backend", "no backend selected", source, "name at least one, e.g. backend='local'"
            )
        ]
    host = ctx.host
    installed = ", ".join(sorted(host.backends)) or "none"
    problems: list[str] = []
    for name in dict.fromkeys(names):
        if name in host.backends:
            continue
        broken = host.broken_plugin_for(name)
        if broken is not None and broken.status == "error":
            problems.append(
                problem(
                    "backend",
                    f"'{name}' is installed ({broken.distribution or 'in-process plugin'}) but "
                    f"its plugin failed to load: {broken.error}",
                    source,
                    "fix that error (reinstalling the plugin's distribution may help)",
                )
            )
        elif broken is not None:
            problems.append(
                problem(
                    "backend",
                    f"'{name}' is installed but not loaded: {PLUGINS_ENV} does not list it",
                    source,
                    f"add {name} to {PLUGINS_ENV}, or unset {PLUGINS_ENV}",
                )
            )
        elif name in FIRST_PARTY_BACKENDS:
            problems.append(
                problem(
                    "backend",
                    f"the '{name}' backend is not installed; installed backends: {installed}",
                    source,
                    install_hint(name),
                )
            )
        else:
            problems.append(
                problem(
                    "backend",
                    f"unknown backend '{name}'; installed backends: {installed}",
                    source,
                    unknown_backend_fix(name, sorted(host.backends)),
                )
            )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(
            problem(
                "backend",
                f"{', '.join(repr(n) for n in repeated)} listed more than once",
                source,
                "list each backend once",
            )
        )
    return problems


def unknown_backend_fix(name: str, installed: list[str]) -> str:
    """Suggest the closest installed or first-party backend (with its install command), else
    how to install one of ours."""
    close = difflib.get_close_matches(name, [*installed, *FIRST_PARTY_BACKENDS], n=1)
    if close and close[0] in installed:
        return f"did you mean '{close[0]}'?"
    if close:
        return f"did you mean '{close[0]}'? {install_hint(close[0])}"
    extras = ", ".join(FIRST_PARTY_BACKENDS)
    return (
        'use an installed one, or install one of ours: pip install "tracelet[<name>]" '
        f"with <name> one of {extras} (or all)"
    )


# -- validation errors -------------------------------------------------------------------------


def validation_problems(exc: ValidationError, ctx: ResolutionContext) -> list[str]:
    """One line per error of ``exc`` (none for an unknown key another line covers).

    A wrong value is quoted (see :func:`shown`) unless it is a secret's; a plugin validator's
    message about a secret is replaced by ``invalid value``, since it may quote the secret.
    """
    problems: list[str] = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        source = ctx.source(path)
        dotted = ".".join(path) or "(settings)"
        if err["type"] == "extra_forbidden":
            line = unknown_key_problem(ctx, path, source, err.get("input"))
            if line is not None:
                problems.append(line)
        elif err["type"] == "missing":
            problems.append(
                problem(
                    dotted,
                    "required, and not set",
                    source,
                    f"set it, e.g. with env var {env_var_name(path)}",
                )
            )
        else:
            message = str(err["msg"])
            message = message[:1].lower() + message[1:]
            if not is_secret(ctx.cls, path):
                message += f", got {shown(err.get('input'))}"
            elif err["type"] in ("value_error", "assertion_error"):
                message = "invalid value"  # a plugin's validator may quote the secret
            problems.append(problem(dotted, message, source, fix_change(source)))
    return problems


def shown(value: Any) -> str:
    """A short rendering of an input value; containers are not shown (they may hold secrets)."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
