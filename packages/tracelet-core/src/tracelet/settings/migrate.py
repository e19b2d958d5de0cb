"""Converting a ``tracelet.yaml`` of earlier Tracelet releases: ``tracelet config --migrate``.

The earlier releases documented a ``tracelet.yaml`` of another shape, which this release refuses
to read (see :func:`~tracelet.settings.sources.earlier_sections`):

* ``project`` and ``backend`` at the top level, as today;
* ``tracking:``, a mapping of switches named after what they track, without the ``track_``
  prefix (``system``, ``git``, ``environment``); a key written in full (``track_gpu``) or one
  of today's top-level keys (``project``) is taken there too;
* ``automagic:``, a mapping: ``enabled`` and ``frameworks`` (the libraries to instrument);
  today ``automagic`` is a switch, with ``automagic_include`` and the like beside it;
* ``artifacts:``, a mapping: ``enabled``, ``automagic`` (capture files automatically),
  ``watch_filesystem`` and ``watch_dirs``.

:func:`convert` makes today's file in memory: each key becomes today's top-level key (earlier
names renamed as :data:`~tracelet.settings.legacy.RENAMED` says, the other tables of
:mod:`tracelet.settings.legacy` saying which keys have no effect here); a key dropped leaves a
comment saying why. Every other key is kept as it is. :func:`migrate_file` checks the result by
resolving it with today's settings, then writes it, keeping the original as ``<name>.bak``.

PyYAML (a dependency of the core) does not keep comments: the converted file has only those it
writes itself, and the original's are in the ``.bak`` file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelet.plugins import FIRST_PARTY_COLLECTOR_KEYS
from tracelet.settings.legacy import ALWAYS_ON, IGNORED, LEGACY_KEYS, RENAMED
from tracelet.settings.sources import (
    CONFIG_ENV,
    MIGRATE_COMMAND,
    KeyPath,
    earlier_sections,
    read_yaml_file,
)

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost

_ALWAYS_ON_WHY = "typed artifacts are always available"
_ONE_SWITCH = (
    "artifacts.automagic and artifacts.watch_filesystem are one switch today, "
    "automagic_artifacts (on when either was), which scans artifact_watch_dirs"
)
_NO_FRAMEWORKS = (
    "today's automagic takes no list of frameworks: it captures the script's hyperparameter "
    "variables and describes the PyTorch and Keras models and the datasets it finds "
    "(automagic_hyperparams, automagic_models, automagic_datasets)"
)
_ON_BY_SECTION = "the section had no 'enabled': giving automagic's options turns it on"
#: Width of the comments written into the converted file.
_COMMENT_WIDTH = 96
#: Keys of the earlier ``artifacts:`` section → today's keys.
_ARTIFACTS_KEYS = {
    "enabled": "enable_artifacts",
    "automagic": "automagic_artifacts",
    "watch_filesystem": "automagic_artifacts",
    "watch_dirs": "artifact_watch_dirs",
}


class MigrationError(Exception):
    """The file cannot be converted, or its conversion does not resolve; nothing was written.

    The message says why and what to do.
    """


@dataclass(frozen=True)
class Change:
    """What became of one key of the earlier file.

    Attributes:
        earlier: The key as written, dotted (``"tracking.system"``).
        line: Its line in the file.
        today: Today's key it became, or ``None`` when it was dropped.
        why: Why it was dropped (and what to do instead), or a note on the rename.
    """

    earlier: str
    line: int
    today: str | None
    why: str = ""

    def describe(self) -> str:
        """One plain line: ``tracking.system (line 5) -> collect_system_metrics``."""
        where = f"{self.earlier} (line {self.line})"
        if self.today is None:
            return f"{where}: dropped: {self.why}"
        return f"{where} -> {self.today}" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True)
class Conversion:
    """A file of the earlier format, converted.

    Attributes:
        text: The YAML text of today's file.
        values: Its top-level keys and values.
        changes: What became of each earlier key, in the file's order.
        kept: The top-level keys kept as they were.
        origins: For each line of ``text``, the line in the earlier file of the key it comes
            from (0 for the comments written by the conversion).
    """

    text: str
    values: dict[str, Any]
    changes: tuple[Change, ...]
    kept: tuple[str, ...]
    origins: tuple[int, ...]

    def where_from(self, line: int) -> int:
        """The line of the earlier file that ``line`` of :attr:`text` comes from (0: none)."""
        return self.origins[line - 1] if 0 < line <= len(self.origins) else 0


@dataclass(frozen=True)
class Migrated:
    """A file written by :func:`migrate_file`.

    Attributes:
        source: The file converted.
        target: The file written (``source`` unless an output was given).
        backup: Where the original was kept, or ``None`` (an output was given).
        conversion: What was converted.
    """

    source: Path
    target: Path
    backup: Path | None
    conversion: Conversion

    def report(self) -> list[str]:
        """Plain lines saying what changed and where the files are."""
        lines = [f"converted {self.source} from the format of earlier Tracelet releases:"]
        lines += [f"  {change.describe()}" for change in self.conversion.changes]
        if self.conversion.kept:
            lines.append(f"  kept as they were: {', '.join(self.conversion.kept)}")
        if self.backup is not None:
            lines.append(f"wrote {self.target}; the original is {self.backup}")
            lines.append("check it with: tracelet config")
        else:
            lines.append(f"wrote {self.target}; {self.source} is unchanged")
            lines.append(f"check it with: {CONFIG_ENV}={self.target} tracelet config")
        return lines


def today_key(section: str | None, key: str, today_keys: Collection[str]) -> str | None:
    """The top-level key that ``key`` of an earlier ``section`` (``None``: the top level) names,
    before the renames of :mod:`tracelet.settings.legacy`: ``("tracking", "system")`` →
    ``"track_system"``, ``("automagic", "enabled")`` → ``"automagic"``. ``None`` for a key the
    earlier section did not have.

    Args:
        section: ``"tracking"``, ``"automagic"``, ``"artifacts"`` or ``None``.
        key: The key as written in it.
        today_keys: Today's top-level keys (with the collectors' even when not installed).
    """
    if section is None:
        return key
    if section == "tracking":
        candidates = [key, f"track_{key}"]
    elif section == "automagic":
        if key == "enabled":
            return "automagic"
        if key == "frameworks":
            return key
        candidates = [f"automagic_{key}", key if key.startswith("automagic_") else ""]
    else:  # artifacts
        candidates = [_ARTIFACTS_KEYS.get(key, key)]
    return next((c for c in candidates if c in LEGACY_KEYS or c in today_keys), None)


def dropped_because(name: str) -> str | None:
    """Why the earlier top-level key ``name`` (as :func:`today_key` gives it) is dropped, or
    ``None`` when it is kept (under today's name: ``RENAMED.get(name, name)``)."""
    if name in IGNORED:
        return IGNORED[name]
    if name in ALWAYS_ON:
        return _ALWAYS_ON_WHY
    if name == "frameworks":
        return _NO_FRAMEWORKS
    return None


@dataclass
class _Output:
    """Today's file, built key by key in the earlier file's order."""

    path: Path
    provenance: Mapping[KeyPath, str]
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    #: Today's file, a block of lines per key, each with the line of its key in the earlier file.
    blocks: list[tuple[str, int]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self, path: KeyPath) -> int:
        where = self.provenance.get(path, ":0")
        return int(where.rsplit(":", 1)[-1])

    def set(self, key: str, value: Any, earlier: KeyPath, why: str = "") -> None:
        import yaml

        dotted = ".".join(earlier)
        if key in self.values:
            first = self.origin[key]
            self.problems.append(
                f"{key}: set twice, by {first} and by {dotted} (line {self.line(earlier)}); "
                "keep one of them"
            )
            return
        self.values[key] = value
        self.origin[key] = f"{dotted} (line {self.line(earlier)})"
        dumped = yaml.safe_dump(
            {key: value}, sort_keys=False, default_flow_style=False, allow_unicode=True
        )
        if earlier == (key,) and not why:
            self.kept.append(key)
            self.blocks.append((dumped, self.line(earlier)))
            return
        self.changes.append(Change(dotted, self.line(earlier), key, why))
        self.blocks.append((f"# was {dotted}\n{dumped}", self.line(earlier)))

    def drop(self, earlier: KeyPath, why: str) -> None:
        change = Change(".".join(earlier), self.line(earlier), None, why)
        self.changes.append(change)
        comment = textwrap.wrap(f"dropped {change.earlier}: {why}", _COMMENT_WIDTH)
        self.blocks.append(("# " + "\n#   ".join(comment) + "\n", change.line))

    def earlier_section(
        self, section: str, keys: Mapping[str, Any], today: Collection[str]
    ) -> None:
        """The keys of one earlier section; ``artifacts:``'s two capture switches become one."""
        both = section == "artifacts" and {"automagic", "watch_filesystem"} <= set(keys)
        for key, value in keys.items():
            if both and key == "watch_filesystem":
                self.drop((section, key), _ONE_SWITCH)
            elif both and key == "automagic":
                self.earlier_key(section, key, bool(value or keys["watch_filesystem"]), today)
            else:
                self.earlier_key(section, str(key), value, today)

    def earlier_key(
        self, section: str | None, key: str, value: Any, today: Collection[str]
    ) -> None:
        earlier = (key,) if section is None else (section, key)
        name = today_key(section, key, today)
        if name is None:
            self.problems.append(
                f"{'.'.join(earlier)}: not a key of the earlier '{section}:' section (from "
                f"{self.path}:{self.line(earlier)}); fix or remove it, then run "
                f"{MIGRATE_COMMAND} again"
            )
            return
        why = dropped_because(name)
        if why is not None:
            self.drop(earlier, why)
        else:
            self.set(RENAMED.get(name, name), value, earlier)


def convert(
    data: Mapping[str, Any], provenance: Mapping[KeyPath, str], path: Path, known: Collection[str]
) -> Conversion:
    """Today's file for ``data``, a file in the earlier format.

    Args:
        data: The file's mapping (see :func:`~tracelet.settings.sources.read_yaml_file`).
        provenance: Its key paths → ``"<file>:<line>"``.
        path: The file (for messages).
        known: The top-level keys of this installation's settings.

    Raises:
        MigrationError: The file is not in the earlier format, has a key its sections did not
            have, or sets one of today's keys twice.
    """
    sections = earlier_sections(data, known)
    if not sections:
        raise MigrationError(
            f"tracelet: error: {path} is not in the format of earlier Tracelet releases (it has "
            "no 'tracking:' section and no 'automagic:' or 'artifacts:' mapping): nothing to "
            "convert, the file is unchanged; tracelet config shows how it resolves"
        )
    today = {*known, *FIRST_PARTY_COLLECTOR_KEYS}
    out = _Output(path, provenance)
    for key, value in data.items():
        if key in sections:
            if key == "automagic" and "enabled" not in value:
                out.set("automagic", True, ("automagic",), _ON_BY_SECTION)
            out.earlier_section(key, value, today)
        elif key in LEGACY_KEYS and key not in known:
            out.earlier_key(None, key, value, today)
        else:
            out.set(key, value, (key,))
    if out.problems:
        lines = "\n".join(f"  - {p}" for p in out.problems)
        raise MigrationError(
            f"tracelet: error: cannot convert {path} ({len(out.problems)} "
            f"{'problem' if len(out.problems) == 1 else 'problems'}); it is unchanged:\n{lines}"
        )
    header = (
        f"# Converted by {MIGRATE_COMMAND} from {path.name}, a file in the format of\n"
        "# earlier Tracelet releases; the comments of that file are not carried over.\n"
    )
    origins = [0] * header.count("\n")
    for block, line in out.blocks:
        origins += [line] * block.count("\n")
    text = header + "".join(block for block, _ in out.blocks)
    return Conversion(text, out.values, tuple(out.changes), tuple(out.kept), tuple(origins))


def migrate_file(path: Path, host: PluginHost, output: Path | None = None) -> Migrated:
    """Convert the earlier-format file at ``path`` and write today's file.

    The converted text is resolved with today's settings on its own (env vars are not read)
    before anything is written. Then the original is copied to ``<name>.bak`` and replaced, or,
    with ``output``, today's file is written there and the original is left as it is.

    Args:
        path: The file to convert.
        host: The plugin host whose settings the result must satisfy.
        output: Where to write today's file instead of replacing ``path``.

    Raises:
        ConfigError: The file cannot be read or parsed.
        MigrationError: The file is not in the earlier format, cannot be converted, the
            converted file does not resolve, the ``.bak`` file or ``output`` already exists,
            or writing fails.
    """
    from tracelet.settings.model import settings_keys

    path = path.absolute()
    data, provenance = read_yaml_file(path)
    known = settings_keys(host.section_models(), host.top_level_models())
    conversion = convert(data, provenance, path, known)

    target = path if output is None else output.absolute()
    backup = path.with_name(path.name + ".bak") if target == path else None
    if backup is not None and backup.exists():
        raise MigrationError(
            f"tracelet: error: {backup} already exists; move it away (or write the converted "
            "file elsewhere with --output PATH), then run again; nothing was written"
        )
    if target != path and target.exists():
        raise MigrationError(
            f"tracelet: error: {target} already exists; remove it or choose another --output; "
            "nothing was written"
        )

    try:
        _write_checked(path, target, backup, conversion, host)
    except OSError as exc:
        raise MigrationError(f"tracelet: error: cannot write {target}: {exc}") from None
    return Migrated(path, target, backup, conversion)


def _write_checked(
    path: Path, target: Path, backup: Path | None, conversion: Conversion, host: PluginHost
) -> None:
    """Write ``conversion`` to ``target`` once it resolves, keeping ``path`` as ``backup``."""
    from tracelet.errors import ConfigError
    from tracelet.settings.resolve import resolve_settings

    # Written beside the target, so that the final rename stays on one file system.
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(conversion.text)
        try:
            resolve_settings(host, environ={CONFIG_ENV: str(temporary)})
        except ConfigError as exc:
            # Name the earlier file's lines: the converted file was not written.
            def earlier_line(found: re.Match[str]) -> str:
                return f"{path}:{conversion.where_from(int(found.group(1)))}"

            mark = re.compile(re.escape(str(temporary)) + r":(\d+)")
            lines = "\n".join(f"  - {mark.sub(earlier_line, p)}" for p in exc.problems)
            raise MigrationError(
                f"tracelet: error: the conversion of {path} does not resolve with today's "
                f"settings; nothing was written:\n{lines}"
            ) from None
        if backup is not None:
            shutil.copy2(path, backup)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
