"""The Store contract, against every implementation on real servers (TS0179 TC009, TC017-22)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas import Cleared, HostState, InterfaceSample
from stores import Bucket, SeriesResult, Store
from tests.integration.stores.contract_data import BASE, HOST, alert, at, s, status

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def now() -> datetime:
    """Wall-clock now, for maintain()."""
    return datetime.now(UTC)


def minutes(n: int, ifaces: tuple[str, ...] = ("eth0",), **kw: object) -> list[InterfaceSample]:
    """n minutes of 10 s samples for each interface."""
    return [s(t, i, **kw) for t in range(0, n * 60, 10) for i in ifaces]  # type: ignore[arg-type]


def sums(result: list[Bucket]) -> tuple[int, int, int, int, int, int]:
    """Totals of the countable fields over all buckets."""
    return (
        sum(b.rx_bytes for b in result),
        sum(b.tx_bytes for b in result),
        sum(b.rx_packets for b in result),
        sum(b.tx_packets for b in result),
        sum(b.errors for b in result),
        sum(b.drops for b in result),
    )


# --- writes -------------------------------------------------------------------------------


def test_write_is_idempotent(store: Store) -> None:
    batch = minutes(10, ("eth0", "wlan0"))
    store.write_batch(batch)
    first = (store.series(HOST, None, at(0), at(600), MINUTE), store.latest(HOST))
    store.write_batch(batch)
    store.write_batch(list(reversed(batch[:30])))
    store.maintain(now())
    assert (store.series(HOST, None, at(0), at(600), MINUTE), store.latest(HOST)) == first
    assert len(list(store.samples(HOST, None, at(0), at(600)))) == len(batch)
    assert sums(first[0].total)[0] == 1000 * len(batch)


def test_mixed_and_empty_batches(store: Store) -> None:
    store.write_batch([])
    store.write_batch([s(0), status(), alert()])
    assert [i.iface for i in store.latest(HOST)] == ["eth0"]
    assert store.alerts(HOST)[0].iface == "eth0"
    record = store.host(HOST)
    assert record is not None and record.state is HostState.ONLINE


# --- latest -------------------------------------------------------------------------------


def test_latest_one_per_interface_ordered_and_exact(store: Store) -> None:
    batch = [s(t, i) for t in (0, 10, 20) for i in ("wlan0", "eth0", "docker0")]
    store.write_batch(batch)
    got = store.latest(HOST)
    assert [x.iface for x in got] == ["docker0", "eth0", "wlan0"]
    assert got == [s(20, "docker0"), s(20, "eth0"), s(20, "wlan0")]


def test_latest_newest_wins_even_if_older_arrives_later(store: Store) -> None:
    store.write_batch([s(100, is_up=False, oper_state="down")])
    store.write_batch([s(50), s(90)])
    (got,) = store.latest(HOST)
    assert got.ts == at(100)
    assert got.is_up is False
    store.write_batch([s(110)])
    assert store.latest(HOST)[0].ts == at(110)


def test_unknown_host_is_empty_not_an_error(store: Store) -> None:
    store.write_batch([s(0)])
    assert store.host("nohost") is None
    assert store.latest("nohost") == []
    assert store.series("nohost", None, at(0), at(60), MINUTE) == SeriesResult(total=[])
    assert list(store.samples("nohost", None, at(0), at(60))) == []


# --- series (TC017-TC022) -----------------------------------------------------------------


def test_series_of_one_interface(store: Store) -> None:
    """TC017/TC020: interface data only, several points over the range."""
    store.write_batch(minutes(10, ("eth0",), rx=1000) + minutes(10, ("wlan0",), rx=7, tx=3))
    result = store.series(HOST, "eth0", at(0), at(600), MINUTE)
    assert result.interfaces == {}
    assert [b.start for b in result.total] == [at(60 * m) for m in range(10)]
    for b in result.total:
        assert (b.rx_bytes, b.tx_bytes, b.rx_packets, b.tx_packets) == (6000, 3000, 60, 30)
        assert b.rx_bytes_per_sec == pytest.approx(100.0)
        assert b.tx_bytes_per_sec_max == pytest.approx(50.0)


def test_series_host_total_and_each_interface_unmixed(store: Store) -> None:
    """TC018: separate series per interface, named by interface; the total adds them up."""
    store.write_batch(minutes(5, ("eth0",), rx=1000) + minutes(5, ("wlan0",), rx=200, tx=100))
    result = store.series(HOST, None, at(0), at(300), MINUTE)
    assert sorted(result.interfaces) == ["eth0", "wlan0"]
    eth0, wlan0 = result.interfaces["eth0"], result.interfaces["wlan0"]
    assert {b.rx_bytes for b in eth0} == {6000}
    assert {b.rx_bytes for b in wlan0} == {1200}
    assert eth0 == store.series(HOST, "eth0", at(0), at(300), MINUTE).total
    assert len(result.total) == 5
    for b in result.total:
        assert (b.rx_bytes, b.tx_bytes) == (7200, 3600)
        assert b.rx_bytes_per_sec == pytest.approx(120.0)
        assert b.rx_bytes_per_sec_max == pytest.approx(120.0)


def test_unknown_interface_is_empty(store: Store) -> None:
    """TC022."""
    store.write_batch(minutes(3))
    assert store.series(HOST, "wlan0", at(0), at(180), MINUTE) == SeriesResult(total=[])
    assert list(store.samples(HOST, "wlan0", at(0), at(180))) == []


def test_period_is_half_open_and_older_data_excluded(store: Store) -> None:
    """TC021: 48 h of data; the last hour holds exactly the samples in [start, end)."""
    store.write_batch([s(t) for t in range(0, 48 * 3600 + 1, 300)])
    store.maintain(now())
    start, end = at(47 * 3600), at(48 * 3600)
    result = store.series(HOST, "eth0", start, end, MINUTE)
    assert [b.start for b in result.total] == [at(47 * 3600 + 300 * k) for k in range(12)]
    assert sums(result.total)[0] == 12 * 1000
    hourly = store.series(HOST, "eth0", start, end, HOUR).total
    assert [(b.start, b.rx_bytes) for b in hourly] == [(start, 12 * 1000)]


def test_unaligned_start_cuts_the_first_bucket(store: Store) -> None:
    store.write_batch(minutes(3))
    result = store.series(HOST, "eth0", at(30), at(150), MINUTE).total
    # [30 s, 150 s): 3 samples in minute 0, 6 in minute 1, 3 in minute 2 (120..140 s).
    assert [(b.start, b.rx_bytes) for b in result] == [
        (at(0), 3000),
        (at(60), 6000),
        (at(120), 3000),
    ]


def test_bucket_values(store: Store) -> None:
    """Bytes: sum of non-null deltas; rate: mean of the samples' rates, and max; errors; drops."""
    store.write_batch(
        [
            s(0, rx=100, tx=10, errors=1, drops=2),
            s(10, rx=None, tx=None),
            s(20, rx=300, tx=30, errors=2),
            s(30, rx=800, tx=80, drops=5, interval=20.0),
        ]
    )
    (b,) = store.series(HOST, "eth0", at(0), at(60), MINUTE).total
    assert (b.rx_bytes, b.tx_bytes, b.rx_packets, b.tx_packets) == (1200, 120, 12, 0)
    assert (b.errors, b.drops) == (2 * (1 + 2), 2 + 5)
    assert b.rx_bytes_per_sec == pytest.approx((10 + 30 + 40) / 3)
    assert b.rx_bytes_per_sec_max == pytest.approx(40.0)
    assert b.tx_bytes_per_sec == pytest.approx((1 + 3 + 4) / 3)


