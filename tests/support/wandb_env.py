"""The environment W&B runs with in tests: offline-safe, quiet, and writing only under a temp
folder (W&B otherwise writes settings, caches and staged artifacts under the home folder)."""

from __future__ import annotations

from pathlib import Path


def wandb_test_env(root: Path) -> dict[str, str]:
    """Env vars that keep W&B quiet and its files under ``root`` (no ``WANDB_MODE``: the tests
    and docs choose the mode, and online without credentials must fail)."""
    home = root / "wandb-home"
    return {
        "WANDB_SILENT": "true",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_CONFIG_DIR": str(home / "config"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_DATA_DIR": str(home / "data"),
        "HOME": str(home),
    }
