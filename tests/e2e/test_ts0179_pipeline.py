"""TS0179 API cases against a store filled by the real path, not by writing the store.

fake /proc+/sys -> `ifpulse publish` -> mosquitto -> `ifpulse ingest` -> SQLite or influxd
-> the api. Covers TC008-TC010, TC012-TC015 (through the api), TC017-TC022.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from stores import open_store
from stores.steps import PERIODS, choose_step
from tests.fixtures.proc_trees import FakeHost
from tests.integration.ingestor.helpers import ProcessIngestor
from tests.integration.publisher.helpers import PublisherProcess, wait_until
from tests.services.influxd import Influxd
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

HOST, EMPTY_HOST = "e2ehost", "newhost"
IFACES = {"docker0", "eth0", "tailscale0", "wlan0"}
CYCLES = 8


@dataclass
class Pipeline:
    """The api over a store the real pipeline filled, and what the fake host ended with."""

    client: TestClient
    final: dict[str, dict[str, int]]


def _stored(store_url: str, eth0_rx: int) -> bool:
    """Both hosts are known and eth0's newest stored sample has `eth0_rx` bytes."""
    store = open_store(store_url)
    try:
        latest = store.latest(HOST)
        return (
            {s.iface for s in latest} == IFACES
            and all(s.rx_bytes == eth0_rx for s in latest if s.iface == "eth0")
            and store.host(EMPTY_HOST) is not None
        )
    finally:
        store.close()


