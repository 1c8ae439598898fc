"""/api/v1/servers: list, detail with network_interfaces (TC008-TC010), one interface."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.deps import read
from tests.factories import sample
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import NOW, status

REQUIRED = {"name", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "is_up"}


def test_tc008_server_has_network_interfaces(store: FakeStore, client: TestClient) -> None:
    store.write_batch([status("web1"), sample("web1", "eth0", ts=NOW - timedelta(seconds=5))])
    resp = client.get("/api/v1/servers/web1")
    assert resp.status_code == 200
    body = resp.json()
    assert isinstance(body["network_interfaces"], list)
    (eth0,) = body["network_interfaces"]
    assert eth0.keys() >= REQUIRED
    assert {"rx_errors", "tx_dropped", "multicast", "collisions", "speed_mbps"} <= eth0.keys()
    assert {"kind", "mac", "last_seen", "rx_bytes_per_sec", "oper_state"} <= eth0.keys()
    assert body["id"] == body["hostname"] == "web1"


def test_tc009_new_server_has_empty_interfaces(store: FakeStore, client: TestClient) -> None:
    store.write_batch([status("fresh")])
    resp = client.get("/api/v1/servers/fresh")
    assert resp.status_code == 200
    assert resp.json()["network_interfaces"] == []
    assert resp.json()["interface_count"] == 0
    assert resp.json()["primary_interface"] is None


def test_tc010_three_interfaces_match_stored(store: FakeStore, client: TestClient) -> None:
    ts = NOW - timedelta(seconds=5)
    stored = {
        "eth0": sample("h", "eth0", ts=ts, rx_bytes=1073741824, tx_bytes=536870912,
                       rx_packets=1000000, tx_packets=500000),
        "tailscale0": sample("h", "tailscale0", ts=ts, rx_bytes=10737418, tx_bytes=5368709,
                             rx_packets=10000, tx_packets=5000, kind="tunnel", mac=None),
        "docker0": sample("h", "docker0", ts=ts, rx_bytes=0, tx_bytes=0, rx_packets=0,
                          tx_packets=0, is_up=False, oper_state="down", kind="bridge"),
    }  # fmt: skip
    store.write_batch(list(stored.values()))
    resp = client.get("/api/v1/servers/h")
    assert resp.status_code == 200
    interfaces = resp.json()["network_interfaces"]
    assert len(interfaces) == 3
    assert [i["name"] for i in interfaces] == sorted(stored)
    for item in interfaces:
        want = stored[item["name"]]
        for field in REQUIRED - {"name"}:
            assert item[field] == getattr(want, field), (item["name"], field)
    assert resp.json()["primary_interface"] == "eth0"  # docker0 is down, eth0 moved most


def test_list_reports_status_and_counts(store: FakeStore, client: TestClient) -> None:
    store.write_batch(
        [
            status("a-online"),
            sample("a-online", "eth0", ts=NOW - timedelta(seconds=20)),
            sample("a-online", "wlan0", ts=NOW - timedelta(seconds=20), rx_bytes=10**9),
            status("b-offline", state="offline", ts=None),
            sample("b-offline", "eth0", ts=NOW - timedelta(seconds=5)),
            status("c-stale"),
            sample("c-stale", "eth0", ts=NOW - timedelta(seconds=31)),  # > 3 x 10 s
            sample("d-nostatus", "eth0", ts=NOW - timedelta(seconds=5)),
        ]
    )
    body = client.get("/api/v1/servers").json()
    assert [s["id"] for s in body] == ["a-online", "b-offline", "c-stale", "d-nostatus"]
    assert [s["status"] for s in body] == ["online", "offline", "stale", "online"]
    assert body[0]["interface_count"] == 2
    assert body[0]["primary_interface"] == "wlan0"
    assert body[0]["last_seen"] == "2026-11-22T11:59:40.000Z"
    assert body[0]["interval_s"] == 10.0


def test_list_empty(client: TestClient) -> None:
    assert client.get("/api/v1/servers").json() == []


@pytest.mark.parametrize(
    "server_id", ["nope", "x" * 65, "a'b", "%2e%2e", "é", "a;DROP TABLE samples", "x" * 10000]
)
def test_unknown_server_is_404_with_detail(client: TestClient, server_id: str) -> None:
    resp = client.get(f"/api/v1/servers/{server_id}")
    assert resp.status_code == 404
    assert "unknown server" in resp.json()["detail"]
    assert len(resp.json()["detail"]) < 200


def test_one_interface(store: FakeStore, client: TestClient) -> None:
    store.write_batch([sample("h", "eth0", ts=NOW), sample("h", "wg+1", ts=NOW, kind="tunnel")])
    resp = client.get("/api/v1/servers/h/interfaces/wg+1")
    assert resp.status_code == 200
    assert resp.json()["name"] == "wg+1"
    assert resp.json()["kind"] == "tunnel"


def test_unknown_interface_says_which_part(store: FakeStore, client: TestClient) -> None:
    store.write_batch([sample("h", "eth0", ts=NOW)])
    resp = client.get("/api/v1/servers/h/interfaces/wlan9")
    assert resp.status_code == 404
    assert "no interface 'wlan9'" in resp.json()["detail"]
    resp = client.get("/api/v1/servers/ghost/interfaces/eth0")
    assert resp.status_code == 404
    assert "unknown server 'ghost'" in resp.json()["detail"]


def test_inline_and_threaded_reads_answer_alike(
    store: FakeStore, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store answering in-process (SQLite) is read on the event loop, one waiting on a
    # server (InfluxDB) in the thread pool: the answers, errors included, must not differ.
    store.write_batch([status("web1"), sample("web1", "eth0", ts=NOW - timedelta(seconds=5))])
    paths = ["/api/v1/servers", "/api/v1/servers/web1", "/api/v1/servers/web1/interfaces/eth0",
             "/api/v1/servers/nope", "/api/v1/servers/web1/interfaces/nope"]  # fmt: skip
    threaded = [(r.status_code, r.json()) for r in map(client.get, paths)]
    monkeypatch.setattr(store, "cpu_bound", True)
    assert [(r.status_code, r.json()) for r in map(client.get, paths)] == threaded


@pytest.mark.parametrize("inline", [False, True])
def test_read_runs_inline_only_for_cpu_bound_stores(inline: bool) -> None:
    store = FakeStore()
    store.cpu_bound = inline
    caller = threading.get_ident()
    ran_in = asyncio.run(read(store, threading.get_ident))
    assert (ran_in == caller) is inline
