"""Fixtures of ingestor integration tests: a real store URL per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores import open_store


def _created(url: str) -> str:
    """Open and close the store once (creates the file or database, as the ingestor would)."""
    open_store(url).close()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store file for this test."""
    return _created(f"sqlite:///{tmp_path}/x.db")


@pytest.fixture
def store_url(store_url: str) -> str:
    """The shared fresh store of each kind (tests/conftest.py), created as the ingestor would."""
    return _created(store_url)