@pytest.fixture(scope="module", params=["sqlite", "influx"])
def pipeline(
    request: pytest.FixtureRequest,
    mosquitto: Mosquitto,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """Run the real path for a few cycles, stop it, and serve the store through the api.

    Once per store kind for the whole module: the cases below only read.
    """
    tmp_path = tmp_path_factory.mktemp(f"e2e-{request.param}")
    topic_prefix = f"e2e-{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        store_url = f"sqlite:///{tmp_path / 'ifpulse.db'}"
    else:
        influxd: Influxd = request.getfixturevalue("influxd")
        store_url = influxd.store_url(topic_prefix.replace("-", "_"))
    common = ["--broker", mosquitto.url, "--topic-prefix", topic_prefix]
    ingestor = ProcessIngestor(
        [*common, "--store", store_url, "--client-id", f"e2e-{topic_prefix}",
         "--batch-size", "50", "--flush-interval", "0.1"],
        tmp_path / "ingestor.log",
    )  # fmt: skip
    publishers: list[PublisherProcess] = []
    try:
        ingestor.wait_connected()
        fake = FakeHost(tmp_path / "host")
        for name in ("lo", "eth0", "wlan0", "tailscale0", "docker0"):
            fake.add(name, rx_bytes=1000, tx_bytes=2000, rx_packets=10, tx_packets=20)
        empty = FakeHost(tmp_path / "empty")  # TC009: a host that reports no interface
        (tmp_path / "p1").mkdir()
        (tmp_path / "p2").mkdir()
        fast = [*common, "--interval", "0.3"]
        publishers = [
            PublisherProcess(fake, tmp_path / "p1", *fast, "--host-id", HOST),
            PublisherProcess(empty, tmp_path / "p2", *fast, "--host-id", EMPTY_HOST),
        ]
        # The first sample (no deltas yet) must see the starting counters.
        wait_until(lambda: _stored(store_url, 1000), 30, f"first samples in {store_url}")
        for _ in range(CYCLES):  # eth0 moves 1000 B/cycle rx, wlan0 300; others stay idle
            time.sleep(0.35)
            fake.bump("eth0", rx_bytes=1000, tx_bytes=500, rx_packets=10, tx_packets=5)
            fake.bump("wlan0", rx_bytes=300, tx_bytes=100, rx_packets=3, tx_packets=1)
        time.sleep(0.8)  # at least two more cycles see the final counters
        for p in publishers:
            assert p.terminate() == 0, p.output()[-2000:]
        wait_until(
            lambda: _stored(store_url, 1000 + 1000 * CYCLES),
            30,
            f"the store to hold both hosts ({store_url})",
        )
    finally:
        for p in publishers:
            if p.popen.poll() is None:
                p.kill()
        assert ingestor.stop(signal.SIGTERM) == 0, ingestor.tail()
    final = {name: dict(link.counters) for name, link in fake.links.items()}
    with TestClient(create_app(ApiSettings(store=store_url))) as client:
        yield Pipeline(client, final)


def _get(client: TestClient, path: str, status: int = 200) -> Any:
    resp = client.get(path)
    assert resp.status_code == status, resp.text
    return resp.json()


def test_tc008_tc010_servers_detail_from_the_pipeline(pipeline: Pipeline) -> None:
    body = _get(pipeline.client, f"/api/v1/servers/{HOST}")
    interfaces = body["network_interfaces"]
    assert {i["name"] for i in interfaces} == IFACES  # TC010; lo excluded (TC012-TC015)
    assert len(interfaces) == len(IFACES)
    for i in interfaces:  # TC008: the fields US0179 names, with the values the host had
        want = pipeline.final[i["name"]]
        got = {k: i[k] for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")}
        assert got == {k: want[k] for k in got}
        assert i["is_up"] is True
    servers = _get(pipeline.client, "/api/v1/servers")
    assert {s["id"] for s in servers} == {HOST, EMPTY_HOST}


def test_tc009_host_without_interface_data(pipeline: Pipeline) -> None:
    body = _get(pipeline.client, f"/api/v1/servers/{EMPTY_HOST}")
    assert body["network_interfaces"] == []


def test_tc017_tc019_sparkline_for_one_interface(pipeline: Pipeline) -> None:
    body = _get(
        pipeline.client, f"/api/v1/metrics/sparkline/{HOST}/network?period=15m&interface=eth0"
    )
    data = body["data"]
    assert body["interface"] == "eth0"
    assert len(data) >= 1
    assert [p["timestamp"] for p in data] == sorted(p["timestamp"] for p in data)
    for point in data:
        assert {"timestamp", "rx_bytes", "tx_bytes"} <= point.keys()
    # Every byte the host moved after its first sample shows up exactly once.
    assert sum(p["rx_bytes"] for p in data) == 1000 * CYCLES
    assert sum(p["tx_bytes"] for p in data) == 500 * CYCLES


def test_tc018_tc020_interfaces_stay_separate(pipeline: Pipeline) -> None:
    base = f"/api/v1/metrics/sparkline/{HOST}/network?period=15m"
    whole = _get(pipeline.client, base)
    series = {s["interface"]: s["data"] for s in whole["series"]}
    assert set(series) == IFACES
    assert sum(p["rx_bytes"] for p in series["wlan0"]) == 300 * CYCLES
    assert sum(p["rx_bytes"] for p in whole["data"]) == 1300 * CYCLES  # host total
    only_eth0 = _get(pipeline.client, base + "&interface=eth0")
    assert only_eth0["data"] == series["eth0"]  # no wlan0 bytes mixed in
    assert not only_eth0.get("series")


def test_tc021_periods_and_parameter_errors(pipeline: Pipeline) -> None:
    base = f"/api/v1/metrics/sparkline/{HOST}/network"
    for period in ("15m", "1h", "24h"):
        body = _get(pipeline.client, f"{base}?period={period}&interface=eth0")
        assert body["step_seconds"] == choose_step(PERIODS[period]).total_seconds()
        assert body["data"], period  # the recent samples fall in every period
    for query, param in (("period=2y", "period"), ("period=1h&points=0", "points")):
        detail = _get(pipeline.client, f"{base}?{query}", 422)["detail"]
        assert any(param in map(str, d["loc"]) for d in detail)


def test_tc022_unknown_interface_and_server(pipeline: Pipeline) -> None:
    body = _get(pipeline.client, f"/api/v1/metrics/sparkline/{HOST}/network?interface=nope0")
    assert body["data"] == []
    _get(pipeline.client, "/api/v1/metrics/sparkline/nohost/network", 404)
    _get(pipeline.client, "/api/v1/servers/nohost", 404)
