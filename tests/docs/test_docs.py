"""Docs are code: every Python block of README.md and docs/**/*.md runs, in order, per file.

Each file's blocks run in one fresh interpreter (so a later block can use what an earlier one
defined), in a temporary working directory with no Tracelet or backend env vars. Tracebacks
name the Markdown file and line. A block that needs a network service is preceded by
``<!-- docs-test: requires <service> -->``; the fixture for that service points it at a local
server: ``mlflow-server`` and ``aim-server`` blocks run with the server's address replaced by
the one of the real server the test session starts.

A page that tells the reader a ``pip install`` line runs in exactly that install: its lines run
verbatim in a fresh venv, next to a ``dist`` folder of the wheels ``scripts/wheels`` built, and
the page's blocks run in that venv. Other pages run in this test interpreter.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pydantic import BaseModel
from support.processes import checked, run
from support.venvs import CONSTRAINTS, Venv
from support.wandb_env import wandb_test_env

from tracelet.backends.local import LocalSettings
from tracelet.settings import CoreSettings
from tracelet.testing import BackendContract
from tracelet_aim.settings import AimSettings
from tracelet_clearml.settings import ClearmlSettings
from tracelet_collectors import settings as collector_settings
from tracelet_mlflow.settings import MlflowSettings
from tracelet_wandb.settings import WandbSettings

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
_REQUIRES = re.compile(r"<!--\s*docs-test:\s*requires\s+([\w-]+)\s*-->\s*$")
_BASH = re.compile(r"^```bash[^\n]*\n(.*?)^```", re.S | re.M)

_RUNNER = """
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for block in blocks:
    code = "\\n" * (block["line"] - 1) + block["code"]
    exec(compile(code, block["file"], "exec"), namespace)
"""


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    code: str
    requires: str | None


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, with the line their code starts on."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start(1)) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        requires = _REQUIRES.search(before)
        blocks.append(
            Block(str(path), line, match.group(1), requires.group(1) if requires else None)
        )
    return blocks


def install_lines(path: Path) -> tuple[str, ...]:
    """The ``pip install`` lines of a Markdown file's ```bash blocks, in order, comments
    stripped."""
    text = path.read_text(encoding="utf-8")
    lines = []
    for match in _BASH.finditer(text):
        for line in match.group(1).splitlines():
            command = re.sub(r"(^|\s)#.*", "", line).strip()
            if command.startswith("pip install "):
                lines.append(command)
    return tuple(lines)


FILES_WITH_CODE = [p for p in DOC_FILES if python_blocks(p)]


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the seven wheels, built by ``scripts/wheels`` (which this tests too)."""
    dest = tmp_path_factory.mktemp("wheels") / "dist"
    checked(run([ROOT / "scripts" / "wheels", dest], ROOT, timeout=300))
    plugins = ("core", "collectors", "mlflow", "wandb", "clearml", "aim")
    names = {w.name.split("-")[0] for w in dest.glob("*.whl")}
    assert names == {"tracelet", *(f"tracelet_{name}" for name in plugins)}
    return dest


@pytest.fixture(scope="session")
def installed_as_documented(
    tmp_path_factory: pytest.TempPathFactory, wheels: Path
) -> Callable[[tuple[str, ...]], Venv]:
    """A function giving, for a page's install lines, a fresh venv in which those lines ran;
    one venv per distinct tuple of lines in the session.

    The lines run verbatim with bash, the venv's ``bin`` first on ``PATH``, in a folder whose
    ``dist`` is :func:`wheels`, with ``PIP_CONSTRAINT`` pinning versions as CI does. pip does
    not compile the installed modules (half of an install's time; imports compile what they
    use).
    """
    made: dict[tuple[str, ...], Venv] = {}

    def venv_for(lines: tuple[str, ...]) -> Venv:
        if lines not in made:
            folder = tmp_path_factory.mktemp("installed")
            venv = Venv(folder / "venv")
            checked(run([sys.executable, "-m", "venv", venv.root]))  # with pip: the lines call it
            (folder / "dist").symlink_to(wheels)
            env = {
                "PATH": f"{venv.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
                "PIP_CONSTRAINT": str(CONSTRAINTS),
                "PIP_NO_COMPILE": "0",  # pip reads its "no-" variables inverted: 0 is --no-compile
            }
            script = "\n".join(["set -euo pipefail", *lines])
            checked(run(["bash", "-c", script], folder, env=env, timeout=900))
            made[lines] = venv
        return made[lines]

    return venv_for


#: The host:port a docs block uses for each service, and the fixture giving the local one's.
_SERVICES = {
    "mlflow-server": ("localhost:5000", "mlflow_server"),
    "aim-server": ("aim-server:53800", "aim_server"),
}


