"""The broker stops for 30 s while the publisher samples every 0.2 s: every seq still arrives,
in order per interface, and the backlog is replayed at a bounded rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.proc_trees import FakeHost
from tests.integration.publisher.helpers import (
    PublisherProcess,
    Subscriber,
    assert_in_order_per_interface,
    read_spool,
    wait_until,
)
from tests.services.mosquitto import Mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.faults]
OUTAGE_S = 30
REPLAY_RATE = 60  # messages/s; the live load is 3 interfaces / 0.2 s = 15 messages/s


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_broker_outage_loses_nothing(
    broker_factory: Callable[..., Mosquitto], topic_prefix: str, tmp_path: Path
) -> None:
    broker = broker_factory()
    fake = FakeHost(tmp_path / "host")
    for name in ("eth0", "wlan0", "tailscale0"):
        fake.add(name)
    sub = Subscriber(broker.host, broker.port, topic_prefix)
    pub = PublisherProcess(
        fake, tmp_path, "--broker", broker.url, "--host-id", "outage", "--topic-prefix",
        topic_prefix, "--interval", "0.2", "--reconnect-min", "0.2", "--reconnect-max", "2",
        "--replay-rate", str(REPLAY_RATE),
    )  # fmt: skip
    try:
        wait_until(lambda: len(sub.samples()) >= 15, 20, "samples before the outage")
        broker.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S:
            fake.bump("eth0", rx_bytes=1500, rx_packets=1)  # traffic goes on meanwhile
            time.sleep(0.2)
        backlog_seen = len(sub.samples())
        broker.start()
        restarted = time.monotonic()
        wait_until(
            lambda: len(sub.samples()) >= backlog_seen + 3 * OUTAGE_S / 0.2 * 0.9,
            60,
            "the backlog after the restart",
        )
        assert pub.terminate() == 0, pub.output()
        queued, last_seq = read_spool(pub.spool)
        assert queued == [], "a clean stop with the broker up leaves the spool empty"
        wait_until(lambda: sub.seqs() >= set(range(last_seq + 1)), 30, "every seq")
    finally:
        if pub.popen.poll() is None:
            pub.kill()
        sub.close()

    samples = sub.samples()
    assert sub.seqs() == set(range(last_seq + 1)), "no gaps"
    assert last_seq + 1 >= 3 * (OUTAGE_S + 3) / 0.2 * 0.8  # it kept sampling through the outage
    assert_in_order_per_interface(samples)
    replay = [t for t in sub.sample_times() if t >= restarted]
    assert max_in_any_second(replay) <= 2 * REPLAY_RATE + 15, "replay rate not bounded"
    duplicates = len(samples) - len(sub.seqs())
    replay_s = max(replay) - restarted if replay else 0.0
    print(
        f"\noutage {OUTAGE_S}s: {last_seq + 1} samples published, {len(samples)} received, "
        f"{duplicates} duplicates, 0 gaps; replay after restart {replay_s:.1f}s, "
        f"peak {max_in_any_second(replay)} msg/s (cap {REPLAY_RATE}/s)"
    )
    log = pub.output()
    assert "connection to the broker lost" in log and "connected to" in log
    assert sub.statuses()[-1]["state"] == "offline"
