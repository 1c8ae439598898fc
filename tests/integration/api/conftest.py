"""Fixtures of the api integration tests: a real store of each kind, an app over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from stores import Store, open_store
from tests.services.influxd import Influxd

# Times relative to the real clock: real stores apply retention against it.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(params=["sqlite", "influx"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> str:
    """The URL of a fresh, empty store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'ifpulse.db'}"
    influxd: Influxd = request.getfixturevalue("influxd")
    return influxd.store_url(unique)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store itself, closed after the test."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The app over the real store, its clock stopped at NOW."""
    app = create_app(ApiSettings(store="sqlite:///unused.db"), store=store, clock=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client