@pytest.mark.parametrize(
    "doc",
    [pytest.param(p, marks=pytest.mark.slow) if install_lines(p) else p for p in FILES_WITH_CODE],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_python_blocks_run(doc: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The page's blocks run: in the install the page tells, if it tells one."""
    python: str | Path = sys.executable
    if lines := install_lines(doc):
        python = request.getfixturevalue("installed_as_documented")(lines).python
    blocks = python_blocks(doc)
    unknown = sorted({b.requires for b in blocks if b.requires and b.requires not in _SERVICES})
    assert not unknown, f"{doc}: blocks need services with no local fixture: {unknown}"
    for i, block in enumerate(blocks):
        if block.requires:
            documented, fixture = _SERVICES[block.requires]
            local = request.getfixturevalue(fixture).uri.partition("://")[2]
            assert documented in block.code, f"{doc}:{block.line}: no {documented} to point"
            code = block.code.replace(documented, local)
            blocks[i] = replace(block, code=code)
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([b.__dict__ for b in blocks]))
    env = {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "CLEARML_CACHE_DIR": str(tmp_path / "clearml-cache"),
        **wandb_test_env(tmp_path),  # HOME too
    }
    # The collectors keep their defaults, as for a user.
    result = run(
        [python, "-c", _RUNNER, spec], tmp_path, env=env, timeout=300, collectors_off=False
    )
    assert result.returncode == 0, f"{doc}:\n{result.stdout}\n{result.stderr}"


def test_docs_have_python_blocks() -> None:
    """The pages that promise runnable examples have them (guards the block extractor too)."""
    names = {p.name for p in FILES_WITH_CODE}
    assert {"README.md", "getting-started.md", "configuration.md", "plugins.md"} <= names
    assert {"mlflow.md", "wandb.md", "clearml.md", "aim.md"} <= names


def test_install_lines_are_found() -> None:
    """The pages that tell an install line are the ones whose blocks run in it (guards the
    line extractor: a page it misses would silently run in the test interpreter)."""
    pages = {str(p.relative_to(ROOT)) for p in DOC_FILES if install_lines(p)}
    backends = {f"docs/backends/{name}.md" for name in ("mlflow", "wandb", "clearml", "aim")}
    expected = {"README.md", "docs/getting-started.md", "docs/plugin-example-tensorboard.md"}
    assert pages == expected | backends
    assert install_lines(ROOT / "docs" / "backends" / "aim.md") == (
        'pip install --find-links dist "tracelet[aim]==0.1.0"',
    )


def test_every_setting_is_documented() -> None:
    """Each core key and each local-backend key appears in the configuration page's tables."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in CoreSettings.model_fields:
        assert f"| `{key}` |" in page, f"core key {key!r} missing from docs/configuration.md"
    for model in collector_settings.__dict__.values():
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel:
            for key in model.model_fields:
                assert f"| `{key}` |" in page, f"collector key {key!r} missing from the docs"
    for key in LocalSettings.model_fields:
        assert f"| `local.{key}` |" in page, f"local key {key!r} missing from the docs"


@pytest.mark.parametrize(
    ("backend", "model"),
    [
        ("mlflow", MlflowSettings),
        ("wandb", WandbSettings),
        ("clearml", ClearmlSettings),
        ("aim", AimSettings),
    ],
)
def test_every_backend_setting_is_documented(backend: str, model: type[BaseModel]) -> None:
    """Each key of a backend's section has a row in docs/backends/<backend>.md's table."""
    page = (ROOT / "docs" / "backends" / f"{backend}.md").read_text(encoding="utf-8")
    for key in model.model_fields:
        assert f"| `{key}` |" in page, f"{backend} key {key!r} missing from its page"


def _contract_size() -> int:
    """How many tests one BackendContract subclass runs (parametrized cases included)."""
    count = 0
    for name in dir(BackendContract):
        if name.startswith("test_"):
            marks = getattr(getattr(BackendContract, name), "pytestmark", [])
            params = [m for m in marks if m.name == "parametrize"]
            count += len(params[0].args[1]) if params else 1
    return count


@pytest.mark.parametrize("page", ["plugins.md", "plugin-example-tensorboard.md"])
def test_plugin_guide_backend_passes_the_contract(tmp_path: Path, page: str) -> None:
    """A plugin page's blocks, saved as one test module, pass the contract suite they show."""
    blocks = python_blocks(ROOT / "docs" / page)
    module = tmp_path / "test_plugin_guide.py"
    module.write_text("\n\n".join(b.code for b in blocks), encoding="utf-8")
    pytest_cmd: list[str | Path] = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = run([*pytest_cmd, module], tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{_contract_size()} passed" in result.stdout, result.stdout
    assert "skipped" not in result.stdout