def test_buckets_without_data_are_absent(store: Store) -> None:
    store.write_batch([s(0), s(70), s(310)])
    result = store.series(HOST, "eth0", at(0), at(600), MINUTE).total
    assert [b.start for b in result] == [at(0), at(60), at(300)]
    assert store.series(HOST, "eth0", at(600), at(1200), MINUTE).total == []
    # An interface without data in the range is absent too, not an empty list.
    store.write_batch([s(900, "wlan0")])
    assert sorted(store.series(HOST, None, at(0), at(600), MINUTE).interfaces) == ["eth0"]


def test_raw_minute_and_hour_steps_agree(store: Store) -> None:
    """Whichever table a step reads, totals are the same; also with unaligned edges."""
    batch = minutes(180, ("eth0", "wlan0"), errors=1, drops=1)
    random.Random(5).shuffle(batch)
    store.write_batch(batch[: len(batch) // 2])
    store.maintain(now())
    store.write_batch(batch[len(batch) // 2 :])
    store.maintain(now())
    for start, end in ((at(0), at(3 * 3600)), (at(25), at(3 * 3600 - 35)), (at(7200), at(7230))):
        expected = sums(store.series(HOST, None, start, end, timedelta(seconds=10)).total)
        for step in (MINUTE, timedelta(seconds=90), 2 * MINUTE, HOUR, 3 * HOUR):
            got = store.series(HOST, None, start, end, step)
            assert sums(got.total) == expected, (start, end, step)
            assert sum(b.rx_bytes for b in got.interfaces["wlan0"]) == expected[0] // 2
    hourly = store.series(HOST, "eth0", at(0), at(3 * 3600), HOUR).total
    assert [(b.start, b.rx_bytes) for b in hourly] == [(at(h * 3600), 360 * 1000) for h in range(3)]
    assert hourly[0].rx_bytes_per_sec == pytest.approx(100.0)


def test_late_sample_updates_rolled_up_history(store: Store) -> None:
    store.write_batch([s(t) for t in range(0, 7200, 10) if t != 1800])
    store.maintain(now())
    before = store.series(HOST, "eth0", at(0), at(7200), HOUR).total[0].rx_bytes
    store.write_batch([s(1800, rx=5000)])
    store.maintain(now())
    after = store.series(HOST, "eth0", at(0), at(7200), HOUR).total[0].rx_bytes
    assert after == before + 5000


# --- hostile identifiers ------------------------------------------------------------------

HOSTILE_IFACES = [
    "';DROP_TABLE--",
    "a'b",
    'a"b',
    "back\\slash",
    "100%",
    "%_*?",
    "ünï",
    "é€😀",
    "wg+1",
    "x#y",
    "$(rm)",
    "a,b=c",
    "select",
]
HOSTILE_HOSTS = ["..", "-", "a.b-c_d", "SELECT"]


def test_hostile_interface_and_host_names_round_trip(store: Store) -> None:
    batch = [s(t, i, h) for t in (0, 10) for i in HOSTILE_IFACES for h in HOSTILE_HOSTS]
    store.write_batch(batch)
    for h in HOSTILE_HOSTS:
        assert [x.iface for x in store.latest(h)] == sorted(HOSTILE_IFACES)
        record = store.host(h)
        assert record is not None and record.interfaces == tuple(sorted(HOSTILE_IFACES))
        per_iface = store.series(h, None, at(0), at(60), MINUTE).interfaces
        assert sorted(per_iface) == sorted(HOSTILE_IFACES)
        for i in HOSTILE_IFACES:
            (b,) = store.series(h, i, at(0), at(60), MINUTE).total
            assert b.rx_bytes == 2000
            assert [x.iface for x in store.samples(h, i, at(0), at(60))] == [i, i]
    assert [r.id for r in store.hosts()] == sorted(HOSTILE_HOSTS)


@pytest.mark.parametrize(
    "name", ["'; DROP TABLE series; --", '" OR 1=1 --', "x' OR '1'='1", "%", "_", "\\", "*"]
)
def test_hostile_names_in_queries_match_nothing(store: Store, name: str) -> None:
    store.write_batch([s(0, "eth0"), s(0, "b", "a")])  # "_" or "%" as a pattern would match
    assert store.host(name) is None
    assert store.latest(name) == []
    assert store.series(name, None, at(0), at(60), MINUTE) == SeriesResult(total=[])
    assert store.series(HOST, name, at(0), at(60), MINUTE) == SeriesResult(total=[])
    assert list(store.samples(name, None, at(0), at(60))) == []
    assert list(store.samples(HOST, name, at(0), at(60))) == []
    assert store.alerts(name) == []
    assert len(store.latest(HOST)) == 1


# --- registry (TC009) and alerts ----------------------------------------------------------


def test_registry(store: Store) -> None:
    store.write_batch([s(0, "wlan0"), s(30, "eth0"), status("h1", 5, version="1.0")])
    store.write_batch([status("h2", 40, version="2.0")])
    assert [h.id for h in store.hosts()] == ["h1", "h2"]
    h1 = store.host("h1")
    assert h1 is not None
    assert (h1.interfaces, h1.last_seen, h1.state) == (("eth0", "wlan0"), at(30), HostState.ONLINE)
    assert (h1.version, h1.interval_s, h1.spool_dropped) == ("1.0", 10.0, 3)
    h2 = store.host("h2")
    assert h2 is not None
    assert (h2.interfaces, h2.last_seen, h2.version) == ((), at(40), "2.0")
    assert store.latest("h2") == []
    assert store.hosts()[1] == h2


def test_newest_status_wins_and_the_will_goes_offline(store: Store) -> None:
    store.write_batch([s(0)])
    store.write_batch([status(sec=100, version="1.1")])
    store.write_batch([status(sec=50, version="1.0")])
    record = store.host(HOST)
    assert record is not None and (record.state, record.version) == (HostState.ONLINE, "1.1")
    store.write_batch([status(sec=None, state="offline", version="1.1")])
    record = store.host(HOST)
    assert record is not None and record.state is HostState.OFFLINE
    assert record.last_seen == at(0)


def test_host_with_samples_only_has_no_state(store: Store) -> None:
    store.write_batch([s(0)])
    record = store.host(HOST)
    assert record is not None
    assert (record.state, record.version, record.interfaces) == (None, None, ("eth0",))


def test_alerts_latest_per_interface(store: Store) -> None:
    store.write_batch([alert("eth0", sec=100), alert("wlan0", "h2", sec=5)])
    store.write_batch([alert("eth0", sec=50, active=False)])
    got = store.alerts()
    assert [(a.host, a.iface, a.active) for a in got] == [
        ("h1", "eth0", True),
        ("h2", "wlan0", True),
    ]
    assert got[0] == alert("eth0", sec=100)
    store.write_batch([alert("eth0", sec=200, active=False)])
    assert [(a.iface, a.active) for a in store.alerts("h1")] == [("eth0", False)]
    assert store.alerts("h3") == []


def test_a_cleared_alert_is_gone_and_older_ones_stay_hidden(store: Store) -> None:
    # An empty retained message on the alert topic: decode() makes a Cleared of it.
    store.write_batch([alert("eth0", sec=100), alert("wlan0", sec=100)])
    store.write_batch([Cleared(host=HOST, iface="eth0", at=at(150))])
    assert [a.iface for a in store.alerts()] == ["wlan0"]
    # A redelivered alert that began before the clear stays hidden; a newer one shows.
    store.write_batch([alert("eth0", sec=120)])
    assert [a.iface for a in store.alerts(HOST)] == ["wlan0"]
    store.write_batch([alert("eth0", sec=200)])
    assert store.alerts(HOST) == [alert("eth0", sec=200), alert("wlan0", sec=100)]
    # Clearing what never existed, or a host's status, stores nothing visible.
    store.write_batch([Cleared(host="h9", iface="x", at=at(1)), Cleared(host=HOST, at=at(300))])
    assert [a.iface for a in store.alerts()] == ["eth0", "wlan0"]
    assert store.host("h9") is None


# --- samples (export) ---------------------------------------------------------------------


def test_samples_in_time_order_filtered_and_half_open(store: Store) -> None:
    batch = minutes(3, ("eth0", "wlan0")) + [s(t, "eth0", "h2") for t in range(0, 180, 10)]
    random.Random(1).shuffle(batch)
    store.write_batch(batch)
    got = list(store.samples(HOST, "eth0", at(10), at(100)))
    assert got == [s(t) for t in range(10, 100, 10)]
    both = list(store.samples(HOST, None, at(0), at(180)))
    assert [x.ts for x in both] == sorted(x.ts for x in both)
    assert sorted(both, key=lambda x: (x.ts, x.iface)) == minutes(3, ("eth0", "wlan0"))
    everyone = list(store.samples(None, None, at(0), at(180)))
    assert len(everyone) == len(batch)
    assert [x.ts for x in everyone] == sorted(x.ts for x in everyone)
    assert {x.host for x in store.samples(None, "eth0", at(0), at(180))} == {"h1", "h2"}


def test_ping_and_maintain_on_an_empty_store(store: Store) -> None:
    store.ping()
    store.maintain(now())
    assert store.hosts() == []
    assert store.alerts() == []
    assert now() > BASE
