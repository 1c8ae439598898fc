"""The spool keeps a put in one row: acks of part of a row, old spools converted."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.spool import Spool
from publisher.spool_rows import ROW_OVERHEAD_BYTES, Row, read_messages


def items(n: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"t/{i:04d}", b"p" * (i % 7 + 1)) for i in range(start, start + n)]


def size_of(topic: str, payload: bytes) -> int:
    return len(topic) + len(payload) + ROW_OVERHEAD_BYTES


def stored_bytes(spool: Spool) -> int:
    return int(spool.db.execute("SELECT coalesce(sum(size), 0) FROM batch").fetchone()[0])


def crash(spool: Spool) -> None:
    """Let go of a spool the way a killed process does: no clean close."""
    spool.db.close()
    os.close(spool._lock_fd)


def test_one_row_per_put_with_consecutive_ids(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    try:
        spool.put(items(3))
        spool.put(items(701, start=3), last_seq=703)
        spool.put([])  # nothing to store: no row
        rows = list(read_messages(spool.db))
        assert [r[0] for r in rows] == list(range(1, 705))
        assert [(t, p) for _, t, p in rows] == items(704)
        assert spool.db.execute("SELECT count(*) FROM batch").fetchone()[0] == 2
        assert stored_bytes(spool) == spool.bytes == sum(size_of(t, p) for t, p in items(704))
        assert spool.last_id == 704 and spool.depth == 704 and spool.last_seq == 703
        assert spool.peek(3, 1000) == rows[3:]
        assert spool.peek(700, 2) == rows[700:702]
    finally:
        spool.close()


def test_a_row_goes_when_all_its_messages_are_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    try:
        spool.put(items(4))
        assert spool.delete([1, 3]) == 2
        assert spool.depth == 2 and stored_bytes(spool) == spool.bytes  # the row stays whole
        assert [r[0] for r in spool.peek(0, 10)] == [2, 4]
        assert spool.delete([1, 2, 4]) == 2  # 1 was already gone
        assert spool.depth == 0 and spool.bytes == 0 == stored_bytes(spool)
    finally:
        spool.close()


def test_part_of_a_row_acknowledged_is_sent_again_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put(items(4), last_seq=3)
    spool.delete([1, 2])
    crash(spool)
    again = Spool(path)
    try:  # nothing is lost; what was acknowledged may come twice (the ingestor is idempotent)
        assert [(t, p) for _, t, p in again.peek(0, 10)] == items(4)
        assert again.depth == 4 and again.last_id == 4 and again.last_seq == 3
    finally:
        again.close()


def test_a_clean_close_keeps_only_what_was_not_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put(items(4))
    spool.put(items(2, start=4))
    spool.delete([2, 5])
    spool.close()
    again = Spool(path)
    try:
        left = [items(6)[i] for i in (0, 2, 3, 5)]
        assert [(t, p) for _, t, p in again.peek(0, 10)] == left
        assert again.depth == 4 and again.bytes == sum(size_of(t, p) for t, p in left)
        again.put(items(1, start=6))
        assert again.peek(0, 10)[-1][0] == 7  # ids are not reused
    finally:
        again.close()


def test_a_spool_of_one_row_per_message_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
        " payload BLOB NOT NULL, size INTEGER NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO meta VALUES ('last_seq', 41);"
    )
    old = items(2500)
    db.executemany(
        "INSERT INTO queue (topic, payload, size) VALUES (?, ?, ?)",
        [(t, p, size_of(t, p)) for t, p in old],
    )
    db.execute("DELETE FROM queue WHERE id IN (1, 2500)")  # acknowledged: ids 1 and 2500 gone
    db.commit()
    db.close()
    spool = Spool(path)
    try:
        assert [(t, p) for _, t, p in spool.peek(0, 5000)] == old[1:-1]
        assert spool.depth == 2498 and spool.last_seq == 41
        assert spool.bytes == sum(size_of(t, p) for t, p in old[1:-1]) == stored_bytes(spool)
        assert spool.last_id >= 2500  # the old ids are not given again
        tables = spool.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert "queue" not in {name for (name,) in tables}
    finally:
        spool.close()


def test_a_full_spool_drops_single_messages_of_a_row(tmp_path: Path) -> None:
    each = size_of("t/0000", b"p")  # items(n) payloads grow: 1..7 bytes
    spool = Spool(tmp_path / "spool.db", max_bytes=10 * (each + 6))
    try:
        spool.put(items(6))
        spool.delete([2])  # acknowledged: freed with its row, not counted as dropped
        dropped = spool.put(items(6, start=6))
        assert stored_bytes(spool) == spool.bytes <= spool.max_bytes
        left = spool.peek(0, 100)
        assert dropped == left[0][0] - 2 and spool.dropped == dropped
        assert [r[0] for r in left] == list(range(left[0][0], 13))
        assert spool.depth == len(left)
    finally:
        spool.close()


OPS = st.lists(
    st.tuples(
        st.integers(0, 40),  # messages put
        st.lists(st.integers(-2, 60), max_size=30),  # ids acknowledged with that put
        st.lists(st.integers(-2, 60), max_size=30),  # then deleted on their own
    ),
    max_size=12,
)


def live(spool: Spool, deleted: set[int]) -> list[Row]:
    return [r for r in read_messages(spool.db) if r[0] not in deleted]


@settings(max_examples=80, deadline=None)
@given(ops=OPS, cap_rows=st.integers(5, 200), crashed=st.booleans())
def test_depth_bytes_and_peek_match_the_table(
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[int, list[int], list[int]]],
    cap_rows: int,
    crashed: bool,
) -> None:
    path = tmp_path_factory.mktemp("spool") / "spool.db"
    spool = Spool(path, max_bytes=cap_rows * (5 + 4 + ROW_OVERHEAD_BYTES))
    made = 0
    deleted: set[int] = set()
    try:
        for put, acked, gone in ops:
            stored = {r[0] for r in read_messages(spool.db)}
            spool.put(items(put, start=made), last_seq=made + put, acked=acked)
            deleted.update(stored.intersection(acked))
            made += put
            stored = {r[0] for r in read_messages(spool.db)}
            spool.delete(gone)
            deleted.update(stored.intersection(gone))
            rows = live(spool, deleted)
            assert spool.depth == len(rows)
            assert spool.bytes == stored_bytes(spool) <= spool.max_bytes
            assert stored_bytes(spool) == sum(size_of(t, p) for _, t, p in read_messages(spool.db))
            assert spool.last_id == made
            assert spool.peek(0, 1000) == rows
        expected = [(t, p) for _, t, p in rows] if ops else []
    finally:
        crash(spool) if crashed else spool.close()
    again = Spool(path)
    try:  # after a crash, acknowledged messages of a row kept for others come back
        back = [(t, p) for _, t, p in again.peek(0, 1000)]
        if crashed:
            assert set(expected) <= set(back) and again.depth == len(back)
        else:
            assert back == expected and again.depth == len(back)
        assert again.bytes == stored_bytes(again)
    finally:
        again.close()
