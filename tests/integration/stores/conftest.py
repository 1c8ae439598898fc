"""The `store` fixture: every contract test runs against a real SQLite file and a real influxd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stores import Store, open_store
from tests.services.influxd import Influxd


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Store]:
    """A fresh, empty store of each kind, closed after the test."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'store' / 'ifpulse.db'}")
    else:
        influxd: Influxd = request.getfixturevalue("influxd")
        opened = open_store(influxd.store_url(unique))
    try:
        yield opened
    finally:
        opened.close()
