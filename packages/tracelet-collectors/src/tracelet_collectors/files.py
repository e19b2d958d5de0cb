"""Files that collectors log as artifacts.

A backend copies an artifact when it writes the batch, which may be after the collector has
stopped, or during the drain that stops the runs at interpreter exit. So the temporary folders
collectors write them in are removed by one ``atexit`` handler, registered when this module is
first imported: when a run creates its collectors, before the run's backends start. Tracelet
registers its exit drain again each time a run has started, and ``atexit`` runs handlers
last-registered first, so the drain (which waits for the collectors' threads, then delivers
what is queued) always runs before this removal. A folder registered while a collector is
still writing in it therefore cannot disappear under it.
"""

from __future__ import annotations

import atexit
import shutil
import threading
from pathlib import Path

_kept: list[str] = []
_lock = threading.Lock()


def keep_until_exit(path: str) -> Path:
    """Keep the folder at ``path`` until the interpreter exits (after Tracelet's exit drain),
    then remove it."""
    with _lock:
        _kept.append(path)
    return Path(path)


def remove_kept_folders() -> None:
    """Remove every folder given to :func:`keep_until_exit` so far (a missing one is fine)."""
    with _lock:
        folders = list(_kept)
        _kept.clear()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


atexit.register(remove_kept_folders)
