"""The ``tracelet`` commands: each reads its parsed arguments, prints its result and returns
the exit code (:data:`~tracelet.cli.EXIT_CONFIG_ERROR`, :data:`~tracelet.cli.EXIT_USAGE`,
:data:`~tracelet.cli.EXIT_INCOMPLETE` or 0).

Results go to stdout, messages to stderr. Each command imports what it needs when it runs, so
the parser (:mod:`tracelet.cli_parser`) loads nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from tracelet.cli import EXIT_CONFIG_ERROR, EXIT_INCOMPLETE, EXIT_USAGE
from tracelet.textout import print_table, show_value, when

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost


def _host() -> PluginHost:
    from tracelet.plugins import get_default_host

    return get_default_host()


# -- tracelet plugins --------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace) -> int:
    """``tracelet plugins``: every plugin with what it provides, its version and status."""
    from tracelet.plugins import describe_plugins

    plugins_logger = logging.getLogger("tracelet.plugins")
    if plugins_logger.level != logging.DEBUG:
        # Load errors are the table's subject; a warning per broken plugin would repeat them.
        plugins_logger.setLevel(logging.ERROR)
    rows = describe_plugins(_host())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [["NAME", "PROVIDES", "DISTRIBUTION", "VERSION", "STATUS"]]
    for row in rows:
        status = row["status"]
        if row["error"]:
            status = f"{status}: {row['error']}"
        table.append(
            [
                row["name"],
                _provides(row["backends"], row["collectors"]),
                row["distribution"] or "(in-process)",
                row["version"] or "-",
                status,
            ]
        )
    print_table(table)
    return 0


def _provides(backends: list[str], collectors: list[str]) -> str:
    parts = []
    if backends:
        parts.append(f"backends: {', '.join(backends)}")
    if collectors:
        parts.append(f"collectors: {', '.join(collectors)}")
    return "; ".join(parts) or "-"


# -- tracelet config ---------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    """``tracelet config``: the resolved settings with the source of each value (secrets
    redacted); 1 when the configuration is invalid."""
    from tracelet.errors import ConfigError
    from tracelet.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE, resolve_settings

    if args.migrate is not None:
        return _migrate(args)
    if args.output is not None:
        print("tracelet: error: --output goes with --migrate", file=sys.stderr)
        return EXIT_USAGE
    backend = None
    if args.backend is not None:
        backend = [name.strip() for arg in args.backend for name in arg.split(",") if name.strip()]
    try:
        resolved = resolve_settings(_host(), backend=backend)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    rows = resolved.rows()  # secrets already redacted, nested ones included
    if not args.all:  # the core, the collectors, the journal's local and the selected backends
        other = set(_host().backends) - {*resolved.model.backend, "local"}
        rows = [row for row in rows if row[0].split(".", 1)[0] not in other]
    config_file = resolved.config_file
    if config_file is None:
        why = f"no ./{DEFAULT_CONFIG_FILE} and {CONFIG_ENV} is not set"
    elif os.environ.get(CONFIG_ENV):
        why = f"from env var {CONFIG_ENV}"
    else:
        why = "from the working directory"
    if args.json:
        document = {
            "config_file": config_file,
            "settings": [{"key": k, "value": v, "source": s} for k, v, s in rows],
        }
        print(json.dumps(document, indent=2, default=str))
        return 0
    print(f"config file: {config_file or 'none'} ({why})")
    print()
    print_table([["KEY", "VALUE", "SOURCE"], *([k, show_value(v), s] for k, v, s in rows)])
    if not args.all:
        print("\n(sections of the other installed backends: tracelet config --all)")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """``tracelet config --migrate [PATH] [--output PATH]``: convert a file of the earlier
    format; 1 when it cannot be converted (nothing is written then), 2 for wrong usage."""
    from pathlib import Path

    from tracelet.errors import ConfigError
    from tracelet.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE
    from tracelet.settings.migrate import MigrationError, migrate_file
    from tracelet.settings.sources import config_file_path

    if args.json or args.backend or args.all:
        print("tracelet: error: --migrate takes no --json, --backend or --all", file=sys.stderr)
        return EXIT_USAGE
    path: Path | None
    if args.migrate:
        path = Path(args.migrate)
    else:
        try:
            path, _ = config_file_path()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return EXIT_CONFIG_ERROR
    if path is None:
        print(
            f"tracelet: error: no ./{DEFAULT_CONFIG_FILE} here and {CONFIG_ENV} is not set; "
            "name the file: tracelet config --migrate PATH",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not path.is_file():
        print(f"tracelet: error: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    try:
        migrated = migrate_file(path, _host(), output=output)
    except (ConfigError, MigrationError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    for line in migrated.report():
        print(line)
    return 0


# -- tracelet runs / show ----------------------------------------------------------------------


def _runs_root(path: str | None) -> str | None:
    """``path``, else the configured ``local.path``; ``None`` (reported) for a bad config."""
    if path is not None:
        return path
    from tracelet.errors import ConfigError
    from tracelet.settings import resolve_settings

    try:
        section = resolve_settings(_host()).section("local")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    return str(getattr(section, "path", "./tracelet-runs"))


def cmd_runs(args: argparse.Namespace) -> int:
    """``tracelet runs``: the run folders under PATH, with the backends each is behind on."""
    from tracelet.backends.local import list_runs
    from tracelet.gaps import delivery_gaps

    root = _runs_root(args.path)
    if root is None:
        return EXIT_CONFIG_ERROR
    found = list_runs(root, project=args.project, group=args.group)
    if not found:
        print(f"no runs under {root}", file=sys.stderr)
        return 0
    table = [["PROJECT", "GROUP", "NAME", "STATUS", "STARTED", "BEHIND", "FOLDER"]]
    for run in found:
        gaps = delivery_gaps(run.path)
        behind = ", ".join(f"{g.backend} {g.describe()}" for g in gaps if not g.complete)
        if run.dropped:
            behind = ", ".join(filter(None, [f"{run.dropped:,} dropped", behind]))
        table.append(
            [
                run.project,
                run.group or "-",
                run.name,
                run.status,
                when(run.meta.get("start_time")),
                behind or "-",
                str(run.path),
            ]
        )
    print_table(table)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """``tracelet sync``: deliver from the journal what backends missed; 3 when some is left."""
    from tracelet.errors import ConfigError
    from tracelet.syncing import sync

    if not args.runs and not args.all:
        print("tracelet: error: name runs to sync, or pass --all", file=sys.stderr)
        return EXIT_USAGE
    to = None
    if args.to:
        to = [name.strip() for arg in args.to for name in arg.split(",") if name.strip()]
    try:
        results = sync(
            args.runs,
            to=to,
            every=args.all,
            dry_run=args.dry_run,
            force=args.force,
            new_run=args.new_run,
            timeout=args.timeout,
        )
    except FileNotFoundError as exc:
        print(f"tracelet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if not results:
        print("nothing to sync", file=sys.stderr)
        return 0
    table = [["RUN", "BACKEND", "DELIVERED", "ALREADY THERE", "FAILED", "LEFT", "RESULT"]]
    for r in results:
        table.append(
            [
                r.run.name,
                r.backend,
                str(r.delivered),
                str(r.already),
                str(r.failed),
                str(r.remaining),
                r.status,
            ]
        )
    print_table(table)
    return 0 if all(r.ok for r in results) else EXIT_INCOMPLETE


def cmd_report(args: argparse.Namespace) -> int:
    """``tracelet report``: one self-contained HTML file comparing runs."""
    from tracelet.viewer.report import report_command

    return report_command(
        args.runs,
        output=args.output,
        root=lambda: _runs_root(args.root),
        project=args.project,
        group=args.group,
        where=args.where,
        max_points=args.max_points,
        media_limit=args.media,
        jobs=args.jobs,
        title=args.title,
    )


def cmd_show(args: argparse.Namespace) -> int:
    """``tracelet show``: local runs' curves in the terminal and their summary."""
    from tracelet.viewer.show import show

    return show(args, lambda: _runs_root(None))
