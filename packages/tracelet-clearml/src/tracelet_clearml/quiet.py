"""Keeping ClearML's console lines off the user's stdout without touching ``sys.stdout``.

ClearML prints a line or two when a task starts and when it closes ("ClearML Task: created new
task ...", "Offline session stored in ..."). The backend does this on its worker thread, so
swapping ``sys.stdout`` there (``contextlib.redirect_stdout``) would also capture whatever the
user's threads print at that moment. Instead, while ClearML's calls run, the name ``print`` in
ClearML's own modules is bound to a function that sends the line to the ``tracelet.clearml``
logger: only ClearML's prints are affected.

ClearML's log records (its ``clearml`` logger) are written to stdout by a handler of ClearML's
and do not propagate; :func:`clearml_logs_through_logging` hands them to Python's logging like
any library's, so they follow the application's logging configuration (warnings reach stderr
when there is none).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

logger = logging.getLogger("tracelet.clearml")

_lock = threading.Lock()


def _to_log(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    """``print`` for ClearML's modules: lines meant for stdout go to the log."""
    if file is not None and file is not sys.stdout:  # stderr or a file: as asked
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    text = (" " if sep is None else sep).join(map(str, args))
    for line in text.splitlines():
        if line.strip():
            logger.info("clearml: %s", line.strip())


def _clearml_modules() -> list[ModuleType]:
    return [
        module
        for name, module in list(sys.modules.items())
        if module is not None and (name == "clearml" or name.startswith("clearml."))
    ]


@contextlib.contextmanager
def clearml_prints_to_log() -> Iterator[None]:
    """While the block runs, ClearML's ``print`` calls go to the ``tracelet.clearml`` logger."""
    with _lock:
        patched = [m for m in _clearml_modules() if "print" not in vars(m)]
        for module in patched:
            module.print = _to_log  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for module in patched:
                if vars(module).get("print") is _to_log:
                    del module.print


def clearml_logs_through_logging() -> None:
    """Make ClearML's ``clearml`` logger propagate to Python's logging instead of writing to
    stdout with its own stream handlers (file handlers stay). Harmless to call again."""
    from clearml.debugging.log import LoggerRoot

    LoggerRoot.get_base_logger()  # ClearML creates it, with its handlers, on first use
    base = logging.getLogger("clearml")
    for handler in list(base.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            base.removeHandler(handler)
    base.propagate = True
