"""Shared fixtures: real mosquitto and influxd processes, unique names per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from stores import Store, open_store
from tests.services.docker import DockerMosquitto, docker_can_pull, docker_wanted
from tests.services.influxd import Influxd
from tests.services.mosquitto import Mosquitto
from tests.services.proc import ServiceMissing

# Deadlines turn a busy CI machine's slowness into failures; correctness is what we test.
settings.register_profile("ifpulse", deadline=None)
settings.load_profile("ifpulse")


def _need(factory: Callable[[], object]) -> object:
    try:
        return factory()
    except ServiceMissing as exc:
        # A missing service is a failure, never a silent skip: CI must install it.
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto | DockerMosquitto]:
    """One broker for the whole session (tests isolate themselves by topic prefix)."""
    broker: Mosquitto | DockerMosquitto
    if docker_wanted() and docker_can_pull("eclipse-mosquitto:2") is None:
        broker = DockerMosquitto()
    else:
        broker = _need(lambda: Mosquitto(tmp_path_factory.mktemp("mosquitto")))  # type: ignore[assignment]
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Private brokers a test may stop, kill and restart without disturbing others."""
    started: list[Mosquitto] = []

    def make(**kwargs: object) -> Mosquitto:
        broker = _need(lambda: Mosquitto(tmp_path / f"mosquitto{len(started)}", **kwargs))  # type: ignore[arg-type]
        assert isinstance(broker, Mosquitto)
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """One influxd 1.x for the session (tests isolate themselves by database name)."""
    server = _need(lambda: Influxd(tmp_path_factory.mktemp("influxd")))
    assert isinstance(server, Influxd)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxd_factory(tmp_path: Path) -> Iterator[Callable[[], Influxd]]:
    """Private influxd processes a test may stop and restart."""
    started: list[Influxd] = []

    def make() -> Influxd:
        server = _need(lambda: Influxd(tmp_path / f"influxd{len(started)}"))
        assert isinstance(server, Influxd)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(params=["sqlite", "influx"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> str:
    """A fresh, empty store of each kind: a SQLite file, or a database on the session influxd."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'ifpulse.db'}"
    server: Influxd = request.getfixturevalue("influxd")
    return server.store_url(unique)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store behind `store_url`, opened, and closed after the test."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def unique() -> str:
    """A short unique token for topic prefixes, database names and host ids."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def topic_prefix(unique: str) -> str:
    """A topic prefix no other test uses."""
    return f"ifpt-{unique}"
