"""Samples across cycles: deltas on real elapsed time, wraps, resets, reboots, re-created links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.collect import Collector
from publisher.counters import WRAP_32
from publisher.sampler import Sampler
from schemas import COUNTER_NAMES, InterfaceSample
from tests.fixtures.proc_trees import BOOT_ID, FakeHost


class Clock:
    """Monotonic and wall clocks a test moves by hand."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


class Rig:
    def __init__(self, root: Path, next_seq: int = 0) -> None:
        self.host = FakeHost(root)
        self.clock = Clock()
        self.collector = Collector(self.host.proc, self.host.sys)
        self.sampler = Sampler(
            "h1", next_seq, wallclock=lambda: self.clock.wall, monotonic=lambda: self.clock.mono
        )

    def cycle(self, after: float = 10.0) -> dict[str, InterfaceSample]:
        self.clock.advance(after)
        readings = self.collector.collect()
        samples = self.sampler.sample(readings, self.collector.boot_id())
        return {s.iface: s for s in samples}


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def assert_no_negative_and_no_spike(sample: InterfaceSample, cap: int) -> None:
    for name in COUNTER_NAMES:
        value = getattr(sample.delta, name)
        assert value is None or 0 <= value <= cap, (name, value)


def test_first_sample_has_no_deltas_then_deltas_and_rates(rig: Rig) -> None:
    rig.host.add("eth0", rx_bytes=1000, tx_bytes=500, rx_packets=10, tx_packets=5)
    first = rig.cycle()["eth0"]
    assert first.interval_s is None
    assert first.delta.rx_bytes is None and first.rx_bytes_per_sec is None
    rig.host.bump("eth0", rx_bytes=4000, tx_bytes=2000, rx_packets=40, tx_packets=20, rx_errors=1)
    second = rig.cycle(after=4.0)["eth0"]
    assert second.interval_s == 4.0
    assert (second.delta.rx_bytes, second.delta.tx_bytes, second.delta.rx_errors) == (4000, 2000, 1)
    assert (second.rx_bytes_per_sec, second.tx_bytes_per_sec) == (1000.0, 500.0)
    assert (second.rx_packets_per_sec, second.tx_packets_per_sec) == (10.0, 5.0)
    assert second.ts - first.ts == timedelta(seconds=4)


def test_deltas_use_each_interface_s_own_elapsed_time(rig: Rig) -> None:
    rig.host.add("eth0")
    rig.cycle()
    rig.host.add("eth1")  # appears a cycle later
    both = rig.cycle(after=3.0)
    assert both["eth0"].interval_s == 3.0 and both["eth1"].interval_s is None
    rig.host.bump("eth1", rx_bytes=600)
    both = rig.cycle(after=2.0)
    assert both["eth1"].interval_s == 2.0 and both["eth1"].rx_bytes_per_sec == 300.0


def test_seq_grows_by_one_per_sample_across_interfaces_and_cycles(tmp_path: Path) -> None:
    rig = Rig(tmp_path, next_seq=41)
    for name in ("eth0", "wlan0", "docker0"):
        rig.host.add(name)
    seqs = [s.seq for _ in range(3) for s in rig.cycle().values()]
    assert seqs == list(range(41, 50))
    assert rig.sampler.next_seq == 50


# -- the acceptance's counter table ----------------------------------------------------------
def test_32_bit_wrap_on_a_100_mbit_link_is_unwrapped(rig: Rig) -> None:
    rig.host.add("eth0", speed=100, rx_bytes=WRAP_32 - 30_000_000, rx_packets=WRAP_32 - 20_000)
    rig.cycle()
    rig.host.update("eth0", rx_bytes=70_000_000, rx_packets=80_000)  # 100 MB, 100k pkts in 10 s
    sample = rig.cycle(after=10.0)["eth0"]
    assert sample.delta.rx_bytes == 100_000_000
    assert sample.delta.rx_packets == 100_000
    assert sample.rx_bytes_per_sec == 10_000_000.0  # 80 Mbit/s on a 100 Mbit/s link


