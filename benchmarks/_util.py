"""Small helpers shared by the benchmark scripts: plain-text tables and summary statistics.

The scripts import this module as ``_util`` (Python puts the script's own folder first on
``sys.path``), so it must stay free of third-party imports.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracelet.run import Run

#: Config keys that turn every collector off. The backend scripts count every point they read
#: back, and a collector's samples would be counted too (bench_collectors measures them).
COLLECTORS_OFF: dict[str, bool] = {
    "collect_system_metrics": False,
    "collect_gpu_metrics": False,
    "track_git_info": False,
    "track_environment": False,
}


def median(values: Sequence[float]) -> float:
    """The median of ``values``.

    Raises:
        statistics.StatisticsError: ``values`` is empty.
    """
    return statistics.median(values)


def fmt_int(value: float) -> str:
    """``value`` rounded to a whole number, with thousands separators (``1,234``)."""
    return f"{round(value):,}"


def fmt_float(value: float, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and thousands separators (``1,234.5``)."""
    return f"{value:,.{digits}f}"


def verdict(measured: float, limit: float, digits: int = 0) -> str:
    """``"PASS"`` when ``measured`` <= ``limit``, else ``"FAIL"``, both rounded to ``digits``
    decimals first, as the target line prints them: the printed figures decide, so a reader
    (or a test that parses the line) can check the verdict against them."""
    return "PASS" if round(measured, digits) <= round(limit, digits) else "FAIL"


def section(title: str) -> str:
    """A section heading: the title underlined with ``=``, preceded by a blank line."""
    return f"\n{title}\n{'=' * len(title)}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render rows as an aligned plain-text table.

    The first column is left-aligned (it names the case); the others are right-aligned
    (they hold numbers). A rule of dashes separates the header from the rows.

    Args:
        headers: One title per column.
        rows: Cells already formatted as strings; every row has ``len(headers)`` cells.

    Raises:
        ValueError: A row does not have one cell per header.
    """
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, expected {len(headers)}")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


@contextmanager
def clean_workdir(
    drop_prefixes: tuple[str, ...], set_env: Mapping[str, str] | None = None
) -> Iterator[Path]:
    """Run in a new temporary folder, without the env vars whose names start with
    ``drop_prefixes`` or that set a distributed rank, and with ``set_env`` set; the working
    directory and the environment are restored afterwards. Yields the folder."""
    rank = ("RANK", "LOCAL_RANK")
    extra = dict(set_env or {})
    saved = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(drop_prefixes) or k in rank or k in extra
    }
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="tracelet-bench-") as tmp:
        for key in saved:
            del os.environ[key]
        os.environ.update(extra)
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(cwd)
            for key in extra:
                os.environ.pop(key, None)
            os.environ.update(saved)


def load_average() -> str:
    """``", load average 0.42"`` (the 1-minute figure, a hint of how much other processes
    skew the timings), or ``""`` where the platform has none."""
    if not hasattr(os, "getloadavg"):
        return ""
    return f", load average {os.getloadavg()[0]:.2f}"


def header(what: str, quick: bool) -> None:
    """Print the first line of a benchmark's output: what is measured, the size, and the
    machine (Python, platform, CPUs, load) the figures belong to."""
    print(
        f"Tracelet {what} benchmarks ({'quick' if quick else 'full'}); Python "
        f"{sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{load_average()}"
    )


def summary(problems: Sequence[str]) -> int:
    """Print the summary section; the exit status: 0 without problems, else 1."""
    print(section("Summary"))
    print(f"finished{load_average()}")
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}")
        return 1
    print("all correctness checks passed (timing targets are reported above, not enforced)")
    return 0


def check_delivered(run: Run, expected: int) -> list[str]:
    """Stop the run; the problems found if it did not deliver exactly ``expected`` points."""
    ok = run.stop()
    problems = []
    for name, stats in run.stats().items():
        if stats.delivered != expected or stats.dropped or stats.failed:
            problems.append(
                f"backend {name!r}: {stats.delivered:,} of {expected:,} points delivered "
                f"({stats.dropped} dropped, {stats.failed} failed, {stats.pending} pending; "
                f"last error: {stats.last_error})"
            )
    if not ok and not problems:
        problems.append(f"run {run.name!r} did not stop cleanly")
    return problems
