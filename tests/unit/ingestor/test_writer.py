from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ingestor.writer import Backoff, GaveUp, Writer
from schemas import Message
from tests.factories import sample
from tests.unit.ingestor.fake_store import FakeStore


def _writer(store: FakeStore, waits: list[float], give_up: bool = False) -> Writer:
    return Writer(
        store,  # type: ignore[arg-type]
        wait=waits.append,
        give_up=lambda: give_up,
        backoff=Backoff(first=0.1, cap=0.4),
        monotonic=lambda: 0.0,
    )


def test_retries_with_capped_backoff_until_the_store_is_back() -> None:
    store = FakeStore()
    store.fail_times = 5
    waits: list[float] = []
    result = _writer(store, waits).write([sample()])
    assert waits == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert result.refused == {} and len(store.points) == 1


def test_gives_up_only_when_told() -> None:
    store = FakeStore()
    store.unavailable = True
    with pytest.raises(GaveUp):
        _writer(store, [], give_up=True).write([sample()])


def test_refused_batch_is_split_and_only_bad_ones_reported() -> None:
    store = FakeStore()
    store.reject = {("h1", "bad0")}
    batch: list[Message] = [sample(iface="eth0"), sample(iface="bad0"), sample(iface="eth1")]
    result = _writer(store, []).write(batch)
    assert set(result.refused) == {1}
    assert {k[1] for k in store.points} == {"eth0", "eth1"}


def test_unexpected_errors_are_retried_not_fatal() -> None:
    class Flaky(FakeStore):
        calls = 0

        def write_batch(self, messages: object) -> None:  # type: ignore[override]
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("boom")
            super().write_batch(messages)  # type: ignore[arg-type]

    store = Flaky()
    waits: list[float] = []
    _writer(store, waits).write([sample()])
    assert len(waits) == 1 and len(store.points) == 1


def test_empty_batch_writes_nothing() -> None:
    store = FakeStore()
    assert _writer(store, []).write([]).refused == {}
    assert store.writes == []


def test_each_attempt_is_wrapped_and_backoff_waits_are_not() -> None:
    store = FakeStore()
    store.fail_times = 2
    events: list[str] = []

    @contextmanager
    def attempt() -> Iterator[None]:
        events.append("enter")
        try:
            yield
        finally:
            events.append("exit")

    writer = Writer(
        store,  # type: ignore[arg-type]
        wait=lambda secs: events.append(f"wait {secs}"),
        backoff=Backoff(first=0.1, cap=0.4),
        monotonic=lambda: 0.0,
        attempt=attempt,
    )
    writer.write([sample()])
    assert events == ["enter", "exit", "wait 0.1", "enter", "exit", "wait 0.2", "enter", "exit"]
