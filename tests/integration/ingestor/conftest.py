"""Fixtures of ingestor integration tests: a real store URL per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store file for this test."""
    return f"sqlite:///{tmp_path}/x.db"
