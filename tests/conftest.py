from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "quickstart"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of the shipped quickstart example; returns its config path."""
    dest = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".okr-sync", "okr-status.json"))
    return dest / "okr-sync.yaml"
