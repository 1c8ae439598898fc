"""The api over real stores filled with write_batch: TS0179 TC008-TC010, TC017-TC022 and more."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from stores import Store
from tests.factories import sample
from tests.integration.api.conftest import NOW
from tests.unit.api.helpers import HOSTILE, alert, history, hostile_urls, status

pytestmark = pytest.mark.integration

SPARK = "/api/v1/metrics/sparkline/{}/network"
REQUIRED = {"name", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "is_up"}


def _fill_two_days(store: Store) -> None:
    span = timedelta(hours=48)
    store.write_batch([status("h", ts=NOW - timedelta(seconds=30))])
    store.write_batch(history("h", "eth0", end=NOW, span=span, every_s=60, rx_rate=1000))
    store.write_batch(history("h", "wlan0", end=NOW, span=span, every_s=60, rx_rate=10))


def test_tc008_tc010_interfaces_of_a_server(store: Store, client: TestClient) -> None:
    ts = NOW - timedelta(seconds=5)
    stored = [
        sample("srv", "eth0", ts=ts, rx_bytes=1073741824, tx_bytes=536870912,
               rx_packets=1000000, tx_packets=500000),
        sample("srv", "tailscale0", ts=ts, rx_bytes=10737418, tx_bytes=5368709,
               rx_packets=10000, tx_packets=5000, kind="tunnel", mac=None),
        sample("srv", "docker0", ts=ts, rx_bytes=0, tx_bytes=0, rx_packets=0, tx_packets=0,
               is_up=False, oper_state="down", kind="bridge"),
    ]  # fmt: skip
    store.write_batch([status("srv", ts=ts), *stored])
    resp = client.get("/api/v1/servers/srv")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "online"
    interfaces = {i["name"]: i for i in body["network_interfaces"]}
    assert len(body["network_interfaces"]) == 3
    for want in stored:
        got = interfaces[want.iface]
        assert got.keys() >= REQUIRED
        for field in REQUIRED - {"name"}:
            assert got[field] == getattr(want, field), (want.iface, field)
    assert interfaces["docker0"]["is_up"] is False
    assert body["primary_interface"] == "eth0"


def test_tc009_server_without_samples(store: Store, client: TestClient) -> None:
    store.write_batch([status("newbie", ts=NOW)])
    resp = client.get("/api/v1/servers/newbie")
    assert resp.status_code == 200
    assert resp.json()["network_interfaces"] == []
    assert client.get("/api/v1/servers/nobody").status_code == 404


def test_tc019_tc020_tc021_sparkline_of_one_interface(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    resp = client.get(SPARK.format("h"), params={"interface": "eth0", "period": "1h"})
    assert resp.status_code == 200
    body = resp.json()
    points = body["data"]
    assert 30 <= len(points) <= 120
    stamps = [p["timestamp"] for p in points]
    assert stamps == sorted(stamps)
    assert datetime.fromisoformat(stamps[0]) >= NOW - timedelta(
        hours=1, seconds=body["step_seconds"]
    )
    assert {p["rx_bytes_per_sec"] for p in points} == {1000.0}  # eth0 only, no wlan0
    assert sum(p["rx_bytes"] for p in points) == pytest.approx(3600 * 1000, rel=0.02)


def test_tc022_unknown_interface_gives_empty_data(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    resp = client.get(SPARK.format("h"), params={"interface": "wlan9"})
    assert resp.status_code == 200
    assert resp.json()["data"] == []


def test_tc017_tc018_each_interface_its_own_series(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    body = client.get(SPARK.format("h"), params={"period": "24h"}).json()
    series = {s["interface"]: s["data"] for s in body["series"]}
    assert set(series) == {"eth0", "wlan0"}
    assert len(series["eth0"]) >= 60
    assert {round(p["rx_bytes_per_sec"]) for p in series["eth0"]} == {1000}
    assert {round(p["rx_bytes_per_sec"]) for p in series["wlan0"]} == {10}
    assert len(body["data"]) >= 60
    total = sum(p["rx_bytes"] for p in body["data"])
    assert total == sum(p["rx_bytes"] for points in series.values() for p in points)


def test_summary_over_real_store(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    body = client.get("/api/v1/traffic/summary", params={"period": "24h"}).json()
    (host,) = body["servers"]
    eth0 = next(i for i in host["interfaces"] if i["interface"] == "eth0")
    assert eth0["rx_bytes"] == pytest.approx(24 * 3600 * 1000, rel=0.01)
    assert eth0["rx_p95_bytes_per_sec"] == pytest.approx(1000)


def test_export_streams_csv_from_real_store(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    params = {"server_id": "h", "start": (NOW - timedelta(hours=48)).isoformat()}
    with client.stream("GET", "/api/v1/export/traffic", params=params) as resp:
        assert resp.status_code == 200
        text = b"".join(resp.iter_raw()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 * 48 * 60
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    json_rows = client.get("/api/v1/export/traffic", params={**params, "format": "json"}).json()
    assert len(json_rows) == len(rows)


def test_metrics_and_alerts_over_real_store(store: Store, client: TestClient) -> None:
    ts = NOW - timedelta(seconds=5)
    store.write_batch(
        [
            status("a", ts=ts),
            sample("a", "eth0", ts=ts, rx_errors=3),
            sample("a", "wg+1", ts=ts, kind="tunnel"),
            sample("b", "enp3s0", ts=ts, is_up=False),
            alert("a", "eth0", since=ts),
            alert("b", "enp3s0", active=False, since=ts),
        ]
    )
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    got = {
        (s.labels["host"], s.labels["interface"])
        for s in families["ifpulse_interface_receive_errors"].samples
        if s.name.endswith("_total")
    }
    assert got == {("a", "eth0"), ("a", "wg+1"), ("b", "enp3s0")}
    alerts = client.get("/api/v1/alerts").json()
    assert [(a["server_id"], a["interface"]) for a in alerts] == [("a", "eth0")]


def test_ready_with_real_store(client: TestClient) -> None:
    assert client.get("/readyz").json()["status"] == "ok"


def test_hostile_names_never_reach_a_5xx(store: Store, client: TestClient) -> None:
    _fill_two_days(store)
    for value in HOSTILE:
        for url in hostile_urls(value):
            resp = client.get(url)
            assert resp.status_code < 500, (url[:120], resp.status_code, resp.text[:200])
    # and the store still answers normally afterwards
    assert client.get("/api/v1/servers/h").json()["interface_count"] == 2
