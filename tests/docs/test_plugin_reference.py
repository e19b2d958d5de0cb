"""docs/plugin-reference.md is what scripts/plugin_reference.py generates from the docstrings:
a docstring changed without regenerating the page fails here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from tracelet.records import ALL_CAPABILITIES
from tracelet.testing import BackendContract, BackendHarness, StoredRun

ROOT = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "plugin_reference", ROOT / "scripts" / "plugin_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_up_to_date() -> None:
    page = (ROOT / "docs" / "plugin-reference.md").read_text(encoding="utf-8")
    assert page == _generator().render(), "run: python scripts/plugin_reference.py"


def test_the_page_covers_what_plugin_authors_use() -> None:
    page = (ROOT / "docs" / "plugin-reference.md").read_text(encoding="utf-8")
    for capability in ALL_CAPABILITIES:
        assert f"`{capability!r}`" in page
    for field in StoredRun.__dataclass_fields__:
        assert f"| `{field}` |" in page, field
    for attribute in ("stores_status", "timestamp_precision", "image_tolerance", "killed_status"):
        assert f"`{attribute}`" in page
    assert BackendHarness.__doc__
    checks = [n for n in dir(BackendContract) if n.startswith("test_")]
    for check in checks:
        assert f"- `{check}`" in page
    for heading in ("RunInfo", "Backend.identity (property)", "RegisterCollector", "WritePlan.add"):
        assert re.search(rf"^#+ {re.escape(heading)}$", page, re.M), heading
    assert "plugin-reference.md" in (ROOT / "docs" / "plugins.md").read_text()
