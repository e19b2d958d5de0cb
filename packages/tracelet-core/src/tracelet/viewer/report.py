"""``tracelet report``: one self-contained HTML file comparing runs of the local backend.

The path from run folders to the page, in three steps:

1. **Select** (:mod:`tracelet.viewer.selection`): run references, ``--project``, ``--group``
   and ``--where`` conditions on params give the run folders.
2. **Read** (:mod:`tracelet.viewer.snapshot`): each folder becomes a
   :class:`~tracelet.viewer.snapshot.RunSnapshot`: params, tags, status and times, each metric
   cut down to at most ``max_points`` points by
   :func:`~tracelet.viewer.series.downsample` (first, minimum, maximum and last point of each
   bucket, so a spike survives), the last ``media_limit`` images, figures and texts of each
   name, its artifacts (typed versions from their manifests), and the backends' identities of
   the run (:mod:`tracelet.viewer.links`). Runs are read in parallel worker processes
   (``jobs``), since reading is CPU-bound JSON decoding.
3. **Write** (:mod:`tracelet.viewer.page`): one HTML file with plotly.js inlined (from the
   installed plotly package), the data as one JSON block, the tables as HTML, and
   ``report.js`` / ``report.css`` (next to this module) as the only glue: tabs, lazy chart
   drawing, the smoothing slider (an exponential moving average over the plotted points), the
   x axis (step or time), log scale, run toggles and the metric filter. A
   Content-Security-Policy allows nothing but the page's own inline code and ``data:`` images,
   so opening the file makes no network request.

The page reports its state for automation: ``<html data-status="ready">`` once every chart of
the tab shown is drawn, and each script error is listed in ``#report-errors``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracelet._version import __version__

if TYPE_CHECKING:  # imported where used: the CLI reads the defaults below at start-up
    from tracelet.viewer.snapshot import RunSnapshot

#: Default points per curve and run after downsampling (``max_points // 4`` buckets).
DEFAULT_MAX_POINTS = 2000
#: Default number of images, figures and texts kept per name and run (the last ones by step).
DEFAULT_MEDIA_LIMIT = 8
#: Default output file.
DEFAULT_OUTPUT = "tracelet-report.html"
#: Folders smaller than this in total are read in this process (a worker costs ~0.1 s).
_PARALLEL_FROM_BYTES = 32 * 1024 * 1024


def install_hint() -> str:
    """How to install plotly, which the report needs (the ``report`` extra)."""
    return (
        'tracelet report needs plotly: pip install "plotly>=6", or install Tracelet with the '
        f"report extra (from the wheels, see the README: pip install --find-links dist "
        f'"tracelet[report]=={__version__}")'
    )


class PlotlyMissing(ModuleNotFoundError):
    """plotly is not installed (the message says how to install it)."""


def plotly_js() -> str:
    """The minified plotly.js of the installed plotly package.

    Raises:
        PlotlyMissing: plotly is not installed.
    """
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise PlotlyMissing(install_hint()) from None
    return str(get_plotlyjs())


@dataclass
class ReportSummary:
    """What :func:`write_report` wrote.

    Attributes:
        path: The HTML file.
        runs: Runs in the report.
        charts: Metric charts (one per name), system charts, media items.
        artifacts: Typed artifact versions and other artifacts listed in the Artifacts tab.
        points: Metric points read; ``plotted`` of them are drawn.
        read_seconds, build_seconds: Time spent reading the runs, and building and writing
            the page.
        size: Bytes written.
    """

    path: Path
    runs: int = 0
    metric_charts: int = 0
    system_charts: int = 0
    media: int = 0
    artifacts: int = 0
    points: int = 0
    plotted: int = 0
    read_seconds: float = 0.0
    build_seconds: float = 0.0
    size: int = 0

    def describe(self) -> str:
        return (
            f"{self.runs} run(s), {self.metric_charts} metric and {self.system_charts} system "
            f"chart(s), {self.media} media item(s), {self.artifacts} artifact(s); "
            f"{self.points:,} points read, "
            f"{self.plotted:,} drawn; {self.size / 1e6:.1f} MB; read in "
            f"{self.read_seconds:.1f} s, written in {self.build_seconds:.1f} s"
        )


def write_report(
    folders: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] = DEFAULT_OUTPUT,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    media_limit: int = DEFAULT_MEDIA_LIMIT,
    jobs: int | None = None,
    title: str | None = None,
    progress: bool | None = None,
) -> ReportSummary:
    """Write the HTML report of the given run folders.

    Args:
        folders: Run folders, in the order the report lists them.
        output: The HTML file to write (replaced if it exists).
        max_points: Points per curve and run at most, after downsampling (at least 4).
        media_limit: Images, figures and texts kept per name and run: the last ones by step.
        jobs: Worker processes reading runs (default: one per CPU; 1 reads in this process).
        title: The page title (default: the run names).
        progress: A progress bar on stderr (default: when stderr is a terminal).

    Raises:
        PlotlyMissing: plotly is not installed.
        FileNotFoundError: A folder is not a run folder.
        ValueError: ``max_points`` is below 4 or ``media_limit`` below 0.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    if media_limit < 0:
        raise ValueError(f"media_limit must be 0 or more, got {media_limit}")
    script = plotly_js()
    started = time.perf_counter()
    paths = [Path(f) for f in folders]
    snapshots = list(_read_all(paths, max_points, media_limit, jobs, progress))
    read_done = time.perf_counter()
    out = Path(output)
    from tracelet.viewer.page import Page

    page = Page(snapshots, title, media_limit)
    text = page.html(script)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return ReportSummary(
        path=out,
        runs=len(snapshots),
        metric_charts=page.metric_charts,
        system_charts=page.system_charts,
        media=page.media_items,
        artifacts=page.artifacts,
        points=sum(s.points for s in snapshots),
        plotted=page.plotted,
        read_seconds=read_done - started,
        build_seconds=time.perf_counter() - read_done,
        size=out.stat().st_size,
    )


