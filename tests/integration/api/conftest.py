"""Fixtures of the api integration tests: a real store of each kind, an app over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from stores import Store

# Times relative to the real clock: real stores apply retention against it.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The app over the real store, its clock stopped at NOW."""
    app = create_app(ApiSettings(store="sqlite:///unused.db"), store=store, clock=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client
