"""SQLite-only behaviour: WAL, schema versions, locks, other processes, rollups and retention."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from stores import StoreUnavailable, UnsupportedSchema, open_store
from stores.sqlite import SqliteStore
from stores.sqlite_schema import VERSION
from tests.integration.stores.contract_data import HOST, at, s

pytestmark = pytest.mark.integration

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a database file that does not exist yet (nor its directory)."""
    return tmp_path / "deep" / "dir" / "ifpulse.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteStore]:
    """A SqliteStore with a short busy timeout, so lock tests stay fast."""
    opened = SqliteStore.from_url(f"sqlite:///{db}?busy_timeout=1s")
    yield opened
    opened.close()


def test_creates_dirs_wal_and_schema_version(store: SqliteStore, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_reopening_keeps_data(store: SqliteStore, db: Path) -> None:
    store.write_batch([s(0)])
    store.close()
    again = open_store(f"sqlite:///{db}")
    try:
        assert again.latest(HOST) == [s(0)]
    finally:
        again.close()


def test_newer_schema_is_refused_untouched(store: SqliteStore, db: Path) -> None:
    store.write_batch([s(0)])
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(UnsupportedSchema, match=f"version {VERSION + 1} is newer"):
        SqliteStore.from_url(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION + 1
        assert conn.execute("SELECT count(*) FROM raw").fetchone()[0] == 1


def test_lock_held_elsewhere_is_unavailable_then_recovers(store: SqliteStore, db: Path) -> None:
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.write_batch([s(0)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.write_batch([s(0)])
    assert len(store.latest(HOST)) == 1


def test_another_process_reads_while_this_one_writes(store: SqliteStore, db: Path) -> None:
    store.write_batch([s(t) for t in range(0, 600, 10)])
    code = (
        "import sys; from stores import open_store; from datetime import timedelta;"
        "from tests.integration.stores.contract_data import at;"
        "st = open_store(sys.argv[1]);"
        "print(len(st.latest('h1')), len(st.series('h1', 'eth0', at(0), at(600), "
        "timedelta(minutes=1)).total)); st.close()"
    )
    reader = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parents[3],  # the repo root, so `tests` imports
    )
    assert reader.stdout.split() == ["1", "10"]
    store.write_batch([s(600)])  # the writer is not blocked by the reader having been there


def test_maintain_rolls_up_hours_in_slices(store: SqliteStore) -> None:
    store.write_batch([s(t, i) for t in range(0, 6 * 3600, 60) for i in ("eth0", "wlan0")])
    assert store.backlog() == 6
    store.maintain(at(7 * 3600), budget=timedelta(0))
    assert 0 < store.backlog() < 6
    store.maintain(at(7 * 3600))
    assert store.backlog() == 0
    hourly = store.series(HOST, "eth0", at(0), at(6 * 3600), HOUR).total
    assert [b.rx_bytes for b in hourly] == [60 * 1000] * 6


def test_an_hour_still_filling_is_rolled_up_once_it_has_ended(store: SqliteStore) -> None:
    store.write_batch([s(t) for t in range(0, 2 * 3600, 60)])
    store.maintain(at(3600 + 1800))  # in the middle of the second hour
    assert (store.backlog(at(3600 + 1800)), store.backlog()) == (0, 1)
    store.write_batch([s(t, "wlan0") for t in range(3600, 3600 + 1800, 60)])  # into it again
    # Its buckets come from the minutes meanwhile, the same as once it is rolled up.
    hourly = store.series(HOST, None, at(0), at(2 * 3600), HOUR)
    store.maintain(at(2 * 3600))
    assert store.backlog() == 0
    assert store.series(HOST, None, at(0), at(2 * 3600), HOUR) == hourly
    assert [b.rx_bytes for b in hourly.total] == [60 * 1000, 90 * 1000]


def test_minutes_added_after_their_hour_rolled_up_add_to_it(db: Path) -> None:
    # A minute is its m1 row plus what was added to it since (m1_fresh), until maintain()
    # moves that in: reads see the sum at every grain, before and after. Raw rows only
    # (chunk_min=0): a dense first batch would be a pending chunk, with no m1 rows at all.
    store = SqliteStore.from_url(f"sqlite:///{db}?chunk_min=0")
    try:
        store.write_batch([s(t) for t in range(0, 3600, 20) if t % 60 != 40])
        store.maintain(at(2 * 3600))
        store.write_batch([s(t) for t in range(40, 3600, 60)])  # late, into rolled-up minutes
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*), sum(n) FROM m1_fresh").fetchone() == (60, 60)
        reads = [store.series(HOST, "eth0", at(0), at(3600), step) for step in (MINUTE, HOUR)]
        assert {b.rx_bytes for b in reads[0].total} == {3 * 1000}
        assert [b.rx_bytes for b in reads[1].total] == [180 * 1000]
        store.maintain(at(2 * 3600))
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM m1_fresh").fetchone() == (0,)
            assert conn.execute("SELECT count(*), sum(n) FROM m1").fetchone() == (60, 180)
        again = [store.series(HOST, "eth0", at(0), at(3600), step) for step in (MINUTE, HOUR)]
        assert again == reads
    finally:
        store.close()


def _minute_rows(db: Path) -> tuple[tuple[int, int], tuple[int, int], int]:
    """(count, sum(n)) of m1 and of m1_fresh, and how many chunks are pending."""
    with sqlite3.connect(db) as conn:
        m1 = conn.execute("SELECT count(*), coalesce(sum(n), 0) FROM m1").fetchone()
        fresh = conn.execute("SELECT count(*), coalesce(sum(n), 0) FROM m1_fresh").fetchone()
        pending = conn.execute("SELECT count(*) FROM chunk WHERE pending").fetchone()[0]
    return m1, fresh, pending


def test_a_dense_batch_adds_to_its_minutes_only_when_its_chunk_goes(db: Path) -> None:
    # A pending chunk's samples are in no minute row: reads of every grain compute them
    # from the chunk, before and after maintain() rolls the hour up; a raw write into the
    # chunk's range adds them to m1_fresh; raw retention adds the rest to m1.
    url = f"sqlite:///{db}?retention_raw=1d&retention_1m=3d&retention_1h=10d"
    store = SqliteStore.from_url(url)
    grains = (timedelta(seconds=20), MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 2 * HOUR)

    def reads() -> list[list[int]]:
        found = [store.series(HOST, "eth0", at(0), at(2 * 3600), g).total for g in grains]
        return [[b.rx_bytes for b in buckets] for buckets in found]

    try:
        store.write_batch([s(t) for t in range(0, 2 * 3600, 20) if t % 60 != 40])
        assert _minute_rows(db) == ((0, 0), (0, 0), 2)
        before = reads()
        assert [sum(r) for r in before] == [240 * 1000] * len(grains)
        store.maintain(at(3 * 3600))
        assert store.backlog() == 0
        assert reads() == before
        store.write_batch([s(t) for t in range(40, 3600, 60)])  # into the first chunk's range
        assert _minute_rows(db) == ((0, 0), (60, 180), 1)
        late = reads()
        assert [sum(r) for r in late] == [300 * 1000] * len(grains)
        store.maintain(at(3 * 3600))
        assert _minute_rows(db) == ((60, 180), (0, 0), 1)
        assert reads() == late
        store.maintain(at(2 * 86400))  # past raw retention: the second hour's chunk goes
        assert _minute_rows(db) == ((120, 300), (0, 0), 0)
        assert reads()[1:] == late[1:]  # all but the 20 s one (raw) come from rollups
    finally:
        store.close()


def test_retention_drops_raw_but_rollups_keep_history(db: Path) -> None:
    url = f"sqlite:///{db}?retention_raw=1d&retention_1m=3d&retention_1h=10d"
    store = SqliteStore.from_url(url)
    try:
        store.write_batch([s(t) for t in range(0, 5 * 86400, 300)])
        store.maintain(at(5 * 86400))
        day = (at(0), at(86400))
        before = store.series(HOST, "eth0", *day, 6 * HOUR)
        for _ in range(50):
            store.maintain(at(5 * 86400))
        assert list(store.samples(HOST, "eth0", at(0), at(4 * 86400 - 300))) == []
        assert len(list(store.samples(HOST, "eth0", at(4 * 86400), at(5 * 86400)))) == 288
        # Day 0 is past raw and minute retention: hourly rollups still answer for it.
        assert store.series(HOST, "eth0", *day, 6 * HOUR) == before
        assert store.series(HOST, "eth0", *day, MINUTE).total == []
        # A late sample older than raw retention does not rewrite rolled-up history.
        store.write_batch([s(3600, rx=10**6)])
        store.maintain(at(5 * 86400))
        assert store.series(HOST, "eth0", *day, 6 * HOUR) == before
        assert store.latest(HOST)[0].ts == at(5 * 86400 - 300)
    finally:
        store.close()


def test_latest_outlives_the_raw_row_it_points_to(db: Path) -> None:
    # latest keeps the newest sample by reference to its raw row while there is one; an
    # interface gone quiet for longer than raw retention must still show its last sample.
    store = SqliteStore.from_url(f"sqlite:///{db}?retention_raw=1d")
    try:
        quiet, busy = s(0, iface="wlan0", rx_bytes=2**64 - 1), s(3 * 86400)
        store.write_batch([quiet, busy])
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM latest WHERE body = ''").fetchone()[0] == 2
        for _ in range(20):
            store.maintain(at(3 * 86400))
        assert list(store.samples(HOST, "wlan0", at(0), at(10))) == []
        assert store.latest(HOST) == [busy, quiet]
        with sqlite3.connect(db) as conn:
            bodies = dict(
                conn.execute("SELECT iface, body FROM latest JOIN series ON id = sid").fetchall()
            )
        assert bodies["wlan0"] != "" and bodies["eth0"] == ""
    finally:
        store.close()


def test_a_redelivered_newest_sample_is_read_as_last_written(store: SqliteStore) -> None:
    store.write_batch([s(0), s(10)])
    store.write_batch([s(10, rx=5000)])
    assert store.latest(HOST) == [s(10, rx=5000)]


def test_counters_beyond_signed_64_bits(store: SqliteStore) -> None:
    big = s(0, rx_bytes=2**64 - 1, tx_bytes=2**63)
    store.write_batch([big])
    assert list(store.samples(HOST, "eth0", at(0), at(10))) == [big]
    assert store.latest(HOST) == [big]


def test_deltas_adding_up_past_64_bits_in_one_batch_are_stored(store: SqliteStore) -> None:
    # Valid samples (a delta may be up to 2**64 - 1) whose minute sums an INTEGER column
    # cannot hold: raw rows (two samples), a chunk (twelve) and one sample's rx + tx errors.
    # The minutes keep such sums as floats, as SQL's own sums do past 2**63 - 1.
    big = {"rx_bytes": 2**62}
    store.write_batch([s(0, delta=big), s(10, delta=big)])
    store.write_batch([s(60 + 10 * k, "wlan0", delta=big) for k in range(12)])
    store.write_batch([s(0, "wg0", delta={"rx_errors": 2**63 - 1, "tx_errors": 2**63 - 1})])
    assert len(list(store.samples(HOST, None, at(0), at(3600)))) == 15
    minutes = store.series(HOST, None, at(0), at(3600), MINUTE).interfaces
    assert [b.rx_bytes for b in minutes["eth0"]] == [2**63]
    assert [b.rx_bytes for b in minutes["wlan0"]] == [6 * 2**62, 6 * 2**62]
    assert [b.errors for b in minutes["wg0"]] == [pytest.approx(2**64 - 2)]


def test_deltas_adding_up_past_64_bits_stop_no_rollup_or_read(store: SqliteStore) -> None:
    # Valid samples (no link moves 2**62 bytes, but the schema allows it) whose deltas add up
    # past SQLite's integer sum() in an hour, in a minute recomputed on a redelivery, and in
    # reads: those sums become floats instead of errors, and other hosts are rolled up too.
    big = {"rx_bytes": 2**62}
    store.write_batch([s(0, delta={"rx_bytes": 2**63 - 1}), s(0, host="other")])
    store.write_batch([s(10)])
    store.write_batch([s(10)])  # a redelivery: its minute is recomputed from raw rows
    store.write_batch([s(70, delta=big)])
    store.write_batch([s(130, delta=big)])  # two integer minutes the hour's sum() overflows
    store.maintain(at(2 * 3600))
    assert store.backlog() == 0
    for step in (MINUTE, 15 * MINUTE, HOUR):
        total = store.series(HOST, "eth0", at(0), at(3600), step).total
        assert sum(b.rx_bytes for b in total) == pytest.approx(2**64 + 999)
        assert {type(b.rx_bytes) for b in total} == {int}
    assert [b.rx_bytes for b in store.series("other", None, at(0), at(3600), HOUR).total] == [1000]
    assert len(list(store.samples(HOST, "eth0", at(0), at(3600)))) == 4


def test_readers_open_and_read_while_a_writer_holds_the_lock(store: SqliteStore, db: Path) -> None:
    store.write_batch([s(0)])
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        reader = SqliteStore.from_url(f"sqlite:///{db}?busy_timeout=1s")
        try:
            assert reader.latest(HOST) == [s(0)]
            assert len(list(reader.samples(HOST, None, at(0), at(10)))) == 1
        finally:
            reader.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_threads_share_one_store(store: SqliteStore) -> None:
    errors: list[BaseException] = []

    def write(iface: str) -> None:
        try:
            for t in range(0, 600, 10):
                store.write_batch([s(t, iface)])
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(100):
                store.series(HOST, None, at(0), at(600), MINUTE)
                list(store.samples(HOST, None, at(0), at(600)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"eth{i}",)) for i in range(3)]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    result = store.series(HOST, None, at(0), at(600), MINUTE)
    assert sorted(result.interfaces) == ["eth0", "eth1", "eth2"]
    assert sum(b.rx_bytes for b in result.total) == 3 * 60 * 1000
