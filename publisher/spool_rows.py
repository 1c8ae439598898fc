"""The spool's on-disk format: one row per put (a cycle's messages), and reading one back.

A row holds the messages of one put, with consecutive ids from its `first`. Kept apart from
the queue logic of publisher/spool.py so that tests and tools can read a spool file offline.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator, Sequence
from itertools import accumulate

ROW_OVERHEAD_BYTES = 32  # rough per-message cost of its row share and key, for the size cap
SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    first INTEGER PRIMARY KEY,
    count INTEGER NOT NULL,
    size INTEGER NOT NULL,
    ends BLOB NOT NULL,
    topics TEXT NOT NULL,
    payloads BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# first: the id of the row's first message, the others follow; size: what the cap counts
# (sum of len(topic) + len(payload) + ROW_OVERHEAD_BYTES); ends: where each topic ends in
# topics, then where each payload ends in payloads ('<Q' each). Small columns come first, so
# reading them never touches the payloads' overflow pages.
INSERT = "INSERT INTO batch (first, count, size, ends, topics, payloads) VALUES (?, ?, ?, ?, ?, ?)"
SELECT_FROM = (
    "SELECT first, count, size, ends, topics, payloads FROM batch"
    " WHERE first >= coalesce((SELECT max(first) FROM batch WHERE first <= ?), 0) ORDER BY first"
)

Row = tuple[int, str, bytes]
"""A message: its id, topic and payload."""


def pack(items: Sequence[tuple[str, bytes]]) -> tuple[int, bytes, str, bytes]:
    """A row's size, ends, topics and payloads for `items` (see SCHEMA)."""
    topics = [t for t, _ in items]
    payloads = [p for _, p in items]
    ends = [*accumulate(map(len, topics)), *accumulate(map(len, payloads))]
    n = len(items)
    size = ends[n - 1] + ends[-1] + n * ROW_OVERHEAD_BYTES
    return size, struct.pack(f"<{2 * n}Q", *ends), "".join(topics), b"".join(payloads)


def unpack(first: int, count: int, ends_raw: bytes, topics: str, payloads: bytes) -> list[Row]:
    """The messages of one stored row, oldest first."""
    ends = struct.unpack(f"<{2 * count}Q", ends_raw)
    rows: list[Row] = []
    t0 = p0 = 0
    for i in range(count):
        t1, p1 = ends[i], ends[count + i]
        rows.append((first + i, topics[t0:t1], bytes(payloads[p0:p1])))
        t0, p0 = t1, p1
    return rows


def size_of(row: Row) -> int:
    """What the size cap counts for one message."""
    return len(row[1]) + len(row[2]) + ROW_OVERHEAD_BYTES


def read_messages(db: sqlite3.Connection) -> Iterator[Row]:
    """Every message stored in a spool database, oldest first (also for reading one offline).

    Messages acknowledged in part of a row are included: only the spool in use knows them.
    """
    for first, count, _, ends, topics, payloads in db.execute(SELECT_FROM, (0,)):
        yield from unpack(first, count, ends, topics, payloads)
