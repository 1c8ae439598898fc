"""Rollups (1 min from raw; 15 min and 1 h from 1 min) and retention of the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from stores.buckets import HOUR_MS, MINUTE_MS, QUARTER_MS, floor_to
from stores.sqlite_rows import RAW_AGG, ROLLUP_AGG

DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each table keeps its rows, in milliseconds."""

    raw_ms: int = 7 * DAY_MS
    m1_ms: int = 90 * DAY_MS
    h1_ms: int = 730 * DAY_MS

    def __post_init__(self) -> None:
        """Coarser tables must outlive finer ones: each is recomputed from the one below."""
        if not 0 < self.raw_ms <= self.m1_ms <= self.h1_ms:
            raise ValueError("retention must satisfy 0 < raw <= 1m <= 1h")


def recompute_minutes(conn: sqlite3.Connection, touched: dict[int, set[int]]) -> None:
    """Recompute the 1-minute rollups of the touched {minute: sids} from raw rows (idempotent).

    Consecutive minutes are done in one range query, so a time-ordered batch costs one scan.
    """
    for lo, hi, sids in _runs(touched):
        marks = ",".join("?" * len(sids))
        conn.execute(
            f"INSERT OR REPLACE INTO m1 SELECT sid, ts / {MINUTE_MS} * {MINUTE_MS}, {RAW_AGG} "  # noqa: S608
            f"FROM raw WHERE ts >= ? AND ts < ? AND sid IN ({marks}) "
            f"GROUP BY sid, ts / {MINUTE_MS}",
            (lo, hi, *sorted(sids)),
        )


def _runs(touched: dict[int, set[int]]) -> Iterable[tuple[int, int, set[int]]]:
    lo = hi = -1
    sids: set[int] = set()
    for minute in sorted(touched):
        if minute != hi:
            if sids:
                yield lo, hi, sids
            lo, sids = minute, set()
        sids |= touched[minute]
        hi = minute + MINUTE_MS
    if sids:
        yield lo, hi, sids


def mark_hours(conn: sqlite3.Connection, touched: dict[int, set[int]]) -> None:
    """Mark the hours holding the touched minutes stale, for rollup_hours() to redo."""
    pairs = {(sid, floor_to(minute, HOUR_MS)) for minute, sids in touched.items() for sid in sids}
    conn.executemany("INSERT OR IGNORE INTO dirty_h (sid, t) VALUES (?, ?)", sorted(pairs))


def rollup_hours(conn: sqlite3.Connection, limit: int) -> int:
    """Recompute up to `limit` stale hours (h1 row and m15 rows) from m1; return how many."""
    stale = conn.execute("SELECT sid, t FROM dirty_h ORDER BY t LIMIT ?", (limit,)).fetchall()
    conn.executemany(
        f"INSERT OR REPLACE INTO h1 SELECT sid, ?, {ROLLUP_AGG} FROM m1 "  # noqa: S608
        "WHERE sid = ? AND t >= ? AND t < ? GROUP BY sid",
        [(t, sid, t, t + HOUR_MS) for sid, t in stale],
    )
    # A quarter only ever gains minutes (m1 rows are replaced, never deleted, while live),
    # so replacing the quarters that have minutes leaves no stale row behind.
    conn.executemany(
        f"INSERT OR REPLACE INTO m15 SELECT sid, t / {QUARTER_MS:d} * {QUARTER_MS:d}, "  # noqa: S608
        f"{ROLLUP_AGG} FROM m1 WHERE sid = ? AND t >= ? AND t < ? GROUP BY t / {QUARTER_MS:d}",
        [(sid, t, t + HOUR_MS) for sid, t in stale],
    )
    conn.executemany("DELETE FROM dirty_h WHERE sid = ? AND t = ?", stale)
    return len(stale)


def horizon(conn: sqlite3.Connection, table: str) -> int | None:
    """Time before which a table's rows are gone (None: never purged)."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (f"horizon_{table}",)).fetchone()
    return None if row is None else int(row[0])


def _set_horizon(conn: sqlite3.Connection, table: str, value: int) -> None:
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        (f"horizon_{table}", value),
    )


def purge_raw(conn: sqlite3.Connection, cutoff: int, chunk_ms: int) -> bool:
    """Delete raw rows older than cutoff, at most chunk_ms of time at once; True when done."""
    # Set first: a late sample older than the horizon must not recompute a minute from
    # the partial raw rows left behind (write_batch skips such samples).
    _set_horizon(conn, "raw", cutoff)
    oldest: int | None = conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
    if oldest is None or oldest >= cutoff:
        return True
    upto = min(cutoff, oldest + chunk_ms)
    conn.execute("DELETE FROM raw WHERE ts < ?", (upto,))
    return upto >= cutoff


def purge_rollup(conn: sqlite3.Connection, table: str, cutoff: int, chunk_ms: int) -> bool:
    """Delete m1, m15 or h1 rows older than cutoff, per series, chunk_ms at a time; True if done."""
    if table not in ("m1", "m15", "h1"):
        raise ValueError(table)
    # Keyed (sid, t): the oldest row is one seek per series, never a full-table scan.
    oldest: int | None = conn.execute(
        f"SELECT min((SELECT min(t) FROM {table} WHERE sid = series.id)) FROM series"  # noqa: S608
    ).fetchone()[0]
    upto = cutoff if oldest is None else min(cutoff, oldest + chunk_ms)
    _set_horizon(conn, table, upto)
    if oldest is None or oldest >= cutoff:
        return True
    sids = [r[0] for r in conn.execute("SELECT id FROM series")]
    conn.executemany(f"DELETE FROM {table} WHERE sid = ? AND t < ?", [(s, upto) for s in sids])  # noqa: S608
    if table == "m1":
        conn.execute("DELETE FROM dirty_h WHERE t < ?", (floor_to(upto, HOUR_MS),))
    return upto >= cutoff
