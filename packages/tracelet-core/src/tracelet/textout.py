"""Plain-text output of the ``tracelet`` command: tables and values as people read them."""

from __future__ import annotations

import json
import time
from typing import Any


def print_table(rows: list[list[str]]) -> None:
    """Left-aligned columns; the last column is not padded (it may be long)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def show_value(value: Any) -> str:
    """A value as in YAML: strings bare, everything else as JSON (``null``, ``true``, lists)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def when(timestamp: float | None) -> str:
    """A local date and time to the second, ``-`` for none."""
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def number(value: float | None) -> str:
    """Six significant digits, ``-`` for none."""
    return "-" if value is None else f"{value:.6g}"
