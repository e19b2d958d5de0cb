"""The ``tracelet`` command's argument parser: every command, its options and its help.

:func:`build_parser` returns the :class:`argparse.ArgumentParser` that :func:`tracelet.cli.main`
runs; each command's ``handler`` default is its function in :mod:`tracelet.cli_commands`.
Nothing heavier than :mod:`argparse` is imported, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse

from tracelet import cli_commands

_DESCRIPTION = (
    "Tracelet: one API for ML experiment tracking. Inspect the installed plugins and the "
    "configuration a run started in this directory would use."
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``tracelet``: ``args.handler(args)`` runs the command chosen."""
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
    plugins.set_defaults(handler=cli_commands.cmd_plugins)

    config = sub.add_parser(
        "config",
        help="show the resolved settings and where each value comes from",
        description="Show the settings a run started in this directory would get (arguments > "
        "env vars > tracelet.yaml > defaults), with the source of every value. Secrets are "
        "redacted. Exits with 1 and the problems on stderr when the configuration is invalid. "
        "With --migrate, convert a tracelet.yaml of earlier releases instead.",
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
    config.add_argument(
        "--migrate",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="convert a tracelet.yaml written in the format of earlier releases (tracking:, "
        "automagic:, artifacts: sections) to today's keys, keeping the original as PATH.bak "
        "(default PATH: the file a run would read)",
    )
    config.add_argument(
        "--output",
        metavar="PATH",
        help="with --migrate: write the converted file to PATH and leave the original as it is",
    )
    config.set_defaults(handler=cli_commands.cmd_config)

    runs = sub.add_parser(
        "runs",
        help="list the runs of the local backend",
        description="List the run folders under PATH (default: local.path, ./tracelet-runs "
        "unless configured), oldest first, with the backends each run has not fully received.",
    )
    runs.add_argument("path", nargs="?", default=None, metavar="PATH")
    runs.add_argument("--project", help="only this project's runs")
    runs.add_argument("--group", help="only this group's runs (the trials of one sweep)")
    runs.set_defaults(handler=cli_commands.cmd_runs)

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
    show.set_defaults(handler=cli_commands.cmd_show)

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
    sync.set_defaults(handler=cli_commands.cmd_sync)
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
    report.set_defaults(handler=cli_commands.cmd_report)
