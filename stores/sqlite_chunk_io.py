"""The chunk table of the SQLite store: write dense batches, read ranges, explode, purge.

A sample lives in exactly one place, a raw row or a chunk. Chunks are written for samples
newer than everything stored for their series (so a chunk never overlaps stored data), and
from raw rows that have settled (moved, not copied). A raw write whose samples fall in a
chunk's time range first turns that chunk back into raw rows (explode), and so does the
recompute of a minute a chunk shares, so redelivery, duplicates and minute recomputes keep
working on raw rows alone.

A pending chunk (written from a dense batch) has not added its samples to their minutes in
m1: until raw retention deletes it (settle() adds them to m1 then), they are computed from the
chunk wherever minutes are read. Turned into raw rows, it adds them to m1_fresh, as a write of
those rows would have.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence

import numpy as np

from stores.buckets import HOUR_MS, MINUTE_MS, floor_to
from stores.sqlite_chunks import (
    AGG_FIELDS,
    FIELDS,
    Cols,
    aggregate,
    from_raw_rows,
    pack,
    raw_rows,
    runs,
    select,
    sort_by_series,
    unpack,
)
from stores.sqlite_many import execute_rows
from stores.sqlite_rows import ADD_FRESH, ADD_M1, INSERT_RAW, RAW_LIST, encode_row

_INSERT = "INSERT INTO chunk (sid, t0, t1, n, data, pending)"


def write_chunks(conn: sqlite3.Connection, cols: Cols, pending: bool) -> None:
    """Store columns sorted by (sid, ts) as chunks (one per series and hour); `pending`: their
    samples are not in their minutes' m1 rows (see the module docstring)."""
    flag = int(pending)
    rows = pack(cols, runs(cols["sid"], cols["ts"]))
    execute_rows(conn, _INSERT, [(*row, flag) for row in rows])


def read_range(
    conn: sqlite3.Connection,
    sids: Sequence[int],
    lo: int,
    hi: int,
    pending: bool = False,
    fields: Collection[str] = FIELDS,
) -> Cols | None:
    """Columns (`fields`, see unpack()) of the chunked samples of `sids` in [lo, hi), sorted by
    (sid, ts); None if none. `pending`: of pending chunks only."""
    if not sids:
        return None
    marks = ",".join("?" * len(sids))
    # A chunk spans less than an hour, so one that reaches lo starts after lo - 1 h: the
    # (sid, t0) index bounds the search on both sides.
    found = conn.execute(
        f"SELECT sid, t0, data FROM chunk WHERE sid IN ({marks}) "  # noqa: S608
        f"AND t0 > ? AND t0 < ? AND t1 >= ? {'AND pending' if pending else ''} ORDER BY sid, t0",
        (*sids, lo - HOUR_MS, hi, lo),
    ).fetchall()
    cols = _sorted(found, fields)
    if cols is None:
        return None
    ts = cols["ts"]
    inside = (ts >= lo) & (ts < hi)
    return cols if inside.all() else select(cols, inside)


def _sorted(found: Sequence[tuple[int, int, bytes]], fields: Collection[str]) -> Cols | None:
    # Chunks in (sid, t0) order (sorted in Python: ORDER BY copied every blob into a sorter)
    # are mostly in (sid, ts) order already. Chunks of one series never share a sample, but
    # one made of late rows may span another.
    return sort_by_series(unpack(found, fields)) if found else None


def pending_in(conn: sqlite3.Connection, lo: int, hi: int) -> Cols | None:
    """Columns of every series' pending chunks starting in [lo, hi), sorted by (sid, ts)."""
    found = conn.execute(
        "SELECT sid, t0, data FROM chunk INDEXED BY chunk_pending "
        "WHERE pending AND t0 >= ? AND t0 < ?",
        (lo, hi),
    ).fetchall()
    return _sorted(sorted(found), AGG_FIELDS)


def settle(conn: sqlite3.Connection, before: int) -> None:
    """Add the samples of the pending chunks that purge(before) deletes to their m1 minutes."""
    # A chunk spans less than an hour: one ending before `before` starts before it too.
    found = conn.execute(
        "SELECT sid, t0, data FROM chunk INDEXED BY chunk_pending "
        "WHERE pending AND t0 < ? AND t1 < ?",
        (before, before),
    ).fetchall()
    cols = _sorted(sorted(found), AGG_FIELDS)
    if cols is not None:
        # Straight into m1, in its key order: these hours were rolled up long ago.
        execute_rows(conn, "INSERT INTO m1", aggregate(cols, MINUTE_MS), ADD_M1)


def any_in(conn: sqlite3.Connection, lo: int, hi: int) -> bool:
    """Whether any chunk holds samples that may fall in [lo, hi)."""
    found = conn.execute(
        "SELECT 1 FROM chunk INDEXED BY chunk_t1 WHERE t1 >= ? AND t1 < ? AND t0 < ? LIMIT 1",
        (lo, hi + HOUR_MS, hi),
    )
    return found.fetchone() is not None


