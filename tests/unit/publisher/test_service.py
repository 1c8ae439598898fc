"""The loop: spool first, drain in order within a window and a rate, delete on ack, stop cleanly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from publisher.collect import Collector
from publisher.pacing import TokenBucket, next_tick
from publisher.service import LoopOptions, Publisher
from publisher.spool import Spool
from schemas import TopicScheme
from tests.fixtures.proc_trees import FakeHost
from tests.unit.publisher.fakes import FakeClock, FakeTransport


def make(
    tmp_path: Path,
    transport: FakeTransport,
    *,
    ifaces: int = 3,
    clock: FakeClock | None = None,
    **options: float,
) -> tuple[Publisher, FakeHost]:
    host = FakeHost(tmp_path / "host")
    for i in range(ifaces):
        host.add(f"eth{i}")
    publisher = Publisher(
        host="h1",
        scheme=TopicScheme("t"),
        collector=Collector(host.proc, host.sys),
        spool=Spool(tmp_path / "spool.db"),
        transport=transport,
        options=LoopOptions(**options),  # type: ignore[arg-type]
        clock=clock or time.monotonic,
    )
    transport.on_activity = publisher.wake.set
    return publisher, host


def test_every_sample_goes_through_the_spool_and_leaves_it_on_ack(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport)
    assert publisher.cycle() == 3
    assert publisher.spool.depth == 3 and transport.sent == []  # spooled before published
    publisher.pump()
    assert [s["iface"] for s in transport.samples()] == ["eth0", "eth1", "eth2"]
    assert publisher.spool.depth == 3  # not acknowledged yet
    transport.ack_all()
    publisher.pump()
    assert publisher.backlog == 0 and publisher.delivered
    publisher.cycle()  # acknowledged rows leave in the next cycle's transaction
    assert publisher.spool.depth == 3


def test_outage_backlog_is_replayed_in_order(tmp_path: Path) -> None:
    transport = FakeTransport(connected=False, auto_ack=True)
    publisher, host = make(tmp_path, transport, max_inflight=5, replay_rate=1e9)
    for _ in range(10):
        publisher.cycle()
        host.bump("eth0", rx_bytes=100)
        publisher.pump()
    assert transport.sent == [] and publisher.spool.depth == 30
    transport.set_connected(True)
    for _ in range(20):
        publisher.pump()
    seqs = [s["seq"] for s in transport.samples()]
    assert seqs == list(range(30))
    assert publisher.backlog == 0


def test_in_flight_window_is_bounded(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport, max_inflight=4, replay_rate=1e9)
    for _ in range(5):
        publisher.cycle()
    publisher.pump()
    publisher.pump()
    assert len(transport.samples()) == 4
    transport.ack(1)
    publisher.pump()
    assert len(transport.samples()) == 5
    assert sum("/iface/" in topic for topic, _, _ in transport.pending.values()) == 4


def test_replay_rate_is_bounded(tmp_path: Path) -> None:
    clock = FakeClock()
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(
        tmp_path, transport, clock=clock, ifaces=10, replay_rate=20, max_inflight=100
    )
    for _ in range(10):
        publisher.cycle()  # a backlog of 100
    publisher.pump()
    assert len(transport.samples()) == 20  # one burst of `rate`
    publisher.pump()
    assert len(transport.samples()) == 20
    clock.now += 0.5
    publisher.pump()
    assert len(transport.samples()) == 30
    clock.now += 10
    for _ in range(10):
        publisher.pump()
    assert len(transport.samples()) == 50  # the bucket holds at most one second's worth


def test_burst_is_no_bigger_than_the_window(tmp_path: Path) -> None:
    clock = FakeClock()
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(tmp_path, transport, clock=clock, ifaces=10, replay_rate=100)
    for _ in range(10):
        publisher.cycle()
    for _ in range(5):
        publisher.pump()
    assert len(transport.samples()) == 20  # max_inflight: the default window


def test_warns_when_live_samples_outrun_the_rate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, _ = make(tmp_path, FakeTransport(), ifaces=3, interval=0.1, replay_rate=10)
    publisher.cycle()
    publisher.cycle()
    assert caplog.text.count("exceed --replay-rate") == 1


def test_a_replaced_client_resends_from_the_oldest_unacknowledged(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport, replay_rate=1e9)
    publisher.cycle()
    publisher.pump()
    transport.ack(1)
    publisher.pump()
    transport.replace_client()
    publisher.pump()
    seqs = [s["seq"] for s in transport.samples()]
    assert seqs == [0, 1, 2, 1, 2]  # duplicates are harmless, gaps are not
    transport.ack_all()
    publisher.pump()
    assert publisher.delivered


def test_status_on_connect_and_when_the_spool_drops(tmp_path: Path) -> None:
    transport = FakeTransport(connected=False)
    publisher, _ = make(tmp_path, transport, ifaces=2)
    publisher.spool.max_bytes = 2000  # about two samples
    publisher.cycle()
    publisher.cycle()
    assert publisher.spool.dropped == 2
    transport.set_connected(True)
    publisher.on_connected(transport)
    (status,) = transport.statuses()
    assert status["state"] == "online" and status["host"] == "h1"
    assert (status["spool_depth"], status["spool_dropped"]) == (2, 2)
    assert transport.sent[0][2] is True  # retained
    publisher.cycle()
    publisher.pump()
    assert transport.statuses()[-1]["spool_dropped"] == 4


def test_the_loop_survives_a_failing_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(tmp_path, transport, interval=0.1)
    calls = {"n": 0}
    real = publisher.collector.collect

    def flaky() -> list[object]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real()  # type: ignore[return-value]

    monkeypatch.setattr(publisher.collector, "collect", flaky)
    threading.Timer(0.35, publisher.request_stop).start()
    assert publisher.run() == 0
    assert calls["n"] >= 3 and len(transport.samples()) >= 6


def test_stop_flushes_within_grace_then_publishes_offline(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport, interval=3600, grace=2)
    acker = threading.Timer(0.3, transport.ack_all)
    acker.start()
    publisher.request_stop()
    publisher.cycle()
    started = time.monotonic()
    threading.Timer(0.6, transport.ack_all).start()  # acks the offline status
    assert publisher.shutdown() == 0
    assert time.monotonic() - started < 2
    assert transport.statuses()[-1]["state"] == "offline"
    assert transport.closed
    assert Spool(tmp_path / "spool.db").depth == 0


def test_stop_with_the_broker_gone_keeps_the_backlog_for_next_time(tmp_path: Path) -> None:
    transport = FakeTransport(connected=False)
    publisher, _ = make(tmp_path, transport, grace=0.2)
    publisher.cycle()
    assert publisher.shutdown() == 0
    again = Spool(tmp_path / "spool.db")
    assert again.depth == 3 and again.last_seq == 2


def test_once_exits_0_when_delivered(tmp_path: Path) -> None:
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(tmp_path, transport, once_timeout=5)
    assert publisher.run(once=True) == 0
    assert len(transport.samples()) == 3 and transport.started and transport.closed


def test_once_exits_1_when_undelivered(tmp_path: Path) -> None:
    transport = FakeTransport(connected=False)
    publisher, _ = make(tmp_path, transport, once_timeout=0.3)
    started = time.monotonic()
    assert publisher.run(once=True) == 1
    assert time.monotonic() - started < 2


def test_seq_continues_across_restarts(tmp_path: Path) -> None:
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(tmp_path, transport, once_timeout=5)
    publisher.run(once=True)
    again, _ = make(tmp_path, FakeTransport(auto_ack=True), once_timeout=5)
    assert again.sampler.next_seq == 3
    again.run(once=True)
    assert [s["seq"] for s in again.transport.samples()] == [3, 4, 5]  # type: ignore[attr-defined]


def test_next_tick_is_fixed_rate_and_skips_missed_ticks() -> None:
    assert next_tick(10.0, 10.05, 1.0) == 11.0
    assert next_tick(10.0, 15.5, 1.0) == 16.5


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 5, clock)
    assert bucket.available() == 5
    bucket.spend(5)
    assert bucket.available() == 0 and bucket.wait() == pytest.approx(0.1)
    clock.now += 0.25
    assert bucket.available() == 2


def test_sample_listeners_see_each_cycle_and_cannot_break_it(tmp_path: Path) -> None:
    publisher, _ = make(tmp_path, FakeTransport())
    seen: list[list[str]] = []
    publisher.sample_listeners.append(lambda samples: seen.append([s.iface for s in samples]))
    publisher.sample_listeners.append(lambda samples: 1 / 0)  # type: ignore[func-returns-value]
    assert publisher.cycle() == 3
    assert publisher.cycle() == 3
    assert seen == [["eth0", "eth1", "eth2"]] * 2


def test_backlog_is_held_after_the_broker_lost_its_sessions(tmp_path: Path) -> None:
    """A broker restarted without persistence forgot the ingestors' subscriptions too."""
    clock = FakeClock()
    transport = FakeTransport(auto_ack=True)
    publisher, _ = make(tmp_path, transport, clock=clock, broker_reset_hold=10)
    publisher.cycle()
    transport.session_resets = 1  # the link reconnected and found no session
    publisher.pump()
    assert transport.samples() == []
    clock.now += 9.9
    publisher.pump()
    assert transport.samples() == []
    clock.now += 0.2
    publisher.pump()
    assert len(transport.samples()) == 3
    publisher.cycle()
    publisher.pump()  # one hold per reset, not forever
    assert len(transport.samples()) == 6


