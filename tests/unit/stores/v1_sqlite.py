"""A database as ifpulse wrote it at schema version 1, for the tests of the migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from schemas import InterfaceSample, encode
from stores.buckets import HOUR_MS, MINUTE_MS, to_ms
from stores.sqlite_rows import RAW_AGG, enc, meta_key, meta_text, to_row
from stores.sqlite_schema import MIGRATIONS


def write_v1(path: Path, samples: Sequence[InterfaceSample]) -> None:
    """Create a version-1 database holding these samples: raw rows, m1, latest, hosts."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in str(MIGRATIONS[0]).split(";"):
            if statement.strip():
                conn.execute(statement)
        sids: dict[tuple[str, str], int] = {}
        metas: dict[str, int] = {}
        newest: dict[int, InterfaceSample] = {}
        for s in samples:
            sid = sids.setdefault((s.host, s.iface), len(sids) + 1)
            meta = metas.setdefault(meta_text(meta_key(s)), len(metas) + 1)
            row = to_row(s, to_ms(s.ts), sid, meta)
            row = tuple(enc(v) if type(v) is int else v for v in row)
            marks = ",".join("?" * len(row))
            conn.execute(f"INSERT OR REPLACE INTO raw VALUES ({marks})", row)
            if sid not in newest or newest[sid].ts <= s.ts:
                newest[sid] = s
        conn.executemany("INSERT INTO series (host, iface, id) VALUES (?, ?, ?)",
                         [(h, i, sid) for (h, i), sid in sids.items()])  # fmt: skip
        conn.executemany("INSERT INTO meta (key, id) VALUES (?, ?)", metas.items())
        conn.executemany(
            "INSERT INTO latest (sid, ts, body) VALUES (?, ?, ?)",
            [(sid, to_ms(s.ts), encode(s).decode()) for sid, s in newest.items()],
        )
        conn.executemany(
            "INSERT INTO hosts (host, sample_ts) VALUES (?, ?)",
            sorted({s.host: to_ms(s.ts) for s in sorted(newest.values(), key=_ts)}.items()),
        )
        conn.execute(
            f"INSERT INTO m1 SELECT sid, ts / {MINUTE_MS} * {MINUTE_MS}, {RAW_AGG} "
            f"FROM raw GROUP BY sid, ts / {MINUTE_MS}"
        )
        conn.execute(f"INSERT INTO dirty_h SELECT DISTINCT sid, t / {HOUR_MS} * {HOUR_MS} FROM m1")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")
    finally:
        conn.close()


def _ts(sample: InterfaceSample) -> object:
    return sample.ts
