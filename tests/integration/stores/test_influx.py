"""InfluxStore against a real influxd 1.6.7: round trips, hostile names, rollups, failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas import AlertState, HostStatus, InterfaceSample
from stores.base import BatchRejected, StoreUnavailable
from stores.influx import InfluxStore
from stores.influx_lp import to_ms
from stores.influx_url import parse_url
from stores.influx_write import RetryPolicy
from tests.factories import sample
from tests.services.influxd import Influxd

pytestmark = pytest.mark.integration

HOSTILE = ["eth0", "we,i=rd", "q'uo\"te", "back\\", "a\\,b", "wg+1", "x'OR'1'='1"]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(influxd: Influxd, unique: str) -> Iterator[InfluxStore]:
    s = InfluxStore(parse_url(influxd.store_url(unique), env={}))
    yield s
    s.close()


def run(
    host: str, iface: str, start: datetime, n: int, every_s: float = 10.0, **kw: object
) -> list[InterfaceSample]:
    """n consecutive samples, 100 rx bytes per interval (none on the first)."""
    out = []
    for i in range(n):
        first = i == 0
        out.append(
            sample(
                host=host,
                iface=iface,
                ts=start + timedelta(seconds=every_s * i),
                seq=i,
                rx_bytes=1000 + 100 * i,
                interval_s=None if first else every_s,
                delta={} if first else {"rx_bytes": 100, "tx_bytes": 10, "rx_errors": 1},
                rx_bytes_per_sec=None if first else 100 / every_s,
                **kw,
            )
        )
    return out


def test_round_trip_latest_with_hostile_names_and_huge_counters(store: InfluxStore) -> None:
    msgs = [
        sample(iface=name, ts=NOW - timedelta(seconds=s), seq=s, rx_bytes=2**64 - 1 - s)
        for name in HOSTILE
        for s in (20, 10)
    ]
    store.write_batch(msgs)
    latest = store.latest("h1")
    assert [s.iface for s in latest] == sorted(HOSTILE)
    want = {m.iface: m for m in msgs if m.seq == 10}
    for got in latest:
        assert got == want[got.iface]


def test_write_is_idempotent(store: InfluxStore) -> None:
    batch = run("h1", "eth0", NOW - timedelta(minutes=5), 5)
    store.write_batch(batch)
    store.write_batch(batch)
    store.write_batch(batch[2:])
    got = list(store.samples("h1", None, NOW - timedelta(hours=1), NOW))
    assert got == batch


def test_samples_stream_in_time_order_and_filter(store: InfluxStore) -> None:
    store.chunk_size = 3
    a = run("h1", "eth0", NOW - timedelta(minutes=10), 7)
    b = run("h1", "q'uo\"te", NOW - timedelta(minutes=10, seconds=5), 7)
    c = run("h2", "eth0", NOW - timedelta(minutes=10), 3)
    store.write_batch(a + b + c)
    start, end = NOW - timedelta(hours=1), NOW
    both = list(store.samples("h1", None, start, end))
    assert [s.ts for s in both] == sorted(s.ts for s in a + b)
    assert list(store.samples("h1", "q'uo\"te", start, end)) == b
    assert len(list(store.samples(None, None, start, end))) == 17
    assert list(store.samples("h1", "x'OR'1'='1", start, end)) == []


def test_hosts_statuses_and_wills(store: InfluxStore) -> None:
    store.write_batch(run("h1", "eth0", NOW - timedelta(minutes=1), 2))
    online = HostStatus.model_validate(
        {
            "host": "h1",
            "state": "online",
            "ts": NOW,
            "version": '0.1 "b\\',
            "interval_s": 10,
            "spool_dropped": 4,
        },
        strict=False,
    )
    will = HostStatus.model_validate(
        {"host": "h2", "state": "offline", "version": "0.1", "interval_s": 5}, strict=False
    )
    store.write_batch([online, will])
    hosts = store.hosts()
    assert [h.id for h in hosts] == ["h1", "h2"]
    h1, h2 = hosts
    assert h1.state == "online" and h1.version == '0.1 "b\\' and h1.spool_dropped == 4
    assert h1.interfaces == ("eth0",) and h1.interval_s == 10.0
    assert h1.last_seen == NOW - timedelta(minutes=1) + timedelta(seconds=10)
    assert h2.state == "offline" and h2.last_seen is None and h2.interfaces == ()
    assert store.host("h1") == h1
    assert store.host("nope") is None
    assert store.host("h1' OR host =~ /.*/ OR host='") is None


def test_alerts_latest_per_interface(store: InfluxStore) -> None:
    def alert(iface: str, active: bool, minutes: int, host: str = "h1") -> AlertState:
        return AlertState.model_validate(
            {
                "host": host,
                "iface": iface,
                "active": active,
                "reason": "errs 'x'\n",
                "since": NOW - timedelta(minutes=minutes),
                "errors_per_sec": 2.5,
            },
            strict=False,
        )

    store.write_batch(
        [
            alert("back\\", True, 10),
            alert("back\\", False, 5),
            alert("eth0", True, 1),
            alert("eth0", True, 3, host="h2"),
        ]
    )
    got = store.alerts("h1")
    assert [(a.iface, a.active) for a in got] == [("back\\", False), ("eth0", True)]
    assert got[1] == alert("eth0", True, 1)
    assert len(store.alerts()) == 3


def test_series_raw_buckets_per_interface_and_total(store: InfluxStore) -> None:
    # A day ahead of the clock: newer than any rollup, so the store reads raw. (A fixed date
    # here fell out of the raw retention policy once the calendar passed it.)
    start = (NOW + timedelta(days=1)).replace(second=0)
    store.write_batch(run("h1", "eth0", start, 12) + run("h1", "a\\,b", start, 6))
    res = store.series("h1", None, start, start + timedelta(minutes=5), timedelta(seconds=30))
    assert list(res.interfaces) == sorted(["eth0", "a\\,b"])
    eth = res.interfaces["eth0"]
    assert [b.start for b in eth] == [start + timedelta(seconds=30 * i) for i in range(4)]
    assert [b.rx_bytes for b in eth] == [200, 300, 300, 300]
    assert eth[1].rx_bytes_per_sec == pytest.approx(10.0)
    assert eth[0].errors == 2 and eth[1].tx_bytes == 30
    assert [b.rx_bytes for b in res.total] == [400, 600, 300, 300]
    one = store.series("h1", "a\\,b", start, start + timedelta(hours=1), timedelta(minutes=1))
    assert [b.rx_bytes for b in one.total] == [500] and one.interfaces == {}
    empty = store.series(
        "h1", "x'OR'1'='1", start, start + timedelta(hours=1), timedelta(minutes=1)
    )
    assert empty.total == []


@pytest.mark.parametrize("step", [timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1)])
def test_rollups_agree_with_raw_for_late_data(
    store: InfluxStore, influxd: Influxd, unique: str, step: timedelta
) -> None:
    # Samples from ~3 h ago arrive late (an emptied spool): the store rolls them up itself.
    start = (NOW - timedelta(hours=3)).replace(minute=50, second=0)
    store.write_batch(run("h1", "eth0", start, 90) + run("h1", "we,i=rd", start, 45, 20.0))
    lo, hi = start - timedelta(hours=1), start + timedelta(hours=2)
    rolled = store.series("h1", None, lo, hi, step)
    # The same store seen from a clock before the data: every bucket read from raw.
    early = InfluxStore(parse_url(influxd.store_url(unique), env={}), clock=lambda: lo)
    raw = early.series("h1", None, lo, hi, step)
    assert rolled.total and rolled.total[0].start <= start
    assert sum(b.rx_bytes for b in rolled.total) == 89 * 100 + 44 * 100
    assert sum(b.errors for b in rolled.total) == 89 + 44
    assert rolled == raw
    level = "rollup_1h" if step == timedelta(hours=1) else "rollup_1m"
    measurement = level.replace("rollup", "interface")
    got = store._http.query(f'SELECT sum("n") FROM "{unique}"."{level}"."{measurement}"', unique)
    assert got[0]["series"][0]["values"][0][1] == 135


@pytest.mark.parametrize("step", [timedelta(minutes=1), timedelta(hours=1)])
def test_rollups_agree_with_raw_for_late_data_in_many_batches(
    store: InfluxStore, influxd: Influxd, unique: str, step: timedelta
) -> None:
    # A replayed backlog: late samples come in batches cut mid-minute and mid-hour; each
    # batch recomputes only its own minutes, which must still hold the earlier batches' part.
    start = (NOW - timedelta(hours=3)).replace(minute=50, second=0)
    samples = run("h1", "eth0", start, 90) + run("h1", "we,i=rd", start, 45, 20.0)
    samples.sort(key=lambda x: x.ts)
    for lo, hi in ((0, 7), (7, 61), (61, 100), (100, len(samples))):
        store.write_batch(samples[lo:hi])
    lo_t, hi_t = start - timedelta(hours=1), start + timedelta(hours=2)
    rolled = store.series("h1", None, lo_t, hi_t, step)
    early = InfluxStore(parse_url(influxd.store_url(unique), env={}), clock=lambda: lo_t)
    assert rolled == early.series("h1", None, lo_t, hi_t, step)
    assert sum(b.rx_bytes for b in rolled.total) == 89 * 100 + 44 * 100


def test_rollup_tail_reads_raw_for_fresh_data(store: InfluxStore) -> None:
    start = NOW - timedelta(minutes=3)
    store.write_batch(run("h1", "eth0", start, 10))
    res = store.series(
        "h1", "eth0", NOW - timedelta(hours=2), NOW + timedelta(hours=1), timedelta(hours=1)
    )
    assert sum(b.rx_bytes for b in res.total) == 900


def test_database_rps_and_cqs_created(store: InfluxStore, influxd: Influxd, unique: str) -> None:
    store.ping()
    store.write_batch([])
    http = store._http
    rps = http.query(f'SHOW RETENTION POLICIES ON "{unique}"')[0]["series"][0]["values"]
    durations = {r[0]: r[1] for r in rps}
    assert durations["raw"] == "168h0m0s"
    assert durations["rollup_1m"] == "2160h0m0s"
    assert durations["rollup_1h"] == "17520h0m0s"
    assert durations["meta"] == "0s"
    cqs = http.query("SHOW CONTINUOUS QUERIES")[0]["series"]
    names = [row[0] for s in cqs if s["name"] == unique for row in s["values"]]
    assert sorted(names) == ["ifpulse_interface_1h", "ifpulse_interface_1m"]
    # A second store on the same database (restart) re-applies without error.
    again = InfluxStore(parse_url(influxd.store_url(unique) + "?retention_raw=3d", env={}))
    again.write_batch([])
    rps = http.query(f'SHOW RETENTION POLICIES ON "{unique}"')[0]["series"][0]["values"]
    assert {r[0]: r[1] for r in rps}["raw"] == "72h0m0s"


def test_field_type_conflict_is_batch_rejected(store: InfluxStore, unique: str) -> None:
    store.write_batch([])
    ms = to_ms(NOW)
    bad = f'interface,host=h1,interface=eth0,kind=ethernet seq="text" {ms}'.encode()
    assert store._http.write_v1(bad, unique, "raw").status == 204
    with pytest.raises(BatchRejected, match="conflict"):
        store.write_batch([sample(ts=NOW + timedelta(seconds=1))])


def test_unavailable_while_down_then_recovers(influxd_factory: Callable[[], Influxd]) -> None:
    server = influxd_factory()
    fast = RetryPolicy(attempts=2, backoff_s=0.05)
    store = InfluxStore(parse_url(server.store_url("db1"), env={}), retry=fast)
    store.write_batch(run("h1", "eth0", NOW - timedelta(minutes=2), 2))
    server.stop()
    with pytest.raises(StoreUnavailable):
        store.write_batch(run("h1", "eth0", NOW - timedelta(minutes=1), 2))
    with pytest.raises(StoreUnavailable):
        store.latest("h1")
    with pytest.raises(StoreUnavailable):
        store.ping()
    server.start()
    store.write_batch(run("h1", "eth0", NOW - timedelta(minutes=1), 2))
    assert store.latest("h1")[0].ts == NOW - timedelta(minutes=1) + timedelta(seconds=10)


def test_unavailable_at_first_use_then_connects(influxd_factory: Callable[[], Influxd]) -> None:
    server = influxd_factory()
    server.stop()
    store = InfluxStore(parse_url(server.store_url("db2"), env={}))
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.hosts()
    server.start()
    assert store.hosts() == []


def test_api_auto_picks_v1_write_on_1_6_and_forced_v2_fails_clearly(
    influxd: Influxd, unique: str
) -> None:
    auto = InfluxStore(parse_url(influxd.store_url(unique), env={}))
    auto.write_batch([sample(ts=NOW)])
    conn = auto._ready()
    assert conn.layout.rollups and not conn.closers  # 1.6.7: RPs + CQs, stdlib /write
    v1 = InfluxStore(parse_url(influxd.store_url(unique) + "?api=v1", env={}))
    assert v1.latest("h1") == [sample(ts=NOW)]
    # 1.6.7 has no /api/v2/write: a 404 is the operator's to fix, not the batch's fault.
    v2 = InfluxStore(
        parse_url(influxd.store_url(unique) + "?api=v2", env={}),
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(StoreUnavailable, match="404"):
        v2.write_batch([sample(ts=NOW)])
    v2.close()
