"""The write path of the SQLite store: raw rows, minute rollups, latest, registry and alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from schemas import AlertState, Cleared, HostStatus, InterfaceSample, encode
from stores import sqlite_chunk_io as chunks
from stores.buckets import MINUTE_MS, to_ms
from stores.sqlite_chunk_io import write_chunks
from stores.sqlite_chunks import Cols
from stores.sqlite_dense import split
from stores.sqlite_latest import IN_RAW
from stores.sqlite_many import execute_rows
from stores.sqlite_rollup import add_minutes, horizon, mark_hours, recompute_minutes
from stores.sqlite_rows import (
    INSERT_RAW,
    REPLACE_RAW,
    MetaKey,
    encode_row,
    meta_key,
    meta_text,
    to_row,
)

_NONE = (-(2**63), None)


class IdCache:
    """Integer ids of series (host, iface) and meta keys, cached; forget() after a rollback."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], int] = {}
        self.meta: dict[MetaKey, int] = {}

    def forget(self) -> None:
        """Drop everything: ids created in a rolled-back transaction do not exist."""
        self.series.clear()
        self.meta.clear()

    def sids(self, conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> None:
        """Make sure every (host, iface) has a cached series id, creating rows as needed."""
        missing = sorted(set(keys) - self.series.keys())
        if not missing:
            return
        conn.executemany("INSERT OR IGNORE INTO series (host, iface) VALUES (?, ?)", missing)
        for key in missing:
            row = conn.execute("SELECT id FROM series WHERE host = ? AND iface = ?", key)
            self.series[key] = int(row.fetchone()[0])

    def meta_id(self, conn: sqlite3.Connection, key: MetaKey) -> int:
        """The id of a meta key, creating the row if new."""
        found = self.meta.get(key)
        if found is not None:
            return found
        text = meta_text(key)
        conn.execute("INSERT OR IGNORE INTO meta (key) VALUES (?)", (text,))
        new = int(conn.execute("SELECT id FROM meta WHERE key = ?", (text,)).fetchone()[0])
        self.meta[key] = new
        return new


def write_samples(
    conn: sqlite3.Connection,
    ids: IdCache,
    samples: Sequence[InterfaceSample],
    chunk_min: int = 0,
) -> int:
    """Write samples (inside the caller's transaction); return how many were too old to keep.

    Samples older than the raw retention horizon still update latest and the registry, but
    not raw or rollups: their minute would be recomputed from rows already purged. Series
    with `chunk_min` or more new samples in the batch are stored as chunks
    (stores/sqlite_dense.py); 0 never chunks.
    """
    oldest = max(horizon(conn, "raw") or 0, 0)
    series, meta = ids.series, ids.meta
    dense, samples = split(
        conn,
        samples,
        series,
        lambda keys: ids.sids(conn, keys),
        lambda key: ids.meta_id(conn, key),
        oldest,
        chunk_min,
    )
    rows = []
    newest: dict[int, tuple[int, InterfaceSample]] = dict(dense.newest) if dense else {}
    groups: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    # A batch holds few distinct times (every interface of a host shares one), so cache them.
    times: dict[datetime, int] = {}
    for s in samples:
        fields = s.__dict__  # item lookups: cheaper than attributes of a pydantic model
        sid = series[(fields["host"], fields["iface"])]
        ts = fields["ts"]
        ms = times.get(ts)
        if ms is None:
            ms = times[ts] = to_ms(ts)
        if ms >= newest.get(sid, _NONE)[0]:
            newest[sid] = (ms, s)
        if ms < oldest:
            continue
        key = meta_key(s)
        row = to_row(s, ms, sid, meta.get(key) or ids.meta_id(conn, key))
        rows.append(row)
        group = groups.get((sid, ms - ms % MINUTE_MS))
        if group is None:
            groups[(sid, ms - ms % MINUTE_MS)] = [row]
        else:
            group.append(row)
    if rows:
        store_raw(conn, rows, groups)
    if dense:
        store_dense(conn, dense.cols)
    # A newest sample that went into raw is found there by (ts, sid): no body to encode and
    # store (a quarter of the live write's CPU). One too old for raw keeps its own body, and
    # so does one in a chunk (one per series and batch: cheap, and /servers never unpacks).
    chunked = dense.newest.keys() if dense else set()
    execute_rows(
        conn,
        "INSERT INTO latest (sid, ts, body)",
        [
            (sid, ms, IN_RAW if ms >= oldest and sid not in chunked else encode(s).decode())
            for sid, (ms, s) in newest.items()
        ],
        "ON CONFLICT (sid) DO UPDATE SET ts = excluded.ts, body = excluded.body "
        "WHERE excluded.ts >= latest.ts",
    )
    seen: dict[str, int] = {}
    for ms, s in newest.values():
        seen[s.host] = max(seen.get(s.host, ms), ms)
    execute_rows(
        conn,
        "INSERT INTO hosts (host, sample_ts)",
        sorted(seen.items()),
        "ON CONFLICT (host) DO UPDATE "
        "SET sample_ts = max(coalesce(sample_ts, excluded.sample_ts), excluded.sample_ts)",
    )
    return len(samples) - len(rows)


def _ranges(groups: dict[tuple[int, int], list[tuple[Any, ...]]]) -> dict[int, tuple[int, int]]:
    """{sid: (first ts, last ts)} of grouped raw rows."""
    out: dict[int, tuple[int, int]] = {}
    for (sid, _minute), rows in groups.items():
        first, last = min(r[0] for r in rows), max(r[0] for r in rows)
        lo, hi = out.get(sid, (first, last))
        out[sid] = (min(lo, first), max(hi, last))
    return out


def store_dense(conn: sqlite3.Connection, cols: Cols) -> None:
    """Write chunked samples (new to the store) as pending chunks and mark their hours stale."""
    write_chunks(conn, cols, pending=True)
    mark_hours(conn, np.unique(cols["ts"]).tolist())


def store_raw(
    conn: sqlite3.Connection,
    rows: list[tuple[Any, ...]],
    groups: dict[tuple[int, int], list[tuple[Any, ...]]],
) -> None:
    """Insert raw rows and bring their minute rollups up to date; hours are marked stale.

    When every row is new (live or bulk ingestion) the batch's aggregates are added to its
    minutes (m1_fresh).
    Any row already stored (redelivery, overlap, a duplicate inside the batch) makes the
    batch overwrite raw (last write wins) and recompute its minutes from raw: never twice.
    """
    # A sample these rows repeat must be a raw row for the insert to find it; a row merely
    # between two of a chunk's samples may stay beside it (a sample is still in one place).
    # One index lookup first: live batches are newer than every chunk.
    minutes = [minute for _sid, minute in groups]
    near = chunks.any_in(conn, min(minutes), max(minutes) + MINUTE_MS)
    ranges = _ranges(groups) if near else {}
    chunks.explode(conn, ranges)
    before = conn.total_changes
    try:
        execute_rows(conn, INSERT_RAW, rows)
    except OverflowError:
        # Counters of 2**63 and more do not fit SQLite's INTEGER; rare, so only then encode.
        # Rows inserted before the error count as changes and are ignored on the retry.
        rows = [encode_row(r) for r in rows]
        execute_rows(conn, INSERT_RAW, rows)
    if conn.total_changes - before == len(rows):
        add_minutes(conn, groups)
    else:
        try:
            execute_rows(conn, REPLACE_RAW, rows)
        except OverflowError:
            execute_rows(conn, REPLACE_RAW, [encode_row(r) for r in rows])
        # Every sample of the minutes recomputed from raw rows must be one.
        chunks.explode(conn, chunks.minutes(ranges))
        recompute_minutes(conn, groups)
    mark_hours(conn, (minute for _sid, minute in groups))


def write_statuses(conn: sqlite3.Connection, statuses: Sequence[HostStatus]) -> None:
    """Keep each host's newest status; the will (no time) always counts as newest."""
    conn.executemany(
        "INSERT INTO hosts (host, status_ts, has_status, state, version, interval_s, "
        "spool_dropped) VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET "
        "status_ts = coalesce(excluded.status_ts, status_ts), has_status = 1, "
        "state = excluded.state, version = excluded.version, interval_s = excluded.interval_s, "
        "spool_dropped = excluded.spool_dropped "
        "WHERE excluded.status_ts IS NULL OR status_ts IS NULL "
        "OR excluded.status_ts >= status_ts",
        [
            (
                st.host,
                None if st.ts is None else to_ms(st.ts),
                st.state.value,
                st.version,
                st.interval_s,
                st.spool_dropped,
            )
            for st in statuses
        ],
    )


def write_alerts(conn: sqlite3.Connection, alerts: Sequence[AlertState | Cleared]) -> None:
    """Keep each interface's newest alert state (by the time it began, or was cleared).

    A cleared alert is kept as an empty body at the time of clearing, so that an older alert
    arriving after it (a redelivery) stays hidden. Cleared statuses (no iface) are skipped.
    """
    conn.executemany(
        "INSERT INTO alerts (host, iface, since, body) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (host, iface) DO UPDATE SET since = excluded.since, body = excluded.body "
        "WHERE excluded.since >= alerts.since",
        [
            (a.host, a.iface, to_ms(a.since), a.model_dump_json())
            if isinstance(a, AlertState)
            else (a.host, a.iface, to_ms(a.at), "")
            for a in alerts
            if a.iface is not None
        ],
    )
