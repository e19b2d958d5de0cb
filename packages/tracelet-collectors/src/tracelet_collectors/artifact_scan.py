"""Which files automatic artifact capture looks at, and what it calls them.

A scan walks each watched folder (``artifact_watch_dirs``) down to :data:`MAX_DEPTH` folders
below it and keeps the files whose name matches one of ``artifact_watch_patterns`` (fnmatch:
``*.pt``, ``*.ckpt``, ...), with their size and modification time (the default patterns:
:data:`tracelet_collectors.settings.ARTIFACT_PATTERNS`). It reads folder listings
and file metadata only, never file contents. It does not go into:

* hidden folders (``.git``, ``.venv``, ``.aim``...) and those starting with ``__``;
* the stores of the tracking tools and environments (:data:`SKIPPED_FOLDERS`: ``mlruns``,
  ``wandb``, ``tracelet-runs``, ``site-packages``, ``node_modules``...), and any folder given
  as ``skip`` (the run folders);
* a typed artifact's folder (one holding a Tracelet ``manifest.json``), so a copy is never
  taken for a new file;
* symbolic links to folders.

A scan looks at :data:`MAX_ENTRIES` entries at most, so a watched folder holding a dataset of a
million files costs a bounded time; :attr:`Scan.truncated` says when it stopped early.

A captured file's artifact is named after its path below the watched folder
(:func:`artifact_name`: ``checkpoints/epoch=3.ckpt`` → ``checkpoints-epoch_3.ckpt``) and
typed by :func:`artifact_kind`: a checkpoint (``.ckpt``, or a path that says ``checkpoint`` or
``ckpt``), else a model.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracelet.artifacts import ArtifactType
from tracelet.artifacts.manifest import MANIFEST_FILE

#: How many folder levels below a watched folder a scan goes into.
MAX_DEPTH = 4
#: Most folder entries one scan looks at, over all watched folders.
MAX_ENTRIES = 20_000
#: Folders a scan never goes into (besides hidden ones): tool stores and environments.
SKIPPED_FOLDERS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        "venv",
        "mlruns",
        "mlartifacts",
        "wandb",
        "tracelet-runs",
    }
)

_INVALID = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class Signature:
    """What tells one state of a file from another: its size and modification time (ns)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Found:
    """A file a scan kept.

    Attributes:
        path: Its absolute path.
        relative: Its path below the watched folder (``/``-separated).
        signature: Its size and modification time when scanned.
    """

    path: Path
    relative: str
    signature: Signature


@dataclass
class Scan:
    """What one scan found: absolute path → :class:`Found`, and whether it stopped at
    :data:`MAX_ENTRIES`."""

    files: dict[Path, Found] = field(default_factory=dict)
    truncated: bool = False


def scan(
    roots: Sequence[Path],
    patterns: Sequence[str],
    skip: Iterable[Path] = (),
    max_entries: int = MAX_ENTRIES,
) -> Scan:
    """The files under ``roots`` whose name matches one of ``patterns`` (see the module's
    rule). A folder that cannot be listed (missing, no permission) is passed over; a file seen
    under two roots is kept once, under the first."""
    walk = _Walk(tuple(patterns), {p.resolve() for p in skip}, max_entries)
    for root in roots:
        base = root.resolve()
        if base.is_dir():
            walk.folder(base, base, 0)
    return walk.result


@dataclass
class _Walk:
    """One scan's state while it walks the folders."""

    patterns: tuple[str, ...]
    skipped: set[Path]
    budget: int
    result: Scan = field(default_factory=Scan)

    def folder(self, base: Path, folder: Path, depth: int) -> None:
        """Keep the matching files of ``folder`` (``depth`` levels below ``base``), then walk
        its subfolders."""
        if folder in self.skipped or (folder / MANIFEST_FILE).is_file():
            return
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError:
            return
        subfolders = []
        for entry in listed:
            if self.budget <= 0:
                self.result.truncated = True
                return
            self.budget -= 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH and _enter(entry.name):
                        subfolders.append(Path(entry.path))
                elif entry.is_file() and _matches(entry.name, self.patterns):
                    self._keep(base, Path(entry.path), entry.stat())
            except OSError:  # gone between listing and stat
                continue
        for sub in subfolders:
            self.folder(base, sub, depth + 1)

    def _keep(self, base: Path, path: Path, stat: os.stat_result) -> None:
        if path not in self.result.files:
            signature = Signature(stat.st_size, stat.st_mtime_ns)
            self.result.files[path] = Found(path, path.relative_to(base).as_posix(), signature)


def _enter(name: str) -> bool:
    return not name.startswith((".", "__")) and name not in SKIPPED_FOLDERS


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def artifact_name(relative: str) -> str:
    """The typed artifact name of a file at ``relative`` below its watched folder: ``/``
    becomes ``-``, any other character not allowed in a name becomes ``_``
    (``lightning_logs/version_0/checkpoints/epoch=2-step=30.ckpt`` →
    ``lightning_logs-version_0-checkpoints-epoch_2-step_30.ckpt``). A name over 128
    characters keeps its end, after a short hash of the whole path that keeps it unique."""
    text = "-".join(_INVALID.sub("_", part) for part in relative.split("/") if part)
    text = text.lstrip("._-") or "file"
    if len(text) <= _MAX_NAME:
        return text
    digest = hashlib.sha256(relative.encode()).hexdigest()[:8]
    return f"{digest}-{text[-(_MAX_NAME - len(digest) - 1) :].lstrip('._-')}"


def artifact_kind(relative: str) -> ArtifactType:
    """:attr:`~tracelet.artifacts.ArtifactType.CHECKPOINT` for a ``.ckpt`` file or a path that
    says ``checkpoint`` or ``ckpt`` (any case), else
    :attr:`~tracelet.artifacts.ArtifactType.MODEL`."""
    lowered = relative.lower()
    if lowered.endswith(".ckpt") or "checkpoint" in lowered or "ckpt" in lowered:
        return ArtifactType.CHECKPOINT
    return ArtifactType.MODEL