def next_time(conn: sqlite3.Connection, at: int) -> int | None:
    """The earliest time at or after `at` that a chunk covers (None: no chunk reaches it)."""
    if any_in(conn, at, at + 1):
        return at
    found: int | None = conn.execute("SELECT min(t0) FROM chunk WHERE t0 > ?", (at,)).fetchone()[0]
    return found


def explode(conn: sqlite3.Connection, ranges: dict[int, tuple[int, int]]) -> int:
    """Turn the chunks of {sid: (first ts, last ts)} that reach into that range into raw rows.

    Called before raw rows of a range are written (a chunk sample they repeat must be a raw
    row for the write to find it), and before minutes are recomputed from raw rows (with
    ranges widened to those minutes). Returns how many chunks went.
    """
    if not ranges:
        return 0
    lo, hi = min(a for a, _ in ranges.values()), max(b for _, b in ranges.values())
    hits = [
        (cid, sid, t0, n, data, pending)
        for cid, sid, t0, t1, n, data, pending in conn.execute(
            # Live writes ask about the last seconds, where no chunk reaches: an empty range.
            "SELECT id, sid, t0, t1, n, data, pending FROM chunk INDEXED BY chunk_t1 "
            "WHERE t1 >= ? AND t1 <= ? AND t0 <= ?",
            (lo, hi + HOUR_MS, hi),
        )
        if sid in ranges and t1 >= ranges[sid][0] and t0 <= ranges[sid][1]
    ]
    if not hits:
        return 0
    cols = unpack([(sid, t0, data) for _cid, sid, t0, _n, data, _flag in hits])
    pending = np.repeat([bool(h[5]) for h in hits], [h[3] for h in hits])
    if pending.any():
        # As raw rows, their samples count in m1 (m1_fresh), as a raw write would add them.
        mine = sort_by_series(select(cols, pending))
        execute_rows(conn, ADD_FRESH, aggregate(mine, MINUTE_MS), ADD_M1)
    rows = raw_rows(cols)
    try:
        execute_rows(conn, INSERT_RAW, rows)
    except OverflowError:  # counters of 2**63 and more: stored in two's complement
        execute_rows(conn, INSERT_RAW, [encode_row(r) for r in rows])
    conn.executemany("DELETE FROM chunk WHERE id = ?", [(h[0],) for h in hits])
    return len(hits)


SLICE_MS = 10 * MINUTE_MS
"""Raw rows are moved into chunks ten minutes at a time: chunks of ~60 samples at 10 s."""
SETTLE_MS = 5 * MINUTE_MS
"""How long a slice stays raw rows after it ends: samples that come late (a slow link, the
ingestor's allowed clock skew) still land as rows instead of unpacking a chunk again."""


MOVE_ROWS = 20_000
"""Raw rows moved into chunks in one transaction at most (0.2-0.25 s here): a big fleet's
ten minutes are moved a group of series at a time, so the ingestor never waits long."""


def minutes(ranges: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Ranges widened to whole minutes."""
    return {
        sid: (floor_to(a, MINUTE_MS), floor_to(b, MINUTE_MS) + MINUTE_MS - 1)
        for sid, (a, b) in ranges.items()
    }


def settled_slice(conn: sqlite3.Connection, now: int) -> tuple[int, int] | None:
    """The oldest slice of raw rows old enough to become chunks, if any."""
    oldest: int | None = conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
    if oldest is None:
        return None
    lo = floor_to(oldest, SLICE_MS)
    return None if lo + SLICE_MS > now - SETTLE_MS else (lo, lo + SLICE_MS)


def rows_to_chunks(conn: sqlite3.Connection, lo: int, hi: int, most: int) -> None:
    """Move raw rows of [lo, hi) into chunks: all of them, or the first series holding about
    `most` rows (latest bodies must be kept first)."""
    where = "ts >= ? AND ts < ?"
    args: tuple[int, ...] = (lo, hi)
    per_sid = conn.execute(
        f"SELECT sid, count(*) FROM raw WHERE {where} GROUP BY sid ORDER BY sid",  # noqa: S608
        args,
    ).fetchall()
    total, upto = 0, None
    for sid, count in per_sid:
        total += count
        if total >= most:
            upto = sid
            break
    if upto is not None and upto != per_sid[-1][0]:
        where += " AND sid <= ?"
        args = (lo, hi, upto)
    rows = conn.execute(f"SELECT {RAW_LIST} FROM raw WHERE {where}", args).fetchall()  # noqa: S608
    # Their minutes are in m1 already (raw rows add theirs when written).
    write_chunks(conn, sort_by_series(from_raw_rows(rows)), pending=False)
    conn.execute(f"DELETE FROM raw WHERE {where}", args)  # noqa: S608


def oldest_end(conn: sqlite3.Connection) -> int | None:
    """The earliest last-sample time of any chunk (what retention can purge first)."""
    found: int | None = conn.execute("SELECT min(t1) FROM chunk").fetchone()[0]
    return found


def purge(conn: sqlite3.Connection, before: int) -> None:
    """Delete chunks whose every sample is older than `before` (one straddling it stays),
    settle()d first."""
    settle(conn, before)
    conn.execute("DELETE FROM chunk WHERE t1 < ?", (before,))
