"""``TraceletLogger`` for ``pytorch_lightning``: see :mod:`tracelet_collectors.lightning_logger`.
Importing this module imports pytorch_lightning."""

from __future__ import annotations

from tracelet_collectors.lightning_logger import logger_class

TraceletLogger = logger_class("pytorch_lightning")

__all__ = ["TraceletLogger"]
