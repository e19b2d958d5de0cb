"""Fresh virtual environments with wheels built from this repository, driven like a user would.

The environment is created without pip (``python -m venv --without-pip``) and this process's pip
installs into it (``pip --python``): creating a copy of pip for every test run costs seconds and
the environment is just as fresh. Dependencies come from the package index, pinned by
``requirements/constraints.txt``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.processes import checked, run

__all__ = ["CONSTRAINTS", "REPO", "Venv", "build_wheels", "checked", "create_venv", "run"]

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"


@dataclass(frozen=True)
class Venv:
    """A fresh environment: its interpreter and its ``tracelet`` console script."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def tracelet(self) -> Path:
        return self.root / "bin" / "tracelet"

    @property
    def has_collectors(self) -> bool:
        """Whether ``tracelet-collectors`` is installed here (its keys exist)."""
        return any(self.root.glob("lib/python*/site-packages/tracelet_collectors"))

    def run(
        self, args: list[str | Path], cwd: Path, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """:func:`support.processes.run` in this environment: the tests' env vars that turn
        collectors off are set only where collectors are installed (elsewhere their keys do
        not exist and would be errors)."""
        kwargs.setdefault("collectors_off", self.has_collectors)
        return run(args, cwd, **kwargs)


def build_wheels(sources: list[Path], dest: Path) -> list[Path]:
    """Wheels of the given project folders (no dependencies, hatchling from this venv)."""
    pip: list[str | Path] = [sys.executable, "-m", "pip"]
    flags = ("--quiet", "--no-deps", "--no-build-isolation")
    checked(run([*pip, "wheel", *flags, "-w", dest, *sources], timeout=180))
    return sorted(dest.glob("*.whl"))


def create_venv(root: Path, *requirements: str | Path, find_links: Path | None = None) -> Venv:
    """A new environment at ``root`` with ``requirements`` (wheel paths or names) installed."""
    env = Venv(root)
    checked(run([sys.executable, "-m", "venv", "--without-pip", root]))
    install: list[str | Path] = [sys.executable, "-m", "pip", "--python", env.python, "install"]
    install += ["--quiet", "-c", CONSTRAINTS]
    if find_links is not None:
        install += ["--find-links", find_links]
    checked(run([*install, *requirements], timeout=300))
    return env
