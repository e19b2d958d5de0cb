"""Which runs a report shows: run references, ``--project``, ``--group`` and ``--where``.

References are resolved as ``tracelet show`` and ``tracelet sync`` resolve them
(:func:`tracelet.syncing.find_runs`: a folder, a run id, a run name for its latest run, or
``latest``). Without references every run under the root is a candidate. ``--project``,
``--group`` and each ``--where`` condition then keep the candidates that match all of them.

A condition is ``NAME OP VALUE`` on a param, ``OP`` one of ``=`` (or ``==``), ``!=``, ``<``,
``<=``, ``>``, ``>=``. When the param's value and ``VALUE`` are both numbers they compare as
numbers (``lr<0.01`` holds for ``0.005`` and for ``"5e-3"``); otherwise they compare as text,
the param spelled as ``tracelet show`` prints it (strings bare, ``true``, ``false``, ``null``).
A run without that param matches no condition on it, ``!=`` included.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracelet.journal import RUN_FILE

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "==": operator.eq,
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
# The longest operator that fits wins: "<=" before "<", "==" before "=".
_CONDITION = re.compile(r"^\s*([^<>=!]+?)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$", re.S)


class SelectionError(ValueError):
    """A ``--where`` condition that cannot be read, or a selection that matches no run."""


@dataclass(frozen=True)
class Condition:
    """One ``--where`` condition: ``name op value`` on a param."""

    text: str
    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Read ``NAME OP VALUE``.

        Raises:
            SelectionError: No operator, no name or no value (the message quotes ``text``).
        """
        match = _CONDITION.match(text)
        # A value that starts like an operator ("lr=>1", "lr<<1") is a typo, not text.
        if match is None or not match.group(3) or match.group(3)[0] in "<>=!":
            raise SelectionError(
                f"bad --where {text!r}: expected NAME OP VALUE on a param, with OP one of "
                "= != < <= > >= (e.g. --where 'lr<0.01' --where optimizer=adam)"
            )
        return cls(text, match.group(1), match.group(2), match.group(3))

    def matches(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` holds this param with a value that satisfies the condition."""
        if self.name not in params:
            return False
        compare = _OPERATORS[self.op]
        have, want = params[self.name], self.value
        have_number, want_number = _number(have), _number(want)
        if have_number is not None and want_number is not None:
            return compare(have_number, want_number)
        return compare(param_text(have), want)


def param_text(value: Any) -> str:
    """A param value as ``tracelet show`` prints it: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> float | None:
    """``value`` as a finite float when it is a number or a string spelling one, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_conditions(texts: Iterable[str]) -> list[Condition]:
    """Every ``--where`` text read as a :class:`Condition`.

    Raises:
        SelectionError: The first text that cannot be read.
    """
    return [Condition.parse(text) for text in texts]


def select_runs(
    refs: Sequence[str],
    root: Callable[[], Path],
    *,
    project: str | None = None,
    group: str | None = None,
    where: Sequence[Condition] = (),
    params_of: Callable[[Path], Mapping[str, Any]],
) -> list[Path]:
    """The run folders to report on, in the order given (references) or oldest first.

    Args:
        refs: Run folders, run ids, run names or ``latest``; empty: every run under ``root``.
        root: Gives the folder that holds the runs (called only when it is needed: a
            reference that is not a folder, or no reference at all).
        project, group: Keep only the runs of this project / group.
        where: Keep only the runs whose params satisfy every condition.
        params_of: Reads a run folder's params (only called with ``where``).

    Raises:
        FileNotFoundError: A reference matches no run.
        SelectionError: No run is left (the message says what was asked).
    """
    from tracelet.backends.local import list_runs, read_run
    from tracelet.syncing import find_runs

    if refs:
        if all((Path(ref) / RUN_FILE).is_file() for ref in refs):
            folders = [Path(ref).resolve() for ref in dict.fromkeys(refs)]
        else:
            folders = find_runs(list(refs), root())
        runs = [read_run(folder) for folder in folders]
        if project is not None:
            runs = [r for r in runs if r.project == project]
        if group is not None:
            runs = [r for r in runs if r.group == group]
        where_from = "the runs named"
    else:
        base = root()
        runs = list_runs(base, project=project, group=group)
        where_from = f"the runs under {base}"
    folders = [r.path for r in runs]
    if where:
        folders = [f for f in folders if all(c.matches(params_of(f)) for c in where)]
    if not folders:
        asked = [f"project {project!r}" if project else "", f"group {group!r}" if group else ""]
        asked += [f"where {c.text!r}" for c in where]
        wanted = ", ".join(a for a in asked if a)
        raise SelectionError(f"no run matches: {wanted or 'nothing to select'} among {where_from}")
    return folders
