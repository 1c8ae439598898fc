"""The sparkline response cache: reuse within its time bound, one computation per key."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from api.cache import ResponseCache
from tests.unit.api.conftest import MakeClient
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import history

URL = "/api/v1/metrics/sparkline/h/network"


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reused_within_ttl_then_recomputed() -> None:
    clock, calls = Clock(), []
    cache = ResponseCache(clock=clock)

    def compute() -> bytes:
        calls.append(1)
        return str(len(calls)).encode()

    assert cache.get("k", 2.0, compute) == b"1"
    clock.now += 1.9
    assert cache.get("k", 2.0, compute) == b"1"
    clock.now += 0.1
    assert cache.get("k", 2.0, compute) == b"2"
    assert cache.get("other", 2.0, compute) == b"3"


def test_ttl_zero_never_caches() -> None:
    cache = ResponseCache(clock=Clock())
    answers = iter([b"a", b"b"])
    assert cache.get("k", 0, lambda: next(answers)) == b"a"
    assert cache.get("k", 0, lambda: next(answers)) == b"b"
    assert len(cache) == 0


def test_bounded_least_recent_out() -> None:
    cache = ResponseCache(max_entries=2, clock=Clock())
    for key in ("a", "b", "a", "c"):
        cache.get(key, 5, lambda: b"x")
    assert len(cache) == 2
    assert cache.get("a", 5, lambda: b"new") == b"x"  # "b" went, "a" (used last) stayed
    assert cache.get("b", 5, lambda: b"new") == b"new"


def test_concurrent_misses_compute_once() -> None:
    cache, calls = ResponseCache(), []
    gate = threading.Event()

    def compute() -> bytes:
        calls.append(1)
        gate.wait(5)
        return b"v"

    threads = [threading.Thread(target=cache.get, args=("k", 5, compute)) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(0.1)
    gate.set()
    for th in threads:
        th.join()
    assert len(calls) == 1


def test_failed_computation_is_not_cached() -> None:
    cache = ResponseCache(clock=Clock())

    def fail() -> bytes:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cache.get("k", 5, fail)
    assert cache.get("k", 5, lambda: b"ok") == b"ok"


def test_sparkline_cached_within_setting(store: FakeStore, make_client: MakeClient) -> None:
    client: TestClient = make_client(response_cache_s=60)
    store.write_batch(history("h", "eth0", rx_rate=1000))
    first = client.get(URL, params={"period": "24h"})
    store.write_batch(history("h", "eth1", rx_rate=5))
    assert client.get(URL, params={"period": "24h"}).content == first.content
    # Another period or interface is another key.
    assert client.get(URL, params={"period": "6h"}).json()["series"][1]["interface"] == "eth1"


def test_sparkline_uncached_at_zero(store: FakeStore, make_client: MakeClient) -> None:
    client: TestClient = make_client(response_cache_s=0)
    store.write_batch(history("h", "eth0", rx_rate=1000))
    client.get(URL, params={"period": "24h"})
    store.write_batch(history("h", "eth1", rx_rate=5))
    assert len(client.get(URL, params={"period": "24h"}).json()["series"]) == 2


def test_metrics_cached_within_setting(store: FakeStore, make_client: MakeClient) -> None:
    client: TestClient = make_client(response_cache_s=60)
    store.write_batch(history("h", "eth0"))
    first = client.get("/metrics").text
    store.write_batch(history("h2", "eth0"))
    assert client.get("/metrics").text == first
    assert 'host="h2"' in make_client(response_cache_s=0).get("/metrics").text


def test_others_get_the_last_answer_while_one_refreshes() -> None:
    clock = Clock()
    cache = ResponseCache(clock=clock)
    cache.get("k", 2.0, lambda: b"old")
    clock.now += 3.0  # expired, but younger than 2 x ttl
    started, gate, got = threading.Event(), threading.Event(), []

    def slow() -> bytes:
        started.set()
        gate.wait(5)
        return b"new"

    refresher = threading.Thread(target=lambda: got.append(cache.get("k", 2.0, slow)))
    refresher.start()
    assert started.wait(5)
    assert cache.get("k", 2.0, lambda: b"unused") == b"old"  # did not wait for the refresh
    clock.now += 1.0  # now 2 x ttl old: the next caller waits for the fresh answer
    waiter = threading.Thread(target=lambda: got.append(cache.get("k", 2.0, lambda: b"x")))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive()
    gate.set()
    refresher.join()
    waiter.join()
    assert got == [b"new", b"new"]
