"""How Tracelet speaks about names from its earlier releases.

Scripts written for earlier Tracelet releases keep running; what they use is reported, never
raised (unless you turn warnings into errors), and each message is said once per process:

* a **deprecated** name (an old config key or env var, read as today's key or ignored) gives a
  :class:`TraceletDeprecationWarning` at the line of your code that started the resolution
  (``start_logging``, ``Experiment.start``, ``TraceletSettings(...)``). Python hides
  ``DeprecationWarning`` outside ``__main__`` by default, so when the active warning filters
  would hide it, the same text goes to the ``tracelet.legacy`` logger at WARNING level instead:
  it is shown exactly once either way, and ``-W error::DeprecationWarning`` or pytest's
  ``filterwarnings`` still see it as a warning. A filter aimed at it (its category, a message
  or a module) silences it altogether;
* a switch for a feature of Tracelet's collectors (automatic artifact capture) in an install
  without them is a WARNING on the ``tracelet.legacy`` logger, once per process per feature,
  saying what to install.

Importing this module imports nothing heavy (``import tracelet`` stays cheap).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import warnings
from types import FrameType

logger = logging.getLogger("tracelet.legacy")


class TraceletDeprecationWarning(DeprecationWarning):
    """A name from an earlier Tracelet release: still accepted, to be replaced by today's."""


#: Messages already said in this process (each is said once).
_said: set[str] = set()
_said_lock = threading.Lock()

#: Modules whose frames are not "the user's code" when a warning names a line (or when
#: automagic looks for the code that started a run).
_INTERNAL = re.compile(r"^(tracelet|tracelet_\w+|pydantic|pydantic_settings)(\.|$)")


def is_internal_frame(frame: FrameType) -> bool:
    """Whether ``frame`` runs Tracelet's code (a plugin's too) or pydantic's, not the user's."""
    return _INTERNAL.match(str(frame.f_globals.get("__name__", ""))) is not None


def _first_time(key: str) -> bool:
    with _said_lock:
        if key in _said:
            return False
        _said.add(key)
        return True


def _user_frame() -> tuple[FrameType, int]:
    """The first frame outside Tracelet (and pydantic) above the caller of the caller, and its
    ``stacklevel`` as seen from that caller (the outermost frame if every one is internal)."""
    frame: FrameType | None = sys._getframe(2)
    level = 1
    found = (sys._getframe(1), 1)
    while frame is not None:
        level += 1
        found = (frame, level)
        if not is_internal_frame(frame):
            break
        frame = frame.f_back
    return found


def _filtered(message: str, category: type[Warning], module: str, lineno: int) -> str:
    """What the warning filters active now do with this warning (the first matching filter
    decides, as in :mod:`warnings`): ``"show"`` (or raise), ``"hidden"`` by a filter for
    warnings in general (Python's default ``ignore::DeprecationWarning``), or ``"silenced"``
    by one aimed at it (its category, a message or a module)."""
    for action, text, filter_category, filter_module, filter_line in warnings.filters:
        if (
            _matches(text, message)
            and issubclass(category, filter_category)
            and _matches(filter_module, module)
            and filter_line in (0, lineno)
        ):
            if action != "ignore":
                return "show"
            aimed = (
                text is not None
                or filter_module is not None
                or (
                    isinstance(filter_category, type)
                    and issubclass(filter_category, TraceletDeprecationWarning)
                )
            )
            return "silenced" if aimed else "hidden"
    return "hidden" if getattr(warnings, "defaultaction", "default") == "ignore" else "show"


def _matches(pattern: re.Pattern[str] | str | None, value: str) -> bool:
    # The interpreter's own default filters hold plain strings ("__main__"), compared whole.
    if pattern is None:
        return True
    if isinstance(pattern, str):
        return pattern == value
    return pattern.match(value) is not None


def warn_deprecated(message: str) -> None:
    """Say ``message`` once per process as a :class:`TraceletDeprecationWarning` pointing at
    the user's line; on the ``tracelet.legacy`` logger (prefixed ``tracelet:``) instead when
    the warning filters hide deprecations in general; not at all when a filter aims at it
    (``warnings.filterwarnings("ignore", category=TraceletDeprecationWarning)``).

    Raises:
        TraceletDeprecationWarning: Only when the filters say ``error`` for it (``-W error``).
    """
    if not _first_time(message):
        return
    frame, level = _user_frame()
    module = str(frame.f_globals.get("__name__", "<unknown>"))
    fate = _filtered(message, TraceletDeprecationWarning, module, frame.f_lineno)
    if fate == "show":
        warnings.warn(message, TraceletDeprecationWarning, stacklevel=level)
    elif fate == "hidden":
        logger.warning("tracelet: %s", message)


#: What is said when a script asks for a feature of Tracelet's collectors while they are not
#: installed (``{feature}``: the feature; ``{source}``: where it asked).
NEEDS_COLLECTORS = (
    "tracelet: {feature} ({source}) comes with Tracelet's collectors, which are not installed "
    "(or not loaded): nothing is captured automatically; pip install tracelet-collectors, or "
    "log models and files as typed artifacts with create_artifact(...) and "
    "log_artifact(artifact) (docs/artifacts.md)"
)


def warn_needs_collectors(feature: str, source: str) -> None:
    """Warn, once per process for ``feature``, that a script asked for a feature of Tracelet's
    collectors (``"automatic artifact capture"``) in an install without them; ``source`` says
    where it asked."""
    if _first_time(f"needs-collectors:{feature}"):
        logger.warning(NEEDS_COLLECTORS.format(feature=feature, source=source))
