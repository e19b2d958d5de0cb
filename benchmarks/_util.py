"""Small helpers shared by the benchmark scripts: plain-text tables and summary statistics.

The scripts import this module as ``_util`` (Python puts the script's own folder first on
``sys.path``), so it must stay free of third-party imports.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


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
