"""The newest sample of each series: kept by reference to its raw row, by body once raw is gone.

write_samples() stores latest.body = IN_RAW ('') when the newest sample went into raw, so the
live write path neither encodes nor stores a second copy of each sample. Reading rebuilds
those samples from their raw rows. Before purge_raw() deletes rows, keep_bodies() writes the
body of every latest row that still points into them (an interface gone quiet for longer than
raw retention must keep its last sample), and compact_raw() before it moves rows into chunks.
A newest sample written as part of a chunk is stored with its body from the start.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from schemas import InterfaceSample, encode
from stores.sqlite_rows import RAW_COLUMNS, from_row, meta_from_text

log = logging.getLogger(__name__)

IN_RAW = ""
"""latest.body of a sample stored in raw at (latest.ts, sid): rebuilt from that row."""

_RAW = ", ".join(f"r.{c}" for c in RAW_COLUMNS)
_JOINED = (
    f"SELECT s.host, s.iface, l.body, m.key, {_RAW} FROM latest l "  # noqa: S608
    "JOIN series s ON s.id = l.sid "
    f"LEFT JOIN raw r ON l.body = '{IN_RAW}' AND r.ts = l.ts AND r.sid = l.sid "
    "LEFT JOIN meta m ON m.id = r.meta"
)


def read_latest(conn: sqlite3.Connection, host: str) -> list[InterfaceSample]:
    """The newest sample of each interface of a host, ordered by interface name."""
    rows = conn.execute(f"{_JOINED} WHERE s.host = ? ORDER BY s.iface", (host,)).fetchall()
    return [sample for row in rows if (sample := _sample(row)) is not None]


def keep_bodies(conn: sqlite3.Connection, before: int) -> None:
    """Give every latest row whose raw row is older than `before` its own body."""
    rows = conn.execute(f"{_JOINED} WHERE l.body = '{IN_RAW}' AND l.ts < ?", (before,)).fetchall()
    conn.executemany(
        "UPDATE latest SET body = ? WHERE ts = ? AND sid = ?",
        [
            (encode(sample).decode(), row[4], row[5])
            for row in rows
            if (sample := _sample(row)) is not None
        ],
    )


def _sample(row: Sequence[Any]) -> InterfaceSample | None:
    host, iface, body, meta, *raw = row
    if body:
        return InterfaceSample.model_validate_json(body)
    if raw[0] is None:
        # Cannot happen while purge_raw() and compact_raw() keep bodies first; one interface
        # missing from an answer is better than no answer for the whole host.
        log.warning("latest sample of %s/%s is neither stored nor in raw", host, iface)
        return None
    return from_row(host, iface, meta_from_text(meta), raw)