def report_command(
    refs: Sequence[str],
    *,
    output: str,
    root: Callable[[], str | None],
    project: str | None = None,
    group: str | None = None,
    where: Sequence[str] = (),
    max_points: int = DEFAULT_MAX_POINTS,
    media_limit: int = DEFAULT_MEDIA_LIMIT,
    jobs: int | None = None,
    title: str | None = None,
) -> int:
    """``tracelet report``: select the runs, write the report, print its path on stdout.

    Messages go to stderr. Returns the exit code: 0 written, 1 plotly missing or an invalid
    configuration (``root`` returned ``None`` and reported it), 2 wrong usage (a bad
    ``--where``, a reference or a selection that matches no run).
    """
    from tracelet.cli import EXIT_CONFIG_ERROR, EXIT_USAGE
    from tracelet.viewer.selection import SelectionError, parse_conditions, select_runs
    from tracelet.viewer.snapshot import read_params

    if not (refs or project or group or where):
        print(
            "tracelet: error: name runs (folders, ids, names or 'latest'), or select them "
            "with --project, --group or --where",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        plotly_js()
    except PlotlyMissing as exc:
        print(f"tracelet: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    class _NoRoot(Exception):
        pass

    def runs_root() -> Path:
        found = root()
        if found is None:
            raise _NoRoot
        return Path(found)

    try:
        conditions = parse_conditions(where)
        folders = select_runs(
            refs, runs_root, project=project, group=group, where=conditions, params_of=read_params
        )
        summary = write_report(
            folders,
            output,
            max_points=max_points,
            media_limit=media_limit,
            jobs=jobs,
            title=title,
        )
    except _NoRoot:
        return EXIT_CONFIG_ERROR
    except (SelectionError, FileNotFoundError, ValueError) as exc:
        print(f"tracelet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"report: {summary.describe()}", file=sys.stderr)
    print(summary.path)
    return 0


# -- reading -----------------------------------------------------------------------------------


def _read_all(
    paths: list[Path], max_points: int, media_limit: int, jobs: int | None, progress: bool | None
) -> Iterator[RunSnapshot]:
    """The snapshots of ``paths``, in order; read by worker processes when that pays."""
    from tqdm import tqdm

    from tracelet.viewer.snapshot import read_snapshot

    sizes = [_records_size(p) for p in paths]
    workers = min(len(paths), jobs or os.cpu_count() or 1)
    parallel = workers > 1 and sum(sizes) >= _PARALLEL_FROM_BYTES and _can_fork()
    # tqdm turns itself off when stderr is not a terminal if disable is None.
    bar = tqdm(
        total=sum(sizes),
        desc="reading runs",
        unit="B",
        unit_scale=True,
        disable=None if progress is None else not progress,
        leave=False,
    )
    with bar:
        if not parallel:
            for path, size in zip(paths, sizes, strict=True):
                yield read_snapshot(path, max_points=max_points, media_limit=media_limit)
                bar.update(size)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork: a worker needs nothing but this module, and the caller's __main__ (a script
        # without a main guard) is not run again as spawn would.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(read_snapshot, p, max_points=max_points, media_limit=media_limit)
                for p in paths
            ]
            for future, size in zip(futures, sizes, strict=True):
                yield future.result()
                bar.update(size)


def _records_size(path: Path) -> int:
    from tracelet.journal import RECORDS_FILE

    try:
        return (path / RECORDS_FILE).stat().st_size
    except OSError:
        return 0


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()
