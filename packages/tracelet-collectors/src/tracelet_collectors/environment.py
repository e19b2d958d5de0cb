"""The ``environment`` collector: where and how the run was started.

With ``track_environment`` on, it records at run start the params ``env/python_version``,
``env/platform``, ``env/hostname``, ``env/command_line`` (the interpreter's whole command line,
quoted for a POSIX shell, the values of secret-named arguments replaced: :func:`redact_argv`)
and ``env/tracelet_plugins`` (the plugins loaded, with their distributions' versions), and the
artifact ``environment/requirements.txt``: every installed distribution as ``name==version``,
one per line, sorted.

Reading the installed distributions takes a tenth of a second or more: it happens on a thread
(see :mod:`tracelet_collectors.once`).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import platform
import re
import shlex
import socket
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from tracelet_collectors.files import keep_until_exit
from tracelet_collectors.once import OnceCollector

if TYPE_CHECKING:
    from tracelet.run import Run


def environment_params(plugins: dict[str, str]) -> dict[str, str]:
    """The ``env/*`` params of this process; ``plugins`` is :attr:`tracelet.Run.plugins`."""
    return {
        "env/python_version": f"{platform.python_implementation()} {platform.python_version()}",
        "env/platform": platform.platform(),
        "env/hostname": socket.gethostname(),
        "env/command_line": shlex.join(
            redact_argv(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        ),
        "env/tracelet_plugins": ", ".join(
            f"{name} ({dist})" for name, dist in sorted(plugins.items())
        ),
    }


#: Words that make an argument's name a secret's (compared with the name's words, split at
#: ``-``, ``_`` and ``.``): ``--token``, ``--api-key``, ``--db.password``, ``hf_token=...``.
SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "apikey", "credential", "credentials"}
)
#: Word pairs that do the same: ``api key``, ``access key``, ``private key``, ``secret key``.
SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")})
#: What a secret value is replaced with.
REDACTED = "**********"


def is_secret_name(name: str) -> bool:
    """Whether an argument's name says its value is a secret (see :data:`SECRET_WORDS`)."""
    words = [w for w in re.split(r"[-_.]+", name.lower().lstrip("-")) if w]
    return bool(SECRET_WORDS.intersection(words)) or any(
        pair in SECRET_PAIRS for pair in itertools.pairwise(words)
    )


def redact_argv(argv: list[str]) -> list[str]:
    """``argv`` with the values of secret-named arguments replaced by :data:`REDACTED`:
    ``--token=abc`` and ``--token abc``, and ``name=value`` overrides (``db.password=abc``)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, equals, _value = arg.partition("=")
        if equals and is_secret_name(name):
            out.append(f"{name}={REDACTED}")
        elif arg.startswith("-") and not equals and is_secret_name(arg):
            out.append(arg)
            hide_next = True
        else:
            out.append(arg)
    return out


def installed_distributions() -> list[str]:
    """``name==version`` of every distribution importable here, sorted, without duplicates."""
    found = {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()}
    return [f"{name}=={version}" for name, version in sorted(found, key=_by_name) if name]


def _by_name(item: tuple[str, str]) -> tuple[str, str]:
    return (item[0] or "").lower(), item[1]


def record_environment(run: Run) -> None:
    """Log the params and the ``environment/requirements.txt`` artifact into ``run``."""
    run.log_params(environment_params(run.plugins))
    folder = keep_until_exit(tempfile.mkdtemp(prefix="tracelet-environment-"))
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{d}\n" for d in installed_distributions()))
    run.log_artifact(requirements, name="environment/requirements.txt")


def create(settings: Any) -> OnceCollector | None:
    """The factory: a collector when ``track_environment`` is on."""
    return OnceCollector("environment", record_environment) if settings.track_environment else None
