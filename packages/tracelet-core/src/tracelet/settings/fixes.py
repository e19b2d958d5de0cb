"""How a fix is worded for the source a value came from.

A source is ``"env var NAME"``, ``"argument ..."`` (``"argument config['key']"``,
``"argument project='x'"``), ``"<file>:<line>"`` or ``"default"``; each fix names the action in
that source's own terms (unset the env var, change the argument, edit the file).
"""

from __future__ import annotations

from tracelet.settings.sources import KeyPath, env_var_name


def fix_change(source: str) -> str:
    """How to change a value from ``source``: ``"change or unset NAME"``, ``"change the
    argument"``, ``"change it in the file"``, or ``"set it explicitly"`` for a default."""
    if source.startswith("env var "):
        return f"change or unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return "change the argument"
    if source == "default":
        return "set it explicitly"
    return "change it in the file"


def fix_remove(source: str) -> str:
    """How to remove a key given in ``source``: ``"unset NAME"``, ``"remove it from the call"``,
    ``"remove it from the file"``."""
    if source.startswith("env var "):
        return f"unset {source.removeprefix('env var ')}"
    if source.startswith("argument"):
        return "remove it from the call"
    return "remove it from the file"


def did_you_mean(path: KeyPath, source: str) -> str:
    """Suggest the key at ``path``: ``"did you mean 'vault.retries'?"``, or its env var
    (``"did you mean TRACELET_VAULT__RETRIES?"``) when ``source`` is one."""
    if source.startswith("env var "):
        return f"did you mean {env_var_name(path)}?"
    return f"did you mean '{'.'.join(path)}'?"


def move_into_section(section: str, key: str, source: str) -> str:
    """How to give ``key`` inside ``section`` instead, in the same kind of source."""
    if source.startswith("env var "):
        return f"use {env_var_name((section, key))}"
    if source.startswith("argument"):
        return f"pass config={{'{section}': {{'{key}': ...}}}}"
    return f"put it under '{section}:'"
