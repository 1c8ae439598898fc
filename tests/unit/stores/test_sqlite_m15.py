"""The 15-minute rollup changes no answer: every step, fresh or stale hours, after a migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import InterfaceSample
from stores import sqlite_query, sqlite_rollup
from stores.base import SeriesResult
from stores.buckets import HOUR_MS, MINUTE_MS, RAW, _split
from stores.sqlite import SqliteStore
from tests.unit.api.helpers import history
from tests.unit.stores.v1_sqlite import write_v1

END = datetime(2026, 11, 22, 12, 7, 31, 250000, tzinfo=UTC)
START = END - timedelta(hours=26, seconds=13)
STOP = END - timedelta(seconds=41)
STEPS = [
    timedelta(seconds=s)
    for s in (10, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 21600, 43200, 86400)
]


def _without_m15(start: int, end: int, step: int) -> list[tuple[int, int, int]]:
    """The plan before m15 existed: hours, minutes, raw."""
    return _split(start, end, [g for g in (HOUR_MS, MINUTE_MS) if step % g == 0] + [RAW])


def _answers(store: SqliteStore) -> dict[timedelta, SeriesResult]:
    return {step: store.series("h", None, START, STOP, step) for step in STEPS}


_HISTORY = (("eth0", 1000.0), ("wlan0", 7.0))


def _history(iface: str, rate: float) -> list[InterfaceSample]:
    return history("h", iface, end=END, span=timedelta(hours=30), every_s=20, rx_rate=rate)


def _write(store: SqliteStore) -> None:
    for iface, rate in _HISTORY:
        store.write_batch(_history(iface, rate))


def _write_later(store: SqliteStore) -> None:
    """More samples into some hours (other rates, between the first ones) and a new interface."""
    end = END - timedelta(hours=5, seconds=10)
    span = timedelta(hours=3)
    store.write_batch(history("h", "eth0", end=end, span=span, rx_rate=3.0, tx_rate=11.0))
    store.write_batch(history("h", "eth1", end=END, span=timedelta(hours=7), every_s=30))


def _maintain(store: SqliteStore) -> None:
    """Roll up every stale hour: an hour past END, the last one has ended too."""
    later = END + timedelta(hours=1)
    while store.backlog(later):
        store.maintain(later)


def _assert_same_with_and_without_m15(store: SqliteStore, mp: pytest.MonkeyPatch) -> None:
    with_m15 = _answers(store)
    with mp.context() as m:
        m.setattr(sqlite_query, "plan_segments", _without_m15)
        without = _answers(store)
    for step in STEPS:
        assert with_m15[step] == without[step], step
        assert with_m15[step].total, step


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    the_store = SqliteStore.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    yield the_store
    the_store.close()


@pytest.mark.parametrize("state", ["stale", "fresh", "mixed"])
def test_every_step_gives_the_same_buckets_with_m15(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    _write(store)
    if state != "stale":
        _maintain(store)
    if state == "mixed":
        _write_later(store)
        assert 0 < store.backlog() < 31  # some of the 31 hours stale again, not all
    _assert_same_with_and_without_m15(store, monkeypatch)
    if state == "mixed":  # and once those hours are rolled up too
        _maintain(store)
        _assert_same_with_and_without_m15(store, monkeypatch)


def _m15_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM m15").fetchone()[0])


def test_a_version_1_database_migrates_and_gives_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Written by today's code, then by ifpulse at schema version 1 (no m15, stale hours per
    # series): opening the second migrates it (m15 and every hour stale) to the same answers.
    now = SqliteStore.from_url(f"sqlite:///{tmp_path / 'now.db'}")
    _write(now)
    _maintain(now)
    before, latest = _answers(now), now.latest("h")
    exported = list(now.samples("h", None, START, END))
    now.close()
    db = tmp_path / "v1.db"
    write_v1(db, [s for iface, rate in _HISTORY for s in _history(iface, rate)])
    store = SqliteStore.from_url(f"sqlite:///{db}")
    try:
        # Every hour with minutes is stale now: answers come from m1 until maintain runs.
        assert store.backlog() == 31
        assert _m15_rows(db) == 0
        assert _answers(store) == before
        _assert_same_with_and_without_m15(store, monkeypatch)
        _maintain(store)
        assert _m15_rows(db) == 2 * 30 * 4 + 2  # 30 h of quarters, 2 of them partial
        assert _answers(store) == before
        _assert_same_with_and_without_m15(store, monkeypatch)
        assert store.latest("h") == latest
        assert list(store.samples("h", None, START, END)) == exported
    finally:
        store.close()


def test_m15_is_purged_with_the_minutes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store = SqliteStore.from_url(f"sqlite:///{db}?retention_raw=1h&retention_1m=10h")
    try:
        _write(store)
        for _ in range(20):
            store.maintain(END)
        with sqlite3.connect(db) as conn:
            oldest = conn.execute("SELECT min(t) FROM m15").fetchone()[0]
            m1_oldest = conn.execute("SELECT min(t) FROM m1").fetchone()[0]
        cutoff = (END - timedelta(hours=10)).timestamp() * 1000
        # Purged in whole hours (a stale hour must keep all its minutes): up to 1 h more.
        assert oldest >= cutoff - HOUR_MS and m1_oldest >= cutoff - HOUR_MS
    finally:
        store.close()


def test_minutes_are_purged_in_whole_hours_so_a_stale_hour_stays_whole(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    SqliteStore.from_url(f"sqlite:///{db}").close()
    hour = 400 * HOUR_MS
    with sqlite3.connect(db, isolation_level=None) as conn:
        conn.execute("INSERT INTO series (id, host, iface) VALUES (1, 'h', 'eth0')")
        conn.executemany(
            "INSERT INTO m1 (sid, t, n, rx_bytes) VALUES (1, ?, 1, 10)",
            [(hour - HOUR_MS + m * MINUTE_MS,) for m in range(120)],
        )
        conn.execute("INSERT INTO dirty_hour (t) VALUES (?)", (hour,))
        # A cutoff in the middle of the stale hour, chunks smaller than an hour.
        while not sqlite_rollup.purge_rollup(conn, "m1", hour + 30 * MINUTE_MS, 10 * MINUTE_MS):
            pass
        left = conn.execute("SELECT count(*), min(t) FROM m1").fetchone()
        assert left == (60, hour)
        sqlite_rollup.rollup_hours(conn, 10, hour + HOUR_MS)
        assert conn.execute("SELECT n, rx_bytes FROM h1 WHERE t = ?", (hour,)).fetchone() == (
            60,
            600,
        )