def test_an_ack_wakes_the_loop_only_when_it_waits_for_one(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport, max_inflight=2, replay_rate=1e9)
    transport.on_activity = publisher.on_ack
    publisher.cycle()
    publisher.pump()  # 2 of 3 in flight: the window is full
    assert not publisher._waits_for_acks(once=False)
    transport.ack_all()
    assert publisher.wake.is_set()  # room in the window: the loop must go on
    publisher.wake.clear()
    publisher.pump()  # the third goes
    assert not publisher._waits_for_acks(once=False)  # nothing waits for an ack now
    transport.ack_all()
    assert not publisher.wake.is_set()  # this one can wait for the next cycle ...
    assert publisher.cycle() == 3
    assert publisher.spool.depth == 3  # ... whose transaction deleted the 3 acknowledged


def test_an_ack_before_the_loop_waits_for_it_is_not_missed(tmp_path: Path) -> None:
    transport = FakeTransport()
    publisher, _ = make(tmp_path, transport, max_inflight=2, replay_rate=1e9)
    transport.on_activity = publisher.on_ack
    publisher.cycle()
    publisher.pump()  # the window is full
    publisher._ack_wakeups = False  # as a previous wait left it
    transport.ack_all()  # so this woke nobody
    assert not publisher.wake.is_set()
    assert publisher._waits_for_acks(once=False)  # the loop takes them instead of sleeping
    publisher.pump()
    assert len(transport.samples()) == 3
