"""Traffic summary, streamed export (CSV/JSON) and active alerts."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.routes.export import CSV_COLUMNS
from api.routes.traffic import percentile
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import NOW, alert, history


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


def test_summary_totals_peak_and_p95(store: FakeStore, client: TestClient) -> None:
    store.write_batch(history("h", "eth0", span=timedelta(hours=24), rx_rate=100, tx_rate=50))
    store.write_batch(
        history("h", "eth0", end=NOW - timedelta(hours=2), span=timedelta(minutes=10),
                rx_rate=9000, tx_rate=50, rx_errors=0)
    )  # fmt: skip
    store.write_batch(history("h2", "wlan0", span=timedelta(hours=1), rx_rate=10, tx_rate=10))
    resp = client.get("/api/v1/traffic/summary", params={"period": "24h"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["period"] == "24h"
    assert body["step_seconds"] == 300
    (h, h2) = body["servers"]
    assert h["server_id"] == "h"
    (eth0,) = h["interfaces"]
    assert eth0["interface"] == "eth0"
    assert eth0["rx_peak_bytes_per_sec"] == 9000
    assert eth0["rx_p95_bytes_per_sec"] == 100  # a 10-minute burst is under 5 % of a day
    assert eth0["tx_bytes"] == 24 * 3600 * 50
    assert h["total"]["interface"] is None
    assert h2["total"]["rx_bytes"] == 3600 * 10


def test_summary_bad_period_is_422(client: TestClient) -> None:
    resp = client.get("/api/v1/traffic/summary", params={"period": "1y"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"][-1] == "period"


def test_export_csv_has_header_and_rows(store: FakeStore, client: TestClient) -> None:
    store.write_batch(history("h", "eth0") + history("h", "wlan0") + history("other", "eth0"))
    resp = client.get("/api/v1/export/traffic", params={"server_id": "h", "interface": "eth0"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 60
    assert {(r["host"], r["iface"]) for r in rows} == {("h", "eth0")}
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    assert rows[1]["delta_rx_bytes"] == "60000"
    assert rows[0]["is_up"] == "true"


def test_export_json_all_hosts(store: FakeStore, client: TestClient) -> None:
    store.write_batch(history("h", "eth0") + history("other", "eth0"))
    resp = client.get("/api/v1/export/traffic", params={"format": "json"})
    assert resp.status_code == 200
    items = json.loads(resp.text)
    assert len(items) == 120
    assert {i["host"] for i in items} == {"h", "other"}
    assert items[0]["delta"]["rx_bytes"] == 60000


def test_export_streams_large_ranges_in_chunks(store: FakeStore, client: TestClient) -> None:
    store.write_batch(history("h", "eth0", span=timedelta(days=2), every_s=30))
    start = (NOW - timedelta(days=3)).isoformat()
    with client.stream("GET", "/api/v1/export/traffic", params={"start": start}) as resp:
        assert resp.status_code == 200
        chunks = list(resp.iter_raw())
    assert sum(c.count(b"\n") for c in chunks) == 2 * 24 * 120 + 1
    assert len(chunks) > 5


def test_export_empty_is_header_only(client: TestClient) -> None:
    resp = client.get("/api/v1/export/traffic")
    assert resp.status_code == 200
    assert resp.text.splitlines() == [",".join(CSV_COLUMNS)]
    assert client.get("/api/v1/export/traffic", params={"format": "json"}).json() == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "2026-11-22T12:00:00Z", "end": "2026-11-22T11:00:00Z"}, 422),
        ({"start": "yesterday"}, 422),
        ({"start": "1795348800"}, 422),
        ({"end": "-4.335411118700882e-217"}, 422),  # found by schemathesis
        ({"end": "1e9"}, 422),
        ({"end": "0001-01-01T00:00:00Z"}, 422),  # found by schemathesis: end - 24 h overflowed
        ({"end": "0001-01-01T12:00:00Z"}, 200),  # less than a day after the first instant
        ({"end": "0001-01-01T00:30:00+01:00"}, 422),  # before year 1 in UTC
        ({"start": "9999-12-31T23:59:59-01:00"}, 422),  # after year 9999 in UTC
        ({"start": "+1.5"}, 422),
        ({"format": "xml"}, 422),
        ({"server_id": "../etc"}, 422),
        ({"server_id": "ghost"}, 404),
    ],
)
def test_export_refuses_bad_requests(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    assert client.get("/api/v1/export/traffic", params=params).status_code == status


def test_export_store_failure_before_first_byte_is_503(
    store: FakeStore, client: TestClient
) -> None:
    store.broken = True
    resp = client.get("/api/v1/export/traffic")
    assert resp.status_code == 503


def test_alerts_only_active(store: FakeStore, client: TestClient) -> None:
    store.write_batch(
        [alert("h", "eth0"), alert("h", "wlan0", active=False), alert("g", "eth1", drops_per_sec=2)]
    )
    body = client.get("/api/v1/alerts").json()
    assert [(a["server_id"], a["interface"]) for a in body] == [("g", "eth1"), ("h", "eth0")]
    assert body[1]["reason"] == "rx errors 5.0/s over 1.0/s"
    assert body[1]["since"] == "2026-11-22T12:00:00.000Z"
    only_h = client.get("/api/v1/alerts", params={"server_id": "h"}).json()
    assert [a["interface"] for a in only_h] == ["eth0"]
    assert client.get("/api/v1/alerts", params={"server_id": "'; x"}).json() == []
