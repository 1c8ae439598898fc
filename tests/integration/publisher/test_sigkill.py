"""SIGKILL the publisher while it spools (broker down) and again mid-backlog (replaying):
after a restart on the same spool, every sample still arrives, and seq keeps growing."""

from __future__ import annotations

import threading
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
IFACES = ("eth0", "wlan0", "veth0")


class Traffic:
    """Changes the fake host's counters every 50 ms, as real traffic would."""

    def __init__(self, fake: FakeHost) -> None:
        self.fake = fake
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            for name in IFACES:
                self.fake.bump(name, rx_bytes=1000, tx_bytes=400, rx_packets=2, tx_packets=1)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_sigkill_loses_nothing_that_reached_the_spool(
    broker_factory: Callable[..., Mosquitto], topic_prefix: str, tmp_path: Path
) -> None:
    broker = broker_factory()
    broker.stop()  # the port stays ours; nothing listens yet
    fake = FakeHost(tmp_path / "host")
    for name in IFACES:
        fake.add(name)
    traffic = Traffic(fake)
    args = ("--broker", broker.url, "--host-id", "killed", "--topic-prefix", topic_prefix,
            "--interval", "0.1", "--reconnect-min", "0.1", "--reconnect-max", "0.5")  # fmt: skip
    sub: Subscriber | None = None
    try:
        # 1. Broker down: the backlog builds up in the spool; kill -9 while spooling.
        first = PublisherProcess(fake, tmp_path, *args)
        wait_until(lambda: pub_depth(first) >= 60, 20, "a backlog of 60 samples")
        first.kill()
        backlog, last_seq = read_spool(first.spool)
        assert len(backlog) == last_seq + 1 >= 60  # everything since seq 0 is there

        # 2. Broker up, a slow replay; kill -9 again mid-backlog.
        broker.start()
        sub = Subscriber(broker.host, broker.port, topic_prefix)
        second = PublisherProcess(fake, tmp_path, *args, "--replay-rate", "20")
        wait_until(lambda: len(sub.samples()) >= 20, 20, "part of the backlog")  # type: ignore[union-attr]
        second.kill()
        left, _ = read_spool(second.spool)
        assert left, "killed mid-backlog: some of it is still in the spool"
        assert len(sub.seqs()) < last_seq + 1

        # 3. Restart: the rest of the backlog, then live samples, seq carrying on.
        third = PublisherProcess(fake, tmp_path, *args)
        wait_until(lambda: len(sub.seqs()) > last_seq + 30, 30, "backlog and live samples")  # type: ignore[union-attr]
        assert third.terminate() == 0, third.output()
        _, final_seq = read_spool(third.spool)
        wait_until(lambda: sub.seqs() >= set(range(final_seq + 1)), 20, "every seq")  # type: ignore[union-attr]
    finally:
        traffic.close()
        for proc in (p for p in locals().values() if isinstance(p, PublisherProcess)):
            if proc.popen.poll() is None:
                proc.kill()
        if sub is not None:
            sub.close()

    samples = sub.samples()
    assert sub.seqs() == set(range(final_seq + 1)), "no gaps"
    assert {s["seq"] for s in backlog} <= sub.seqs()
    assert_in_order_per_interface(samples)
    for sample in samples:
        for value in sample["delta"].values():
            assert value is None or value >= 0
    print(
        f"\nsigkill: backlog {len(backlog)} at the first kill, {len(left)} left at the second; "
        f"{final_seq + 1} published, {len(samples)} received, "
        f"{len(samples) - len(sub.seqs())} duplicates, 0 gaps"
    )


def pub_depth(proc: PublisherProcess) -> int:
    if not proc.spool.exists():
        return 0
    try:
        return len(read_spool(proc.spool)[0])
    except Exception:
        time.sleep(0.05)
        return 0
