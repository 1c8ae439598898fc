"""1000 cycles through the real broker, with containers' veth links coming and going: the
publisher's RSS stays flat (bounded caches, nothing kept per sample after its PUBACK)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from publisher.cli import build_publisher
from publisher.settings import load_settings
from tests.fixtures.proc_trees import FakeHost
from tests.integration.publisher.helpers import wait_until
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
CYCLES = 1000


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_rss_is_flat_over_1000_cycles(
    mosquitto: Mosquitto, topic_prefix: str, tmp_path: Path
) -> None:
    fake = FakeHost(tmp_path / "host")
    for i in range(20):
        fake.add(f"eth{i}", speed=1000)
    settings = load_settings(
        {
            "broker": mosquitto.url,
            "host_id": "rss",
            "topic_prefix": topic_prefix,
            "proc_root": str(fake.proc),
            "sys_root": str(fake.sys),
            "spool": str(tmp_path / "spool.db"),
            "replay_rate": 1e6,
            "max_inflight": 100,
        }
    )
    publisher = build_publisher(settings)
    publisher.transport.start()
    wait_until(lambda: publisher.transport.connected, 10, "connected")
    rss: dict[int, int] = {}
    try:
        for cycle in range(1, CYCLES + 1):
            if cycle % 10 == 0:  # a container comes and goes: a new veth name each time
                fake.add(f"veth{cycle}")
                if f"veth{cycle - 10}" in fake.links:
                    fake.remove(f"veth{cycle - 10}")
            fake.bump("eth0", rx_bytes=1500, rx_packets=1)
            publisher.cycle()
            deadline = time.monotonic() + 10
            publisher.pump()
            while not publisher.delivered:
                assert time.monotonic() < deadline, "not delivered"
                publisher.wake.wait(0.05)
                publisher.wake.clear()
                publisher.pump()
            if cycle in (300, CYCLES):
                rss[cycle] = rss_kib()
    finally:
        publisher.shutdown()
    growth = rss[CYCLES] - rss[300]
    print(
        f"\nRSS after 300 cycles {rss[300] / 1024:.1f} MiB, after {CYCLES} {rss[CYCLES] / 1024:.1f}"
    )
    assert growth < 1024, f"RSS grew {growth} KiB between cycle 300 and {CYCLES}"
    assert publisher.spool.last_seq >= CYCLES * 20
