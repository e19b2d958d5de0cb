"""The explanation of a key that no settings model has.

A key is unknown for many reasons: a typo, a key of a section given at the top level, the
section of a backend that is not installed or did not load, an env var with one underscore
where two belong. :data:`UNKNOWN_KEY_RULES` lists one small check per reason, in order; each
returns the problem line, :data:`ALREADY_REPORTED`, or ``None`` when the reason is not this
one. The first rule that does not return ``None`` explains the key; the last one always does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tracelet.plugins import (
    FIRST_PARTY_BACKENDS,
    FIRST_PARTY_COLLECTOR_KEYS,
    PLUGINS_ENV,
    install_hint,
)
from tracelet.settings.context import ResolutionContext
from tracelet.settings.fixes import did_you_mean, fix_remove, move_into_section
from tracelet.settings.model import model_at
from tracelet.settings.problems import problem
from tracelet.settings.sources import KeyPath, env_var_name

#: What a rule returns for a key that another problem already covers (the missing backend
#: it belongs to): no line of its own.
ALREADY_REPORTED = ""


@dataclass(frozen=True)
class UnknownKey:
    """A key that validation found in no model.

    Attributes:
        ctx: The resolution it was found in.
        path: Its key path (one part at the top level, two inside a section).
        source: Where it was given (``"env var NAME"``, ``"argument ..."``, ``"<file>:<line>"``).
        value: The value given (only its type is looked at: a mapping may be a section).
    """

    ctx: ResolutionContext
    path: KeyPath
    source: str
    value: Any

    @property
    def name(self) -> str:
        """The key itself, without its section."""
        return self.path[-1]

    def close_top_level_key(self) -> list[str]:
        """The closest top-level key (``[]`` or one name)."""
        return difflib.get_close_matches(
            self.name, list(self.ctx.cls.model_fields), n=1, cutoff=0.6
        )


#: A rule: the problem line, :data:`ALREADY_REPORTED`, or ``None`` (another reason).
UnknownKeyRule = Callable[[UnknownKey], str | None]


def in_a_section(key: UnknownKey) -> str | None:
    """A key inside a section: suggest the closest key of that section, else list them all."""
    if len(key.path) == 1:
        return None
    section = key.path[:-1]
    model = model_at(key.ctx.cls, section)
    keys = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(key.name, keys, n=1, cutoff=0.6)
    if close:
        fix = did_you_mean((*section, close[0]), key.source)
    else:
        fix = f"{fix_remove(key.source)}; valid keys: {', '.join(keys) or 'none'}"
    return problem(
        ".".join(key.path), f"unknown key in section '{'.'.join(section)}'", key.source, fix
    )


def collectors_key(key: UnknownKey) -> str | None:
    """A key of Tracelet's collectors, which are not installed or not loaded."""
    if key.name not in FIRST_PARTY_COLLECTOR_KEYS:
        return None
    return problem(
        key.name,
        "a key of Tracelet's collectors, which are not installed (or not loaded)",
        key.source,
        "pip install tracelet-collectors (pip install tracelet includes it), or add "
        f"collectors to {PLUGINS_ENV}; or {fix_remove(key.source)}",
    )


def backend_without_settings(key: UnknownKey) -> str | None:
    """The section of an installed backend that registered no settings model."""
    if key.name not in key.ctx.host.backends:
        return None
    return problem(
        key.name, f"the '{key.name}' backend has no settings", key.source, fix_remove(key.source)
    )


def section_of_a_missing_backend(key: UnknownKey) -> str | None:
    """The section of a selected backend that is missing: the backend itself is reported,
    and its section is checked once it is installed."""
    return ALREADY_REPORTED if key.name in key.ctx.missing else None


def flat_key_of_a_missing_backend(key: UnknownKey) -> str | None:
    """A flat argument key close to no top-level key while a selected backend is missing:
    most likely a key of that backend, checked once it is installed."""
    ctx = key.ctx
    if (
        key.source.startswith("argument config")
        and ctx.selected is not None
        and any(b in ctx.missing for b in ctx.selected)
        and not key.close_top_level_key()
    ):
        return ALREADY_REPORTED
    return None


def section_of_a_failed_plugin(key: UnknownKey) -> str | None:
    """The section of a backend whose plugin raised while loading: name the error."""
    broken = key.ctx.host.broken_plugin_for(key.name)
    if broken is None or broken.status != "error":
        return None
    return problem(
        key.name,
        f"section of the '{key.name}' backend, whose plugin failed to load: {broken.error}",
        key.source,
        "fix the plugin (see the error), or remove the section",
    )


def section_of_an_unloaded_plugin(key: UnknownKey) -> str | None:
    """The section of a backend installed but left out of ``TRACELET_PLUGINS``."""
    if key.ctx.host.broken_plugin_for(key.name) is None:
        return None
    return problem(
        key.name,
        f"section of the '{key.name}' backend, which is installed but not loaded: "
        f"{PLUGINS_ENV} does not list it",
        key.source,
        f"add {key.name} to {PLUGINS_ENV}, or remove the section",
    )


def section_of_a_first_party_backend(key: UnknownKey) -> str | None:
    """The section of one of Tracelet's backends that is not installed: how to install it."""
    if key.name not in FIRST_PARTY_BACKENDS:
        return None
    return problem(
        key.name,
        f"section of the '{key.name}' backend, which is not installed",
        key.source,
        f"{install_hint(key.name)}; or remove the section",
    )


