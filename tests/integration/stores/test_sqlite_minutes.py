"""SQLite minute rollups kept up to date incrementally equal a recompute from raw, always."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from schemas import InterfaceSample
from stores.buckets import MINUTE_MS
from stores.sqlite import SqliteStore
from stores.sqlite_chunk_io import settle
from stores.sqlite_chunks import raw_rows, unpack
from stores.sqlite_many import execute_rows
from stores.sqlite_rollup import fold_fresh, raw_agg
from stores.sqlite_rows import RAW_AGG, REPLACE_RAW, encode_row
from stores.sqlite_schema import migrate
from tests.integration.stores.contract_data import HOST, at, s

pytestmark = pytest.mark.integration

BIG = 2**63
Row = tuple[Any, ...]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a fresh database file."""
    return tmp_path / "ifpulse.db"


@pytest.fixture(params=[0, 1], ids=["rows", "chunks"])
def store(db: Path, request: pytest.FixtureRequest) -> Iterator[SqliteStore]:
    """A SqliteStore on that file: raw rows only, or chunks wherever a batch allows."""
    opened = SqliteStore.from_url(f"sqlite:///{db}?chunk_min={request.param}")
    yield opened
    opened.close()


def all_raw(conn: sqlite3.Connection) -> None:
    """A temporary table `every` of every stored sample as a raw row: raw rows and chunks."""
    conn.execute("CREATE TEMP TABLE every AS SELECT * FROM raw")
    chunks = conn.execute("SELECT sid, t0, data FROM chunk ORDER BY sid, t0").fetchall()
    if chunks:
        rows = [encode_row(r) for r in raw_rows(unpack(chunks))]
        execute_rows(conn, "INSERT INTO every", rows)


def m1_rows(db: Path, recompute: bool) -> list[Row]:
    """m1 as stored (its m1_fresh rows moved in first, as maintain() does, and the samples of
    pending chunks added, as retention does; then rolled back), or as a from-scratch
    recompute from every stored sample would make it."""
    with sqlite3.connect(db) as conn:
        if not recompute:
            fold_fresh(conn, -(2**62), 2**62)
            settle(conn, 2**62)
            found = conn.execute("SELECT * FROM m1 ORDER BY sid, t").fetchall()
            conn.rollback()
            return found
        all_raw(conn)
        return conn.execute(
            f"SELECT sid, ts / {MINUTE_MS} * {MINUTE_MS}, {RAW_AGG} FROM every "
            f"GROUP BY sid, ts / {MINUTE_MS} ORDER BY sid, ts / {MINUTE_MS}"
        ).fetchall()


def assert_m1_exact(db: Path, rows: int) -> None:
    """Stored m1 equals the recompute, and `rows` samples are stored (once each)."""
    with sqlite3.connect(db) as conn:
        all_raw(conn)
        assert conn.execute("SELECT count(*) FROM every").fetchone()[0] == rows
        keys = conn.execute("SELECT count(*) FROM (SELECT DISTINCT ts, sid FROM every)")
        assert keys.fetchone()[0] == rows
    stored, expected = m1_rows(db, False), m1_rows(db, True)
    assert len(stored) == len(expected) > 0
    for got, want in zip(stored, expected, strict=True):
        assert got == pytest.approx(want), (got, want)


def minute(
    start: int, ifaces: Sequence[str] = ("eth0", "wlan0"), **kw: Any
) -> list[InterfaceSample]:
    """Six 10 s samples per interface from BASE+start seconds."""
    return [s(start + t, i, **kw) for t in range(0, 60, 10) for i in ifaces]


def test_fresh_batches_add_up(store: SqliteStore, db: Path) -> None:
    store.write_batch(minute(0)[:5])
    store.write_batch(minute(0)[5:] + minute(60))
    assert_m1_exact(db, 24)


def test_same_batch_twice_counts_once(store: SqliteStore, db: Path) -> None:
    batch = minute(0) + minute(60)
    store.write_batch(batch)
    store.write_batch(batch)
    assert_m1_exact(db, 24)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT sum(n) FROM m1").fetchone()[0] == 24


