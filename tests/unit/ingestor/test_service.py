from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ingestor.service import Ingestor
from ingestor.settings import Settings
from schemas import HostStatus, Reason, TopicScheme, decode_rejection, encode
from tests.factories import sample
from tests.unit.ingestor.fake_mqtt import FakeClient
from tests.unit.ingestor.fake_store import FakeStore

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PREFIX = "p"


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "store": "sqlite:///unused.db",
        "topic_prefix": PREFIX,
        "client_id": "ing-test",
        "batch_size": 10,
        "flush_interval": 0.05,
        "retry_max_backoff": 0.05,
        "drain_timeout": 0.3,
        "maintain_interval": 0.05,
    }
    values.update(overrides)
    return Settings.model_validate(values)


class Running:
    """An Ingestor with fakes, run in a thread."""

    def __init__(self, store: FakeStore, **overrides: object) -> None:
        self.store = store
        self.clients: list[FakeClient] = []

        def factory(client_id: str) -> FakeClient:
            self.clients.append(FakeClient(client_id))
            return self.clients[-1]

        self.ingestor = Ingestor(
            _settings(**overrides),
            store,  # type: ignore[arg-type]
            client_factory=factory,  # type: ignore[arg-type]
            clock=lambda: T0,
        )
        self.rc: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_for(lambda: bool(self.clients) and self.ingestor.consumer.connected.is_set())

    def _run(self) -> None:
        self.rc = self.ingestor.run()

    @property
    def client(self) -> FakeClient:
        return self.clients[0]

    def stop(self) -> int | None:
        self.ingestor.stop()
        self.thread.join(5)
        assert not self.thread.is_alive(), "ingestor did not stop"
        return self.rc


def wait_for(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def running(store: FakeStore) -> Iterator[Running]:
    r = Running(store)
    yield r
    if r.thread.is_alive():
        r.stop()


def _deliver_samples(client: FakeClient, n: int, host: str = "h1") -> list[int]:
    scheme = TopicScheme(PREFIX)
    return [
        client.deliver(scheme.sample(host, "eth0"), sample(host, ts=T0 - timedelta(seconds=i)))
        for i in range(n)
    ]


def test_stores_then_acks_every_message(running: Running, store: FakeStore) -> None:
    mids = _deliver_samples(running.client, 25)
    wait_for(lambda: len(running.client.acks) == 25, what="25 acks")
    assert len(store.points) == 25 and sorted(running.client.acks) == mids
    assert max(store.writes) <= 10
    assert running.ingestor.metrics.stored._value.get() == 25
    assert running.stop() == 0


def test_redelivery_overwrites_instead_of_adding(running: Running, store: FakeStore) -> None:
    _deliver_samples(running.client, 5)
    _deliver_samples(running.client, 5)
    wait_for(lambda: len(running.client.acks) == 10, what="10 acks")
    assert len(store.points) == 5


def test_no_acks_while_the_store_is_down_nothing_lost_after(
    running: Running, store: FakeStore
) -> None:
    store.unavailable = True
    _deliver_samples(running.client, 30)
    time.sleep(0.3)
    assert running.client.acks == [] and store.points == {}
    assert running.ingestor.metrics.store_unavailable._value.get() >= 1
    store.unavailable = False
    wait_for(lambda: len(running.client.acks) == 30, what="30 acks after recovery")
    assert len(store.points) == 30


def test_bad_messages_are_dead_lettered_before_their_ack(running: Running) -> None:
    scheme = TopicScheme(PREFIX)
    client = running.client
    good = client.deliver(scheme.sample("h1", "eth0"), sample())
    bad = client.deliver(scheme.sample("h1", "eth0"), b"{oops")
    wait_for(lambda: len(client.acks) == 2, what="2 acks")
    assert client.events.index(("publish", scheme.rejected())) < client.events.index(("ack", bad))
    assert client.acks == [good, bad]
    rejection = decode_rejection(client.published[0][1])
    assert rejection.reason == Reason.BAD_JSON and rejection.ingestor == "ing-test"
    assert running.ingestor.metrics.rejected.labels(reason="bad_json")._value.get() == 1


def test_store_refusal_dead_letters_only_the_refused(running: Running, store: FakeStore) -> None:
    scheme = TopicScheme(PREFIX)
    store.reject = {("h1", "bad0")}
    running.client.deliver(scheme.sample("h1", "eth0"), sample(iface="eth0"))
    running.client.deliver(scheme.sample("h1", "bad0"), sample(iface="bad0"))
    wait_for(lambda: len(running.client.acks) == 2, what="2 acks")
    assert [k[1] for k in store.points] == ["eth0"]
    assert decode_rejection(running.client.published[0][1]).reason == Reason.SCHEMA


def test_statuses_are_written_too(running: Running, store: FakeStore) -> None:
    scheme = TopicScheme(PREFIX)
    status = HostStatus.model_validate(
        {"host": "h1", "state": "online", "ts": T0, "version": "0.1.0", "interval_s": 10.0,
         "spool_depth": 0, "spool_dropped": 0, "boot_id": None},
        strict=False,
    )  # fmt: skip
    running.client.deliver(scheme.status("h1"), encode(status))
    wait_for(lambda: "h1" in store.statuses, what="status stored")


def test_maintenance_runs_between_batches(running: Running, store: FakeStore) -> None:
    wait_for(lambda: len(store.maintained) >= 2, what="maintain() calls")


def test_stop_drains_writes_and_acks(store: FakeStore) -> None:
    r = Running(store, flush_interval=30.0, batch_size=1000)
    _deliver_samples(r.client, 7)
    time.sleep(0.1)
    assert r.client.acks == []
    assert r.stop() == 0
    assert len(store.points) == 7 and len(r.client.acks) == 7
    assert r.client.events[-1] == ("disconnect", None)


def test_stop_with_store_down_leaves_messages_unacked(store: FakeStore) -> None:
    r = Running(store, flush_interval=30.0, batch_size=1000)
    store.unavailable = True
    _deliver_samples(r.client, 3)
    assert r.stop() == 1
    assert r.client.acks == [] and store.points == {}


def test_unconfirmed_dead_letter_leaves_the_message_unacked(running: Running) -> None:
    scheme = TopicScheme(PREFIX)
    running.client.confirm = False
    running.client.deliver(scheme.sample("h1", "eth0"), b"{oops")
    good = running.client.deliver(scheme.sample("h1", "eth0"), sample())
    wait_for(lambda: len(running.client.acks) == 1, what="the good message's ack")
    assert running.client.acks == [good]


def test_stop_while_retrying_backs_off_then_gives_up_unacked(store: FakeStore) -> None:
    r = Running(store, retry_max_backoff=0.1, drain_timeout=0.5)
    store.unavailable = True
    _deliver_samples(r.client, 3)
    wait_for(lambda: store.attempts >= 2, what="failed writes")
    assert r.stop() == 1
    assert r.client.acks == [] and store.points == {}
    assert store.attempts < 20, f"{store.attempts} attempts: no backoff while draining"