def key_of_a_section(key: UnknownKey) -> str | None:
    """A key of an installed section given at the top level: say which section it belongs in."""
    owners = [s for s, model in key.ctx.sections.items() if key.name in model.model_fields]
    if not owners:
        return None
    return problem(
        key.name,
        f"not a top-level key; it belongs in the {' or '.join(repr(o) for o in owners)} section",
        key.source,
        move_into_section(owners[0], key.name, key.source),
    )


def section_of_the_earlier_format(key: UnknownKey) -> str | None:
    """``tracking`` or ``artifacts`` as a mapping, as the ``tracelet.yaml`` of earlier releases
    had them, given in the call or an env var (such a file is refused when it is read): today's
    key for each key given."""
    if key.name not in ("tracking", "artifacts") or not isinstance(key.value, Mapping):
        return None
    from tracelet.settings.legacy import RENAMED
    from tracelet.settings.migrate import dropped_because, today_key

    known = set(key.ctx.cls.model_fields) | FIRST_PARTY_COLLECTOR_KEYS
    instead = []
    for inner in key.value:
        name = today_key(key.name, str(inner), known)
        why = dropped_because(name) if name is not None else None
        if name is None:
            instead.append(f"{key.name}.{inner}: no such key")
        elif why is not None:
            instead.append(f"{key.name}.{inner}: none ({why})")
        else:
            today = RENAMED.get(name, name)
            shown = env_var_name((today,)) if key.source.startswith("env var ") else f"'{today}'"
            instead.append(f"{key.name}.{inner}: {shown}")
    return problem(
        key.name,
        "a section of the earlier tracelet.yaml format, which this release does not read",
        key.source,
        f"give today's top-level keys instead ({'; '.join(instead)})",
    )


def unknown_section(key: UnknownKey) -> str | None:
    """A mapping under a name that is no key: a misspelt section (suggest the closest), or the
    section of a backend whose plugin is not installed."""
    ctx = key.ctx
    if not isinstance(key.value, Mapping) or key.name in ctx.cls.model_fields:
        return None
    close = difflib.get_close_matches(key.name, list(ctx.sections), n=1, cutoff=0.75)
    if close:
        return problem(
            key.name, "unknown section", key.source, did_you_mean((close[0],), key.source)
        )
    installed = ", ".join(sorted(ctx.host.backends)) or "none"
    return problem(
        key.name,
        f"section of a '{key.name}' backend, which no installed plugin provides (installed "
        f"backends: {installed})",
        key.source,
        f"install the plugin distribution of the '{key.name}' backend; or {fix_remove(key.source)}",
    )


def env_var_with_one_underscore(key: UnknownKey) -> str | None:
    """``TRACELET_LOCAL_FSYNC`` for ``TRACELET_LOCAL__FSYNC``: point at the two underscores."""
    if not key.source.startswith("env var "):
        return None
    for section, model in key.ctx.sections.items():
        name = key.name.removeprefix(f"{section}_")
        if name != key.name and name in model.model_fields:
            return problem(
                key.name,
                "unknown key",
                key.source,
                f"did you mean {env_var_name((section, name))} (two underscores)?",
            )
    return None


def misspelt_key(key: UnknownKey) -> str | None:
    """A key close to a top-level key, or else to a key of a section: suggest it."""
    top = list(key.ctx.cls.model_fields)
    nested = [(s, k) for s, model in key.ctx.sections.items() for k in model.model_fields]
    close = key.close_top_level_key() or difflib.get_close_matches(
        key.name, [k for _, k in nested], n=1, cutoff=0.75
    )
    if not close:
        return None
    if close[0] in top:
        return problem(key.name, "unknown key", key.source, did_you_mean((close[0],), key.source))
    owner = next(path for path in nested if path[1] == close[0])
    return problem(key.name, "unknown key", key.source, did_you_mean(owner, key.source))


def any_other_key(key: UnknownKey) -> str:
    """Any other key: remove it."""
    return problem(key.name, "unknown key", key.source, fix_remove(key.source))


#: The rules, tried in this order; the first that does not return ``None`` explains the key.
UNKNOWN_KEY_RULES: tuple[UnknownKeyRule, ...] = (
    in_a_section,
    collectors_key,
    backend_without_settings,
    section_of_a_missing_backend,
    flat_key_of_a_missing_backend,
    section_of_a_failed_plugin,
    section_of_an_unloaded_plugin,
    section_of_a_first_party_backend,
    key_of_a_section,
    section_of_the_earlier_format,
    unknown_section,
    env_var_with_one_underscore,
    misspelt_key,
    any_other_key,
)


def unknown_key_problem(
    ctx: ResolutionContext, path: KeyPath, source: str, value: Any
) -> str | None:
    """The line for a key no model has, or ``None`` when another problem already covers it.

    Args:
        ctx: The resolution.
        path: The key's path, as validation gives it.
        source: Where the key was given.
        value: The value given for it.
    """
    key = UnknownKey(ctx, path, source, value)
    for rule in UNKNOWN_KEY_RULES:
        line = rule(key)
        if line is not None:
            return line or None  # ALREADY_REPORTED: no line
    return None  # unreachable: the last rule always answers
