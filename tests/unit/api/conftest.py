"""Fixtures of the api unit tests: a fake store, a fixed clock, a test client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import NOW

MakeClient = Callable[..., TestClient]


@pytest.fixture
def store() -> FakeStore:
    """An empty in-memory store."""
    return FakeStore()


@pytest.fixture
def make_client(store: FakeStore) -> Iterator[MakeClient]:
    """Build a client over the fake store and a clock stopped at NOW; settings as keywords."""
    clients: list[TestClient] = []

    def make(**settings: object) -> TestClient:
        app = create_app(
            ApiSettings(store="sqlite:///unused.db", **settings),  # type: ignore[arg-type]
            store=store,
            clock=lambda: NOW,
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """A client with default settings (no token, no CORS)."""
    return make_client()
