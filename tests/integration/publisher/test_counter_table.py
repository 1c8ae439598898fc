"""Counter table through the real broker: 32-bit wrap on a 100 Mbit link, a 64-bit counter going
down, a reboot, a re-created interface: no negative delta and no spike reaches a subscriber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from publisher.cli import build_publisher
from publisher.counters import WRAP_32
from publisher.sampler import Sampler
from publisher.service import Publisher
from publisher.settings import load_settings
from schemas import COUNTER_NAMES
from tests.fixtures.proc_trees import FakeHost
from tests.integration.publisher.helpers import Subscriber, wait_until
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
STEP_S = 10.0
NEW_BOOT = "99999999-8888-7777-6666-555555555555"


class Stepper:
    """A real publisher (real MQTT link, real spool) whose cycles the test triggers."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.mono = 5000.0
        self.wall = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        publisher.sampler = Sampler(
            publisher.host, 0, wallclock=lambda: self.wall, monotonic=lambda: self.mono
        )
        publisher.transport.start()
        wait_until(lambda: publisher.transport.connected, 10, "publisher connected")

    def step(self) -> None:
        self.mono += STEP_S
        self.wall += timedelta(seconds=STEP_S)
        assert self.publisher.cycle() > 0
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not self.publisher.delivered:
            assert datetime.now(UTC) < deadline, "spool did not drain"
            self.publisher.pump()
            self.publisher.wake.wait(0.05)
            self.publisher.wake.clear()


@pytest.fixture
def rig(
    mosquitto: Mosquitto, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[FakeHost, Stepper, Subscriber]]:
    fake = FakeHost(tmp_path / "host")
    settings = load_settings(
        {
            "broker": mosquitto.url,
            "host_id": "tablehost",
            "topic_prefix": topic_prefix,
            "proc_root": str(fake.proc),
            "sys_root": str(fake.sys),
            "spool": str(tmp_path / "spool.db"),
        }
    )
    sub = Subscriber(mosquitto.host, mosquitto.port, topic_prefix)
    publisher = build_publisher(settings)
    yield fake, Stepper(publisher), sub
    publisher.shutdown()
    sub.close()


def latest(sub: Subscriber, count: int) -> dict[str, dict[str, Any]]:
    wait_until(lambda: len(sub.samples()) >= count, 10, f"{count} samples")
    return {s["iface"]: s for s in sub.samples()[-4:]}


def test_counter_table(rig: tuple[FakeHost, Stepper, Subscriber]) -> None:
    fake, stepper, sub = rig
    fake.add("eth0", speed=100, rx_bytes=WRAP_32 - 30_000_000, tx_packets=WRAP_32 - 50_000)
    fake.add("eth1", speed=10_000, rx_bytes=2**40, tx_bytes=2**36)
    fake.add("veth0", speed=10_000, rx_bytes=7_000, tx_bytes=9_000)
    fake.add("wlan0", speed=None, rx_bytes=123_456)
    stepper.step()
    first = latest(sub, 4)
    assert all(first[i]["delta"]["rx_bytes"] is None for i in first)  # no baseline yet

    # 32-bit wrap on 100 Mbit (100 MB in 10 s), 64-bit counter down, interface re-created.
    fake.update("eth0", rx_bytes=70_000_000, tx_packets=30_000)
    fake.update("eth1", rx_bytes=2**40 - 4096, tx_bytes=2**36 + 5)
    fake.recreate("veth0")
    fake.update("veth0", rx_bytes=50_000, tx_bytes=60_000)  # above the old values: still a reset
    fake.bump("wlan0", rx_bytes=1_000)
    stepper.step()
    got = latest(sub, 8)
    assert got["eth0"]["delta"]["rx_bytes"] == 100_000_000
    assert got["eth0"]["delta"]["tx_packets"] == 80_000
    assert got["eth0"]["rx_bytes_per_sec"] == 10_000_000.0
    assert got["eth1"]["delta"]["rx_bytes"] is None and got["eth1"]["rx_bytes_per_sec"] is None
    assert got["veth0"]["delta"]["rx_bytes"] is None and got["veth0"]["delta"]["tx_bytes"] is None
    assert got["wlan0"]["delta"]["rx_bytes"] == 1_000

    # Reboot: new boot_id, every counter restarts (here: grows), every delta is unknown.
    fake.set_boot_id(NEW_BOOT)
    for name in ("eth0", "eth1", "veth0", "wlan0"):
        fake.bump(name, rx_bytes=10)
    stepper.step()
    got = latest(sub, 12)
    assert {s["boot_id"] for s in got.values()} == {NEW_BOOT}
    assert all(s["delta"][c] is None for s in got.values() for c in COUNTER_NAMES)

    # And after each reset the next sample has honest deltas again.
    for name in ("eth0", "eth1", "veth0", "wlan0"):
        fake.bump(name, rx_bytes=2_500, tx_bytes=500)
    stepper.step()
    got = latest(sub, 16)
    assert {s["delta"]["rx_bytes"] for s in got.values()} == {2_500}
    assert {s["rx_bytes_per_sec"] for s in got.values()} == {250.0}

    for sample in sub.samples():
        for name in COUNTER_NAMES:
            delta = sample["delta"][name]
            assert delta is None or 0 <= delta <= 100_000_000, (sample["iface"], name, delta)
    assert sorted(s["seq"] for s in sub.samples()) == list(range(16))
