"""The ``tracelet`` command: what is installed and how a run would be configured.

Commands::

    tracelet --version                     the version of tracelet-core
    tracelet plugins [--json]              every plugin: what it provides, its distribution,
                                           version and status (loaded, error, disabled)
    tracelet config [--json] [--backend NAME ...] [--all]
                                           the settings a run started here would get, with
                                           the source of every value (argument, env var,
                                           file:line or default); secrets are redacted
    tracelet runs [PATH] [--project NAME] [--group NAME]
                                           the runs under PATH (default: local.path), with
                                           their group and the backends each is behind on
    tracelet show RUN... [--metric GLOB] [--x step|time] [--no-plot] [--watch [S]] [--json]
                                           local runs (a folder, run id, run name or 'latest'):
                                           their curves in the terminal, then status, params,
                                           tags, a summary of each metric, files and delivery
    tracelet sync [RUN ...] [--all] [--to BACKEND] [--dry-run] [--force] [--new-run] [--timeout S]
                                           deliver from the journal what backends missed
    tracelet report [RUN ...] [-o FILE] [--project NAME] [--group NAME] [--where COND ...]
                                           one self-contained HTML file comparing runs (needs
                                           plotly: the ``report`` extra)

Results go to stdout, messages to stderr. Exit codes: 0 success, 1 invalid configuration
(the message names each key, its source and the fix), 2 wrong usage of the command, 3 a sync
that left records undelivered.

Only :mod:`argparse` is imported up front: ``tracelet --version`` and ``--help`` load neither
pydantic nor the plugins.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracelet._version import __version__
from tracelet.textout import print_table, show_value, when

if TYPE_CHECKING:
    from tracelet.plugins import PluginHost

#: Exit code of a configuration error (usage errors exit with 2, like every argparse program).
EXIT_CONFIG_ERROR = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3

_DESCRIPTION = (
    "Tracelet: one API for ML experiment tracking. Inspect the installed plugins and the "
    "configuration a run started in this directory would use."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tracelet`` command.

    Args:
        argv: The arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 for an invalid configuration, 2 for wrong usage.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits after --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.version:
        print(f"tracelet-core {__version__}")
        return 0
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(
            "tracelet: error: name a command (plugins, config, runs, show, sync, report) or use "
            "--help",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _configure_logging()
    try:
        code: int = args.handler(args)
    except BrokenPipeError:
        # The reader went away (`tracelet plugins | head -1`): stop quietly, and point stdout
        # at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracelet", description=_DESCRIPTION)
    parser.add_argument(
        "--version", action="store_true", help="print the version of tracelet-core and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    plugins = sub.add_parser(
        "plugins",
        help="list the plugins, what they provide and whether they loaded",
        description="List every plugin (built-in, installed through the 'tracelet' entry-point "
        "group): the backends and collectors it registered, its distribution and version, and "
        "its status: loaded, error (with the error) or disabled (not in TRACELET_PLUGINS).",
    )
    plugins.add_argument("--json", action="store_true", help="print a JSON list")
    plugins.set_defaults(handler=_cmd_plugins)

    config = sub.add_parser(
        "config",
        help="show the resolved settings and where each value comes from",
        description="Show the settings a run started in this directory would get (arguments > "
        "env vars > tracelet.yaml > defaults), with the source of every value. Secrets are "
        "redacted. Exits with 1 and the problems on stderr when the configuration is invalid.",
    )
    config.add_argument("--json", action="store_true", help="print a JSON object")
    config.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help="resolve as for start_logging(backend=...); repeat it or separate names with "
        "commas for several backends",
    )
    config.add_argument(
        "--all",
        action="store_true",
        help="also show the sections of backends the run would not use",
    )
    config.set_defaults(handler=_cmd_config)

    runs = sub.add_parser(
        "runs",
        help="list the runs of the local backend",
        description="List the run folders under PATH (default: local.path, ./tracelet-runs "
        "unless configured), oldest first, with the backends each run has not fully received.",
    )
    runs.add_argument("path", nargs="?", default=None, metavar="PATH")
    runs.add_argument("--project", help="only this project's runs")
    runs.add_argument("--group", help="only this group's runs (the trials of one sweep)")
    runs.set_defaults(handler=_cmd_runs)

    show = sub.add_parser(
        "show",
        help="draw and summarise runs of the local backend",
        description="Draw the runs' curves in the terminal (several runs overlaid), then show "
        "what each holds: status, params, tags, each metric (points, steps, last/min/max "
        "value), artifacts, media and how far each backend's delivery got. RUN is a run "
        "folder, a run id, a run name (its latest run) or 'latest', looked up under local.path.",
    )
    show.add_argument("runs", nargs="+", metavar="RUN")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.add_argument("--no-plot", action="store_true", help="no charts, the summary only")
    show.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="GLOB",
        help="draw the metrics matching GLOB (repeatable; e.g. 'train/*', 'system/*')",
    )
    show.add_argument(
        "--x", choices=["step", "time"], default="step", help="x axis: step or seconds"
    )
    show.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="redraw every SECONDS (default 2) while the runs are live",
    )
    show.set_defaults(handler=_cmd_show)

    sync = sub.add_parser(
        "sync",
        help="deliver from the journal what backends have not received",
        description="For each run (a folder, a run id, a run name or 'latest', looked up under "
        "local.path) deliver to each of its backends what they have not received: after a "
        "crash, a SIGKILL, an outage longer than shutdown_timeout, or a run made offline. "
        "Backends resume their run; one that never saw the run creates it. A run whose process "
        "is gone but which still says 'running' is closed as killed. Settings (servers, "
        "credentials) come from the configuration where sync runs.",
    )
    sync.add_argument("runs", nargs="*", metavar="RUN")
    sync.add_argument("--all", action="store_true", help="every run under local.path")
    sync.add_argument(
        "--to",
        action="append",
        metavar="BACKEND",
        help="deliver to this backend instead of the run's own (repeat, or separate with commas)",
    )
    sync.add_argument("--dry-run", action="store_true", help="only say what would be delivered")
    sync.add_argument(
        "--force",
        action="store_true",
        help="sync runs that say 'running' although they ran on another host",
    )
    sync.add_argument(
        "--new-run",
        action="store_true",
        help="deliver everything again to a new run in each backend (for a backend that "
        "cannot resume its run, or a run deleted there)",
    )
    sync.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds to keep retrying a backend whose writes fail (default: 60)",
    )
    sync.set_defaults(handler=_cmd_sync)
    _add_report_parser(sub)
    return parser


def _add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tracelet.viewer import report as defaults  # its module-level imports are light

    report = sub.add_parser(
        "report",
        help="write one self-contained HTML file comparing runs",
        description="Write one HTML file (no server, no network) with a chart per metric and a "
        "line per run, system metrics, params with the differences highlighted, images and "
        "figures, tags, status, times and where each run is in the other backends. RUN is a run "
        "folder, a run id, a run name (its latest run) or 'latest', looked up under local.path "
        "(or --root); without RUN, every run there. --project, --group and --where keep the "
        'runs that match all of them. Needs plotly (pip install "plotly>=6").',
    )
    report.add_argument("runs", nargs="*", metavar="RUN")
    report.add_argument(
        "-o",
        "--output",
        default=defaults.DEFAULT_OUTPUT,
        metavar="FILE",
        help=f"the HTML file to write (default: {defaults.DEFAULT_OUTPUT})",
    )
    report.add_argument("--project", help="only this project's runs")
    report.add_argument("--group", help="only this group's runs")
    report.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COND",
        help="only runs whose param satisfies NAME OP VALUE, OP one of = != < <= > >= "
        "(numbers compare as numbers); repeat to require several",
    )
    report.add_argument(
        "--root", metavar="PATH", help="where to look runs up (default: local.path)"
    )
    report.add_argument(
        "--max-points",
        type=int,
        default=defaults.DEFAULT_MAX_POINTS,
        metavar="N",
        help="points per curve and run at most; longer curves are downsampled keeping each "
        f"bucket's first, min, max and last point (default: {defaults.DEFAULT_MAX_POINTS})",
    )
    report.add_argument(
        "--media",
        type=int,
        default=defaults.DEFAULT_MEDIA_LIMIT,
        metavar="N",
        help="images, figures and texts shown per name and run: the last N by step "
        f"(default: {defaults.DEFAULT_MEDIA_LIMIT})",
    )
    report.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="processes reading runs (default: CPUs)"
    )
    report.add_argument("--title", help="the page title (default: the run names)")
    report.set_defaults(handler=_cmd_report)


def _configure_logging() -> None:
    """Show Tracelet's warnings on stderr, and hook calls when ``TRACELET_TRACE_HOOKS=1``."""
    from tracelet.plugins import TRACE_HOOKS_ENV

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("tracelet")
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    if os.environ.get(TRACE_HOOKS_ENV) == "1":
        logging.getLogger("tracelet.plugins").setLevel(logging.DEBUG)


def _host() -> PluginHost:
    from tracelet.plugins import get_default_host

    return get_default_host()


# -- tracelet plugins --------------------------------------------------------------------------


def _cmd_plugins(args: argparse.Namespace) -> int:
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


def _cmd_config(args: argparse.Namespace) -> int:
    from tracelet.errors import ConfigError
    from tracelet.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE, resolve_settings

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


def _cmd_runs(args: argparse.Namespace) -> int:
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


def _cmd_sync(args: argparse.Namespace) -> int:
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


def _cmd_report(args: argparse.Namespace) -> int:
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


def _cmd_show(args: argparse.Namespace) -> int:
    from tracelet.viewer.show import show

    return show(args, lambda: _runs_root(None))


if __name__ == "__main__":
    sys.exit(main())
