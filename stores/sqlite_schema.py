"""SQLite schema of the embedded store, versioned in code through `PRAGMA user_version`."""

from __future__ import annotations

import re
import sqlite3

from stores.base import UnsupportedSchema

_ROLLUP = """
    sid INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,
    rx_bytes INTEGER, tx_bytes INTEGER, rx_packets INTEGER, tx_packets INTEGER,
    errors INTEGER, drops INTEGER,
    rx_rate_sum REAL, rx_rate_n INTEGER, rx_rate_max REAL,
    tx_rate_sum REAL, tx_rate_n INTEGER, tx_rate_max REAL,"""
"""The columns of every rollup table (m1, m1_fresh, m15, h1): a series, a bucket start, and
stores.sqlite_rows.ROLLUP_AGG's aggregates."""

_V1 = f"""
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    iface TEXT NOT NULL,
    UNIQUE (host, iface)
);
-- Rarely changing per-sample attributes, stored once and referenced by id from raw rows.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);
-- Keyed (ts, sid): ingest appends at the right edge of the b-tree (about 5x faster than
-- (sid, ts)), and rollups and retention work on time ranges. Reads of long ranges use rollups.
-- Counters and deltas >= 2**63 are stored as their two's complement (negative). Columns
-- the rollups read come first: SQLite decodes a record from its start.
CREATE TABLE raw (
    ts INTEGER NOT NULL,
    sid INTEGER NOT NULL,
    d_rx_bytes INTEGER, d_tx_bytes INTEGER, d_rx_packets INTEGER, d_tx_packets INTEGER,
    d_rx_errors INTEGER, d_tx_errors INTEGER, d_rx_dropped INTEGER, d_tx_dropped INTEGER,
    rx_bytes_per_sec REAL, tx_bytes_per_sec REAL,
    d_multicast INTEGER, d_collisions INTEGER,
    rx_packets_per_sec REAL, tx_packets_per_sec REAL,
    seq INTEGER NOT NULL,
    interval_s REAL,
    meta INTEGER NOT NULL,
    rx_bytes INTEGER NOT NULL, tx_bytes INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL, tx_packets INTEGER NOT NULL,
    rx_errors INTEGER NOT NULL, tx_errors INTEGER NOT NULL,
    rx_dropped INTEGER NOT NULL, tx_dropped INTEGER NOT NULL,
    multicast INTEGER NOT NULL, collisions INTEGER NOT NULL,
    PRIMARY KEY (ts, sid)
) WITHOUT ROWID;
CREATE TABLE latest (
    sid INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    sample_ts INTEGER,
    status_ts INTEGER,
    has_status INTEGER NOT NULL DEFAULT 0,
    state TEXT,
    version TEXT,
    interval_s REAL,
    spool_dropped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alerts (
    host TEXT NOT NULL,
    iface TEXT NOT NULL,
    since INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (host, iface)
);
CREATE TABLE m1 ({_ROLLUP}
    PRIMARY KEY (sid, t)
) WITHOUT ROWID;
CREATE TABLE h1 ({_ROLLUP}
    PRIMARY KEY (sid, t)
) WITHOUT ROWID;
-- Hours whose h1 row is stale: written by write_batch, cleared by maintain().
CREATE TABLE dirty_h (
    sid INTEGER NOT NULL, t INTEGER NOT NULL,
    PRIMARY KEY (sid, t)
) WITHOUT ROWID;
CREATE INDEX dirty_h_t ON dirty_h (t);
-- Progress of maintain(): retention horizons (ms) per table.
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_M15 = f"""
-- 15-minute rollups, so a day at 15 min sums 96 rows per series instead of 1,440.
-- Stale exactly when the hour holding them is (dirty_h), and rebuilt with h1 by maintain().
CREATE TABLE m15 ({_ROLLUP}
    PRIMARY KEY (sid, t)
) WITHOUT ROWID;
-- Existing minutes: mark their hours stale, so maintain() builds m15 in slices instead of
-- one long transaction, and reads meanwhile take those hours from m1 as for any stale hour.
INSERT OR IGNORE INTO dirty_h (sid, t)
    SELECT DISTINCT sid, t / 3600000 * 3600000 FROM m1
