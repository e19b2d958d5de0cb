"""The standalone collectors of earlier Tracelet releases (``tracelet.collectors.git``,
``tracelet.collectors.system``), built on today's collectors in ``tracelet-collectors``.

Importing these modules imports nothing else; constructing a collector imports its
``tracelet_collectors`` module, and raises an ``ImportError`` naming ``tracelet-collectors``
when that distribution is not installed.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def import_collectors_module(name: str, what: str) -> ModuleType:
    """``tracelet_collectors.<name>``, for ``what`` (the class asking, for the message).

    Raises:
        ImportError: ``tracelet-collectors`` is not installed (a library it needs that is
            missing raises its own ``ModuleNotFoundError``).
    """
    module = f"tracelet_collectors.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in ("tracelet_collectors", module):
            raise
        raise ImportError(
            f"{what} needs the tracelet-collectors distribution, which is not installed: "
            "pip install tracelet-collectors (pip install tracelet includes it)",
            name=exc.name,
        ) from None
