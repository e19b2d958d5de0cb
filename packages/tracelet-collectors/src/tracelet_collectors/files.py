"""Files that collectors log as artifacts."""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path


def keep_until_exit(path: str) -> Path:
    """Backends copy an artifact when they write its batch, which may be after the collector
    has stopped: the folder at ``path`` stays until the interpreter exits, then is removed."""
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)
