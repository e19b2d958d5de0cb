"""``TraceletLogger`` for ``lightning.pytorch`` (``import lightning as L``): see
:mod:`tracelet_collectors.lightning_logger`. Importing this module imports Lightning."""

from __future__ import annotations

from tracelet_collectors.lightning_logger import logger_class

TraceletLogger = logger_class("lightning.pytorch")

__all__ = ["TraceletLogger"]