def test_32_bit_counter_dropping_too_far_for_the_link_is_a_reset(rig: Rig) -> None:
    rig.host.add("eth0", speed=100, rx_bytes=3_000_000_000, tx_bytes=2_000_000_000)
    rig.cycle()
    rig.host.update("eth0", rx_bytes=5_000, tx_bytes=2_000_000_100)  # driver reload
    sample = rig.cycle(after=10.0)["eth0"]
    assert sample.delta.rx_bytes is None and sample.delta.tx_bytes is None
    assert sample.rx_bytes_per_sec is None
    assert_no_negative_and_no_spike(sample, cap=0)


def test_64_bit_counter_going_down_is_a_reset(rig: Rig) -> None:
    rig.host.add("eth0", speed=10_000, rx_bytes=2**40, rx_packets=2**34)
    rig.cycle()
    rig.host.update("eth0", rx_bytes=2**40 - 1, rx_packets=2**34 + 5)
    sample = rig.cycle()["eth0"]
    assert sample.delta.rx_bytes is None and sample.delta.rx_packets is None
    rig.host.bump("eth0", rx_bytes=1234, rx_packets=7)
    after = rig.cycle()["eth0"]  # the new baseline works at once
    assert (after.delta.rx_bytes, after.delta.rx_packets) == (1234, 7)


def test_reboot_is_a_reset_even_when_counters_grew(rig: Rig) -> None:
    rig.host.add("eth0", speed=1000, rx_bytes=1_000_000)
    rig.cycle()
    rig.host.set_boot_id("11111111-2222-3333-4444-555555555555")
    rig.host.update("eth0", rx_bytes=9_000_000)
    sample = rig.cycle()["eth0"]
    assert sample.boot_id == "11111111-2222-3333-4444-555555555555"
    assert all(getattr(sample.delta, n) is None for n in COUNTER_NAMES)
    assert sample.interval_s == 10.0


def test_recreated_interface_with_new_ifindex_is_a_reset(rig: Rig) -> None:
    rig.host.add("veth0", rx_bytes=500, tx_bytes=500)
    rig.host.add("eth0", rx_bytes=100)
    rig.cycle()
    rig.host.recreate("veth0")
    rig.host.update("veth0", rx_bytes=100_000, tx_bytes=100_000)  # more than before: no matter
    rig.host.bump("eth0", rx_bytes=50)
    samples = rig.cycle()
    assert samples["veth0"].delta.rx_bytes is None and samples["veth0"].delta.tx_bytes is None
    assert samples["eth0"].delta.rx_bytes == 50
    assert samples["eth0"].boot_id == BOOT_ID


def test_errors_and_drops_follow_the_same_rules(rig: Rig) -> None:
    rig.host.add("eth0", speed=100, rx_errors=WRAP_32 - 5, tx_dropped=10)
    rig.cycle()
    rig.host.update("eth0", rx_errors=5, tx_dropped=3)  # rx_errors wrapped; tx_dropped reset
    sample = rig.cycle()["eth0"]
    assert_no_negative_and_no_spike(sample, cap=0)
    rig.host.update("eth0", rx_errors=9, tx_dropped=4)
    sample = rig.cycle()["eth0"]
    assert (sample.delta.rx_errors, sample.delta.tx_dropped) == (4, 1)


def test_retired_interface_starts_over_when_it_comes_back(rig: Rig) -> None:
    rig.host.add("wlan0", rx_bytes=100)
    rig.cycle()
    rig.host.remove("wlan0")
    assert rig.cycle() == {}
    assert rig.sampler.tracked == frozenset()
    rig.host.add("wlan0", rx_bytes=200)
    assert rig.cycle()["wlan0"].interval_s is None


def test_an_interface_the_schema_refuses_is_skipped_not_fatal(rig: Rig) -> None:
    rig.host.add("eth0")
    rig.host.add("x" * 20)  # longer than Linux allows: the schema refuses it
    assert set(rig.cycle()) == {"eth0"}
    assert rig.sampler.next_seq == 1
