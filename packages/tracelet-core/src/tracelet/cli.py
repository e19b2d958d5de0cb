"""The ``tracelet`` command: what is installed and how a run would be configured.

Commands::

    tracelet --version                     the version of tracelet-core
    tracelet plugins [--json]              every plugin: what it provides, its distribution,
                                           version and status (loaded, error, disabled)
    tracelet config [--json] [--backend NAME ...] [--all]
                                           the settings a run started here would get, with
                                           the source of every value (argument, env var,
                                           file:line or default); secrets are redacted
    tracelet config --migrate [PATH] [--output PATH]
                                           convert a tracelet.yaml of earlier releases to
                                           today's keys (the original kept as PATH.bak)
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

The parser is built in :mod:`tracelet.cli_parser` and each command runs in
:mod:`tracelet.cli_commands`.

Only :mod:`argparse` is imported up front: ``tracelet --version`` and ``--help`` load neither
pydantic nor the plugins.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from tracelet._version import __version__

#: Exit code of a configuration error (usage errors exit with 2, like every argparse program).
EXIT_CONFIG_ERROR = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tracelet`` command.

    Args:
        argv: The arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 for an invalid configuration, 2 for wrong usage.
    """
    # Imported here: tracelet.cli_commands takes the exit codes above from this module.
    from tracelet.cli_parser import build_parser

    parser = build_parser()
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


if __name__ == "__main__":
    sys.exit(main())
