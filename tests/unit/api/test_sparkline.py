"""/api/v1/metrics/sparkline/{id}/network: TC017-TC022 and parameter errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from api.models import PeriodName
from stores.steps import PERIODS
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import NOW, history

URL = "/api/v1/metrics/sparkline/{}/network"


def _two_interfaces(store: FakeStore, span: timedelta = timedelta(hours=24)) -> None:
    store.write_batch(history("h", "eth0", span=span, rx_rate=1000, tx_rate=500))
    store.write_batch(history("h", "wlan0", span=span, rx_rate=10, tx_rate=20))


def test_period_names_are_the_store_periods() -> None:
    assert set(get_args(PeriodName)) == set(PERIODS)


def test_tc019_sparkline_returns_ordered_points(store: FakeStore, client: TestClient) -> None:
    _two_interfaces(store)
    resp = client.get(URL.format("h"), params={"interface": "eth0"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["server_id"] == "h"
    assert body["metric"] == "network"
    assert body["period"] == "1h"
    assert 30 <= len(body["data"]) <= 120
    stamps = [p["timestamp"] for p in body["data"]]
    assert stamps == sorted(stamps)
    for point in body["data"]:
        assert {"timestamp", "rx_bytes", "tx_bytes", "rx_bytes_per_sec", "tx_bytes_per_sec"} <= (
            point.keys()
        )
    # Bytes moved within the buckets add up to the traffic of the hour.
    assert sum(p["rx_bytes"] for p in body["data"]) == 60 * 60 * 1000
    assert body["step_seconds"] > 0


def test_tc020_interface_filter(store: FakeStore, client: TestClient) -> None:
    _two_interfaces(store)
    body = client.get(URL.format("h"), params={"interface": "eth0", "period": "1h"}).json()
    assert body["interface"] == "eth0"
    assert body["series"] is None
    assert {p["rx_bytes_per_sec"] for p in body["data"]} == {1000.0}  # nothing from wlan0


def test_tc021_period_covers_only_that_period(store: FakeStore, client: TestClient) -> None:
    _two_interfaces(store, span=timedelta(hours=48))
    body = client.get(URL.format("h"), params={"interface": "eth0", "period": "1h"}).json()
    first = datetime.fromisoformat(body["data"][0]["timestamp"])
    assert first >= NOW - timedelta(hours=1) - timedelta(seconds=body["step_seconds"])
    assert sum(p["rx_bytes"] for p in body["data"]) == 60 * 60 * 1000
    body24 = client.get(URL.format("h"), params={"interface": "eth0", "period": "24h"}).json()
    assert sum(p["rx_bytes"] for p in body24["data"]) == 24 * 60 * 60 * 1000


def test_tc022_unknown_interface_is_empty(store: FakeStore, client: TestClient) -> None:
    store.write_batch(history("h", "eth0"))
    resp = client.get(URL.format("h"), params={"interface": "wlan0"})
    assert resp.status_code == 200
    assert resp.json()["data"] == []


def test_tc017_tc018_without_interface_each_series_apart(
    store: FakeStore, client: TestClient
) -> None:
    _two_interfaces(store)
    body = client.get(URL.format("h"), params={"period": "24h"}).json()
    assert body["interface"] is None
    series = {s["interface"]: s["data"] for s in body["series"]}
    assert set(series) == {"eth0", "wlan0"}
    assert {p["rx_bytes_per_sec"] for p in series["eth0"]} == {1000.0}
    assert {p["rx_bytes_per_sec"] for p in series["wlan0"]} == {10.0}
    assert len(series["eth0"]) > 1
    total = sum(p["rx_bytes"] for p in body["data"])
    assert total == sum(p["rx_bytes"] for s in series.values() for p in s)


def test_points_sets_resolution(store: FakeStore, client: TestClient) -> None:
    _two_interfaces(store)
    body = client.get(URL.format("h"), params={"interface": "eth0", "points": 10}).json()
    assert body["step_seconds"] == 600  # the smallest nice step giving at most 10 buckets
    assert len(body["data"]) <= 11


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"period": "2h"}, "period"),
        ({"period": "'; DROP"}, "period"),
        ({"points": 0}, "points"),
        ({"points": 1001}, "points"),
        ({"points": "many"}, "points"),
    ],
)
def test_bad_parameter_is_422_naming_it(
    store: FakeStore, client: TestClient, params: dict[str, object], name: str
) -> None:
    store.write_batch(history("h", "eth0"))
    resp = client.get(URL.format("h"), params=params)
    assert resp.status_code == 422
    assert any(err["loc"][-1] == name for err in resp.json()["detail"])


def test_unknown_server_is_404(client: TestClient) -> None:
    resp = client.get(URL.format("ghost"))
    assert resp.status_code == 404
    assert "ghost" in resp.json()["detail"]


@pytest.mark.parametrize("iface", ["a/b", "x" * 10000, "eth0' OR '1'='1", '"', "é" * 20, " "])
def test_hostile_interface_is_empty_not_error(
    store: FakeStore, client: TestClient, iface: str
) -> None:
    store.write_batch(history("h", "eth0"))
    resp = client.get(URL.format("h"), params={"interface": iface})
    assert resp.status_code == 200
    assert resp.json()["data"] == []
