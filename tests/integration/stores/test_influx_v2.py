"""InfluxStore on InfluxDB 2.x (testcontainers): /api/v2/write + InfluxQL through DBRP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from stores.influx import InfluxStore
from tests.factories import sample
from tests.services.docker import INFLUXDB2_IMAGE, DockerInfluxdb2, docker_can_pull, docker_wanted

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(scope="module")
def influx2() -> Iterator[DockerInfluxdb2]:
    if not docker_wanted():
        pytest.skip("set IFPULSE_TEST_DOCKER=1 with a Docker engine that can pull influxdb:2")
    reason = docker_can_pull(INFLUXDB2_IMAGE)
    if reason is not None:
        pytest.skip(reason)
    server = DockerInfluxdb2()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("bucket", ["ifpulse", "created-by-store"])
def test_v2_write_and_influxql_read(
    influx2: DockerInfluxdb2, monkeypatch: pytest.MonkeyPatch, bucket: str
) -> None:
    monkeypatch.setenv("IFPULSE_INFLUX_TOKEN", influx2.token)
    store = InfluxStore.from_url(influx2.store_url(bucket))
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [
        sample(
            iface=name,
            ts=now - timedelta(seconds=10 * i),
            seq=i,
            rx_bytes=2**64 - 1,
            delta={"rx_bytes": 100},
            rx_bytes_per_sec=10.0,
        )
        for name in ("eth0", "a,b=c", "back\\")
        for i in range(6)
    ]
    store.write_batch(batch)
    store.write_batch(batch)
    latest = store.latest("h1")
    assert [s.iface for s in latest] == sorted(["eth0", "a,b=c", "back\\"])
    assert all(s.seq == 0 and s.rx_bytes == 2**64 - 1 for s in latest)
    res = store.series(
        "h1", None, now - timedelta(hours=1), now + timedelta(minutes=1), timedelta(hours=1)
    )
    assert sum(b.rx_bytes for b in res.total) == 3 * 6 * 100
    assert (
        len(
            list(
                store.samples("h1", "back\\", now - timedelta(hours=1), now + timedelta(seconds=1))
            )
        )
        == 6
    )
    assert [h.id for h in store.hosts()] == ["h1"]
    store.close()