def test_overlapping_batch_counts_once(store: SqliteStore, db: Path) -> None:
    store.write_batch(minute(0) + minute(60))
    store.write_batch(minute(60) + minute(120))
    assert_m1_exact(db, 36)


def test_duplicates_inside_one_batch_count_once(store: SqliteStore, db: Path) -> None:
    batch = minute(0)
    store.write_batch(batch + batch[:4])
    assert_m1_exact(db, 12)


def test_duplicate_keeps_last_write(store: SqliteStore, db: Path) -> None:
    store.write_batch([s(0, rx=1000)])
    store.write_batch([s(0, rx=7)])
    assert_m1_exact(db, 1)
    assert [x.delta.rx_bytes for x in store.samples(HOST, "eth0", at(0), at(10))] == [7]


def test_late_sample_into_an_existing_minute(store: SqliteStore, db: Path) -> None:
    store.write_batch([x for x in minute(0) if x.ts != at(30)])
    store.write_batch([s(30, "eth0", rx=5000), s(30, "wlan0", rx=None)])
    assert_m1_exact(db, 12)


def test_deltas_of_2_63_and_more_are_left_out(store: SqliteStore, db: Path) -> None:
    big = {"rx_bytes": BIG, "tx_bytes": 2**64 - 1, "rx_errors": BIG, "tx_dropped": 5}
    store.write_batch([s(0)])
    store.write_batch([s(10, delta=big), s(20)])
    store.write_batch([s(70, delta={"rx_bytes": BIG - 1})])
    assert_m1_exact(db, 4)


def test_all_null_deltas_and_rates(store: SqliteStore, db: Path) -> None:
    store.write_batch(minute(0, rx=None, tx=None))
    store.write_batch([*minute(60, rx=None), s(120, delta={})])
    store.write_batch([s(130, rx=None, tx=None)])
    assert_m1_exact(db, 26)
    first = min(m1_rows(db, False), key=lambda row: (row[1], row[0]))
    assert first[3:] == (None, None, None, None, 0, 0, None, 0, None, None, 0, None)


def raw_row(ts: int, hot: tuple[int | None, ...], rx: float | None, tx: float | None) -> Row:
    """A raw row (RAW_COLUMNS order, not encoded) of series 1 with these deltas and rates."""
    return (ts, 1, *hot, rx, tx, 0, 0, None, None, 1, 10.0, 1, *[0] * 10)


def test_python_aggregate_matches_sql_on_edge_rows() -> None:
    rows = [
        raw_row(0, (None, BIG, 3, None, BIG + 1, 2, None, 0), None, 1.5),
        raw_row(1, (5, 2**64 - 1, None, None, 1, None, None, 0), None, 2.5),
        raw_row(2, (7, 1, None, None, 0, None, None, 0), None, 0.25),
    ]
    with sqlite3.connect(":memory:", isolation_level=None) as conn:
        migrate(conn)
        execute_rows(conn, REPLACE_RAW, [encode_row(r) for r in rows])
        want = conn.execute(f"SELECT {RAW_AGG} FROM raw").fetchone()
    assert raw_agg(rows) == want


@pytest.mark.parametrize(
    "row",
    [
        raw_row(0, (1, 2, 3, 4, 5, 6, 7, 8), 1.5, 0.0),  # the usual live row: the fast path
        raw_row(0, (0, 0, 0, 0, 0, 0, 0, 0), 0, 3),  # integer rates
        raw_row(0, (1, 2, 3, 4, 5, 6, 7, 8), None, 2.5),
        raw_row(0, (None, 2, 3, 4, 5, 6, 7, 8), 1.0, 2.5),
        raw_row(0, (1, BIG, 3, 4, 5, 6, 7, 8), 1.0, 2.5),
        raw_row(0, (BIG - 1, 2**64 - 1, 3, 4, BIG, 6, 7, 8), 1.0, 2.5),
    ],
)
def test_python_aggregate_of_one_row_matches_sql(row: Row) -> None:
    with sqlite3.connect(":memory:", isolation_level=None) as conn:
        migrate(conn)
        execute_rows(conn, REPLACE_RAW, [encode_row(row)])
        want = conn.execute(f"SELECT {RAW_AGG} FROM raw").fetchone()
    got = raw_agg([row])
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]
