"""Rollups (1 min from raw; 15 min from 1 min and pending chunks; 1 h from 15 min) and
retention of the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from stores import sqlite_chunk_io as chunks
from stores.buckets import HOUR_MS, MINUTE_MS, QUARTER_MS, floor_to
from stores.sqlite_chunks import aggregate
from stores.sqlite_latest import keep_bodies
from stores.sqlite_many import execute_rows
from stores.sqlite_rows import (
    ADD_FRESH,
    ADD_M1,
    RAW_AGG,
    ROLLUP_AGG,
    ROLLUP_NAMES,
    fit,
    plus,
    run_sums,
)

DAY_MS = 24 * HOUR_MS
_I63 = 2**63


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


def recompute_minutes(conn: sqlite3.Connection, keys: Iterable[tuple[int, int]]) -> None:
    """Recompute the 1-minute rollups of the (sid, minute)s from raw rows (idempotent).

    Consecutive minutes are done in one range query, so a time-ordered batch costs one scan.
    """
    touched: dict[int, set[int]] = {}
    for sid, minute in keys:
        touched.setdefault(minute, set()).add(sid)
    for lo, hi, sids in _runs(touched):
        marks = ",".join("?" * len(sids))
        params = (lo, hi, *sorted(sids))
        # The recompute is the whole minute: what was added of it since is in there too.
        conn.execute(
            f"DELETE FROM m1_fresh WHERE t >= ? AND t < ? AND sid IN ({marks})",  # noqa: S608
            params,
        )
        run_sums(
            conn,
            f"INSERT OR REPLACE INTO m1 SELECT sid, ts / {MINUTE_MS} * {MINUTE_MS}, {RAW_AGG} "  # noqa: S608
            f"FROM raw WHERE ts >= ? AND ts < ? AND sid IN ({marks}) "
            f"GROUP BY sid, ts / {MINUTE_MS}",
            params,
        )


M1_COLUMNS = ", ".join(("sid", "t", *ROLLUP_NAMES))


def fold_fresh(conn: sqlite3.Connection, lo: int, hi: int) -> None:
    """Move the m1_fresh rows of [lo, hi) into m1, adding them to the rows there."""
    # ORDER BY follows m1's key: one pass along each series' leaves. The WHERE clause also
    # keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
    conn.execute(
        f"INSERT INTO m1 ({M1_COLUMNS}) SELECT {M1_COLUMNS} FROM m1_fresh "  # noqa: S608
        f"WHERE t >= ? AND t < ? ORDER BY sid, t {ADD_M1}",
        (lo, hi),
    )
    conn.execute("DELETE FROM m1_fresh WHERE t >= ? AND t < ?", (lo, hi))


def add_minutes(
    conn: sqlite3.Connection, groups: dict[tuple[int, int], list[tuple[Any, ...]]]
) -> None:
    """Add the {(sid, minute): raw rows} of new samples to their minutes (only rows never stored
    before)."""
    execute_rows(
        conn,
        ADD_FRESH,
        [(sid, minute, *raw_agg(rows)) for (sid, minute), rows in groups.items()],
        ADD_M1,
    )


def raw_agg(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """RAW_AGG of raw rows (RAW_COLUMNS order, not yet encoded), computed in Python."""
    if len(rows) == 1:
        # Live batches hold about one sample per series and minute: skip the column passes.
        row = rows[0]
        rx_b, tx_b, rx_p, tx_p, rx_e, tx_e, rx_d, tx_d = [
            d if d is None or d < _I63 else 0 for d in row[2:10]
        ]
        return (1, rx_b, tx_b, rx_p, tx_p, plus(rx_e or 0, tx_e or 0), plus(rx_d or 0, tx_d or 0),
                *_one_rate(row[10]), *_one_rate(row[11]))  # fmt: skip
    cols = list(zip(*rows, strict=True))
    rx_b, tx_b, rx_p, tx_p, rx_e, tx_e, rx_d, tx_d = map(_delta_sum, cols[2:10])
    return (
        len(rows),
        rx_b,
        tx_b,
        rx_p,
        tx_p,
        plus(rx_e or 0, tx_e or 0),
        plus(rx_d or 0, tx_d or 0),
        *_rate_agg(cols[10]),
        *_rate_agg(cols[11]),
    )


def _delta_sum(col: Sequence[int | None]) -> int | float | None:
    # sum(max(d, 0)) over stored values: NULLs skipped, deltas >= 2**63 (stored negative) add 0.
    values = cast(Sequence[int], col) if None not in col else [v for v in col if v is not None]
    if not values:
        return None
    if max(values) < _I63:
        return fit(sum(values))
    return fit(sum(v for v in values if v < _I63))


def _one_rate(value: float | None) -> tuple[float | None, int, float | None]:
    # _rate_agg of one value: 0 + x and float(x) are what sum() and max() give there.
    return (None, 0, None) if value is None else (float(0 + value), 1, float(value))


def _rate_agg(col: Sequence[float | None]) -> tuple[float | None, int, float | None]:
    # sum, count and max of a REAL column: all NULL gives (NULL, 0, NULL).
    values = cast(Sequence[float], col) if None not in col else [v for v in col if v is not None]
    if not values:
        return None, 0, None
    return float(sum(values)), len(values), float(max(values))


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


def mark_hours(conn: sqlite3.Connection, times: Iterable[int]) -> None:
    """Mark the hours holding the times (ms) of touched samples stale, for rollup_hours().

    Stale is a property of the hour, not of each series in it: a live batch touches every
    series in the current hour, and marking each (series, hour) cost ~18 % of its write.
    """
    hours = {t - t % HOUR_MS for t in times}
    execute_rows(conn, "INSERT OR IGNORE INTO dirty_hour (t)", [(t,) for t in sorted(hours)])


def _hour_of(table: str) -> str:
    # Every series with rows in the hour; IN (SELECT ...) lets SQLite seek the (sid, t) key
    # once per series instead of scanning the table.
    return f"FROM {table} WHERE sid IN (SELECT id FROM series) AND t >= ? AND t < ?"  # noqa: S608


def due_hours(conn: sqlite3.Connection, now: int, limit: int = -1) -> list[int]:
    """The stale hours that ended by `now`, oldest first; at most `limit` (-1: all of them).

    An hour still filling waits for its end: each batch into it would make it stale again,
    and a bulk load at 20,000 samples a batch rolled every hour up almost three times. Reads
    take stale hours from m1, so nothing waits for it.
    """
    found = conn.execute(
        "SELECT t FROM dirty_hour WHERE t <= ? ORDER BY t LIMIT ?", (now - HOUR_MS, limit)
    )
    return [t for (t,) in found]


def rollup_hours(conn: sqlite3.Connection, limit: int, now: int) -> int:
    """Recompute up to `limit` of the due_hours() (m15 rows of every series from m1, once the
    hour's m1_fresh rows are in it, plus its pending chunks; then h1 rows from m15); return
    how many."""
    stale = due_hours(conn, now, limit)
    for t in stale:
        fold_fresh(conn, t, t + HOUR_MS)
        pending = chunks.pending_in(conn, t, t + HOUR_MS)
        if pending is not None:
            # The statement below replaces only quarters with minutes in m1: quarters of
            # pending samples go first, so that adding those below counts them once.
            conn.executemany(
                "DELETE FROM m15 WHERE sid = ? AND t >= ? AND t < ?",
                [(sid, t, t + HOUR_MS) for sid in np.unique(pending["sid"]).tolist()],
            )
        # A quarter only ever gains samples (m1 rows are replaced, never deleted, while live;
        # a pending chunk's samples move into m1), so replacing the quarters that have minutes
        # leaves no stale row behind.
        run_sums(
            conn,
            f"INSERT OR REPLACE INTO m15 SELECT sid, t / {QUARTER_MS:d} * {QUARTER_MS:d}, "
            f"{ROLLUP_AGG} {_hour_of('m1')} GROUP BY sid, t / {QUARTER_MS:d}",
            (t, t + HOUR_MS),
        )
        if pending is not None:
            execute_rows(conn, "INSERT INTO m15", aggregate(pending, QUARTER_MS), ADD_M1)
        # The hour from its four quarters: the same sums (in another order, for the rates'
        # floats) from 4 rows a series instead of 60, 7 -> 2 ms an hour of 200 series.
        run_sums(
            conn,
            f"INSERT OR REPLACE INTO h1 SELECT sid, ?, {ROLLUP_AGG} {_hour_of('m15')} GROUP BY sid",
            (t, t, t + HOUR_MS),
        )
    conn.executemany("DELETE FROM dirty_hour WHERE t = ?", [(t,) for t in stale])
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


def compact_raw(conn: sqlite3.Connection, now: int) -> bool:
    """Move the oldest settled slice of raw rows into chunks; True when none is left.

    Live ingestion writes a row per sample; as rows age they become chunks, which take less
    space, are read ten times faster by sparklines, and are purged a chunk at a time. The
    latest rows pointing into the slice get their bodies first, so /servers never unpacks.
    """
    span = chunks.settled_slice(conn, now)
    if span is None:
        return True
    keep_bodies(conn, span[1])
    chunks.rows_to_chunks(conn, *span, chunks.MOVE_ROWS)
    return False


def purge_raw(conn: sqlite3.Connection, cutoff: int, chunk_ms: int) -> bool:
    """Delete raw rows and chunks older than cutoff, chunk_ms of time at once; True when done."""
    # Set first: a late sample older than the horizon must not recompute a minute from
    # the partial raw rows left behind (write_batch skips such samples).
    _set_horizon(conn, "raw", cutoff)
    # A chunk goes when its last sample is past the cutoff; one straddling it stays.
    ends = [conn.execute("SELECT min(ts) FROM raw").fetchone()[0], chunks.oldest_end(conn)]
    oldest: int | None = min((int(t) for t in ends if t is not None), default=None)
    if oldest is None or oldest >= cutoff:
        return True
    upto = min(cutoff, oldest + chunk_ms)
    keep_bodies(conn, upto)
    conn.execute("DELETE FROM raw WHERE ts < ?", (upto,))
    chunks.purge(conn, upto)
    return upto >= cutoff


def purge_rollup(conn: sqlite3.Connection, table: str, cutoff: int, chunk_ms: int) -> bool:
    """Delete m1, m15 or h1 rows older than cutoff, per series, chunk_ms at a time; True if done."""
    if table not in ("m1", "m15", "h1"):
        raise ValueError(table)
    if table != "h1":
        # Whole hours only: a stale hour is rebuilt from its minutes, so half of them must
        # never be gone while the hour waits (its h1 row would lose the other half).
        cutoff = floor_to(cutoff, HOUR_MS)
        chunk_ms = max(chunk_ms - chunk_ms % HOUR_MS, HOUR_MS)
    # Keyed (sid, t): the oldest row is one seek per series, never a full-table scan.
    oldest: int | None = conn.execute(
        f"SELECT min((SELECT min(t) FROM {table} WHERE sid = series.id)) FROM series"  # noqa: S608
    ).fetchone()[0]
    if table == "m1":  # and the minutes not yet moved into m1 (keyed by t: one seek)
        fresh = conn.execute("SELECT min(t) FROM m1_fresh").fetchone()[0]
        oldest = min((t for t in (oldest, fresh) if t is not None), default=None)
    upto = cutoff if oldest is None else min(cutoff, floor_to(oldest, HOUR_MS) + chunk_ms)
    _set_horizon(conn, table, upto)
    if oldest is None or oldest >= cutoff:
        return True
    sids = [r[0] for r in conn.execute("SELECT id FROM series")]
    conn.executemany(f"DELETE FROM {table} WHERE sid = ? AND t < ?", [(s, upto) for s in sids])  # noqa: S608
    if table == "m1":
        conn.execute("DELETE FROM m1_fresh WHERE t < ?", (upto,))
        conn.execute("DELETE FROM dirty_hour WHERE t < ?", (floor_to(upto, HOUR_MS),))
    return upto >= cutoff