"""  # noqa: S608 (formats in our own column list only)

_LATEST_REF = """
-- From here on, latest.body is '' while the newest sample is in raw at (latest.ts, sid): the
-- sample is rebuilt from that row. Older ifpulse versions would read '' as JSON and fail, so
-- this version number keeps them out. purge_raw() writes the body before the row goes.
SELECT 1
"""

_DIRTY_HOUR = """
-- Stale hours without the series: every series' h1 and m15 rows of the hour are redone.
CREATE TABLE dirty_hour (
    t INTEGER PRIMARY KEY
);
INSERT OR IGNORE INTO dirty_hour (t) SELECT DISTINCT t FROM dirty_h;
DROP TABLE dirty_h
"""

_CHUNKS = """
-- Raw samples of dense batches, as column chunks (stores/sqlite_chunks.py): one row per series
-- and run of samples within an hour. A sample is in raw or in a chunk, never both: raw rows
-- written into a chunk's time range first turn the chunk into raw rows. Older versions would
-- not see these samples, so this version number keeps them out.
CREATE TABLE chunk (
    id INTEGER PRIMARY KEY,
    sid INTEGER NOT NULL,
    t0 INTEGER NOT NULL,
    t1 INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
-- Reads of one series' range by (sid, t0), the next chunk in time by t0, and what reaches past
-- a time (raw writes' overlap check, retention) by t1. A chunk spans less than an hour.
CREATE UNIQUE INDEX chunk_sid_t0 ON chunk (sid, t0);
CREATE INDEX chunk_t0 ON chunk (t0);
CREATE INDEX chunk_t1 ON chunk (t1)
"""

_M1_FRESH = f"""
-- Minute aggregates added since maintain() last rolled their hour up; a minute is its m1 row
-- plus its m1_fresh row (stores/sqlite_rows.py ADD_M1 adds two rows up). Keyed (t, sid), so
-- a batch appends at the right edge: added to m1 (sid, t) directly, each batch of a bulk load
-- rewrote and split a leaf page of every series, two thirds of the WAL it wrote. maintain()
-- moves an hour's rows into m1 when it rolls the hour up. Older versions would not see these
-- minutes, so this version number keeps them out.
CREATE TABLE m1_fresh ({_ROLLUP}
    PRIMARY KEY (t, sid)
) WITHOUT ROWID
"""

_PENDING = """
-- Chunks of dense batches (a bulk load, a spool replayed) are written without adding their
-- samples to m1: pending = 1. Their minutes are computed from the chunk when needed (reads of
-- the minute grain, the rollup of their hour into m15 and h1) and added to m1 when raw
-- retention deletes the chunk: in a bulk load the minute upserts and their moves into m1
-- were a third of the store's time. Every other chunk (pending = 0) has its minutes in m1 or
-- m1_fresh, as raw rows do. Older versions would miss the pending minutes, so this version
-- number keeps them out.
ALTER TABLE chunk ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX chunk_pending ON chunk (t0) WHERE pending
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _M15,
    _LATEST_REF,
    _DIRTY_HOUR,
    _CHUNKS,
    _M1_FRESH,
    _PENDING,
)
"""MIGRATIONS[i] takes a database from user_version i to i + 1."""
VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > VERSION:
        raise UnsupportedSchema(
            f"database schema version {found} is newer than this ifpulse supports "
            f"({VERSION}); upgrade ifpulse or use another database file"
        )
    return found


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to VERSION; refuse a database written by a newer ifpulse."""
    # Readers (the api) open an up-to-date database without taking the write lock.
    if _version(conn) == VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(_version(conn), VERSION):
            # Comments go first: a ';' in one would otherwise cut a statement in two.
            for statement in re.sub(r"--[^\n]*", "", MIGRATIONS[version]).split(";"):
                if statement.strip():
                    conn.execute(statement)
            # PRAGMA takes no bound parameters; the version is our own integer.
            conn.execute(f"PRAGMA user_version = {version + 1:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
