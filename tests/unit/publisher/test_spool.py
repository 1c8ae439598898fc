"""The on-disk spool: FIFO, delete on ack, size cap, durability across reopen, one owner."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.spool import Spool, SpoolBusyError
from publisher.spool_rows import ROW_OVERHEAD_BYTES, read_messages


def items(n: int, start: int = 0, size: int = 100) -> list[tuple[str, bytes]]:
    return [(f"t/{i:03d}", str(i).encode().ljust(size, b".")) for i in range(start, start + n)]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool.db")
    yield s  # type: ignore[misc]
    s.close()


def test_oldest_first_and_delete_on_ack(spool: Spool) -> None:
    spool.put(items(5))
    rows = spool.peek(0, 3)
    assert [t for _, t, _ in rows] == ["t/000", "t/001", "t/002"]
    assert spool.peek(rows[-1][0], 10)[0][1] == "t/003"
    assert spool.delete([rows[1][0]]) == 1
    assert [t for _, t, _ in spool.peek(0, 10)] == ["t/000", "t/002", "t/003", "t/004"]
    assert spool.depth == 4
    assert spool.delete([rows[1][0], 999]) == 0  # already gone, or never there
    assert spool.depth == 4


def test_wal_mode(spool: Spool) -> None:
    assert spool.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ids_are_never_reused(spool: Spool) -> None:
    spool.put(items(3))
    ids = [i for i, _, _ in spool.peek(0, 10)]
    spool.delete(ids)
    spool.put(items(1, start=3))
    ((new_id, _, _),) = spool.peek(0, 10)
    assert new_id > max(ids)
    assert spool.last_id == new_id


def test_survives_reopen_with_backlog_and_last_seq(tmp_path: Path) -> None:
    path = tmp_path / "state" / "spool.db"
    first = Spool(path)
    first.put(items(10), last_seq=9)
    first.delete([i for i, _, _ in first.peek(0, 4)])
    first.close()
    again = Spool(path)
    assert again.depth == 6 and again.last_seq == 9
    assert [t for _, t, _ in again.peek(0, 10)] == [f"t/{i:03d}" for i in range(4, 10)]
    assert again.bytes == sum(len(t) + len(p) + ROW_OVERHEAD_BYTES for t, p in items(6, start=4))
    again.close()


def test_fresh_spool_starts_before_seq_zero(spool: Spool) -> None:
    assert spool.last_seq == -1 and spool.depth == 0 and spool.last_id == 0


def test_cap_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    row = 100 + 5 + ROW_OVERHEAD_BYTES  # payload, "t/NNN" topic, overhead
    spool = Spool(tmp_path / "spool.db", max_bytes=10 * row)
    assert spool.put(items(8)) == 0
    with caplog.at_level(logging.WARNING):
        dropped = spool.put(items(5, start=8))
    assert dropped == 3
    assert spool.dropped == 3 and spool.depth == 10
    assert spool.peek(0, 1)[0][1] == "t/003"
    assert "dropped the 3 oldest" in caplog.text
    assert spool.bytes <= spool.max_bytes
    spool.put(items(2, start=13))
    assert spool.dropped == 5
    spool.close()


def test_a_second_publisher_cannot_share_the_spool(spool: Spool) -> None:
    with pytest.raises(SpoolBusyError, match="in use"):
        Spool(spool.path)


def test_committed_rows_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    code = (
        "import os, signal; from publisher.spool import Spool;"
        f"s = Spool({str(path)!r}); s.put([('a', b'1'), ('b', b'2')], last_seq=1);"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path.cwd(), check=False)
    assert proc.returncode == -9
    spool = Spool(path)  # the lock died with the process
    assert [t for _, t, _ in spool.peek(0, 10)] == ["a", "b"] and spool.last_seq == 1
    spool.close()


def test_unreadable_spool_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "spool.db"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR):
        spool = Spool(path)
    assert spool.depth == 0
    assert any(p.name.startswith("spool.db.corrupt-") for p in tmp_path.iterdir())
    assert "moved aside" in caplog.text
    spool.close()


def test_failed_put_leaves_nothing_half_written(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool.put(items(2), last_seq=1)

    def disk_full(excess: int) -> tuple[int, int]:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(spool, "_drop_oldest", disk_full)
    with pytest.raises(sqlite3.Error):
        spool.put(items(3, start=2), last_seq=4)
    assert spool.depth == 2 and spool.last_seq == 1
    assert len(spool.peek(0, 10)) == 2


def test_permissions_are_private(spool: Spool) -> None:
    lock = spool.path.with_name(spool.path.name + ".lock")
    assert os.stat(lock).st_mode & 0o077 == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("put"), st.integers(0, 6)),
            st.tuples(st.just("delete"), st.lists(st.integers(0, 40), max_size=8)),
        ),
        max_size=25,
    ),
    cap_rows=st.integers(3, 30),
)
def test_peek_always_agrees_with_the_table(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, object]], cap_rows: int
) -> None:
    path = tmp_path_factory.mktemp("spool") / "spool.db"
    spool = Spool(path, max_bytes=cap_rows * (100 + 5 + ROW_OVERHEAD_BYTES))
    made = 0
    deleted: set[int] = set()
    try:
        for op, arg in ops:
            if op == "put":
                spool.put(items(arg, start=made))  # type: ignore[arg-type]
                made += arg  # type: ignore[operator]
            else:
                stored = {r[0] for r in read_messages(spool.db)}
                spool.delete(arg)  # type: ignore[arg-type]
                deleted.update(stored.intersection(arg))  # type: ignore[arg-type]
            table = [r for r in read_messages(spool.db) if r[0] not in deleted]
            assert spool.depth == len(table)
            for after in {0, *(row[0] - 1 for row in table), spool.last_id}:
                for limit in (1, 3, 100):
                    expected = [r for r in table if r[0] > after][:limit]
                    assert spool.peek(after, limit) == expected
    finally:
        spool.close()


def test_delete_takes_ranges_and_scattered_ids(spool: Spool) -> None:
    spool.put(items(10))
    ids = [i for i, _, _ in spool.peek(0, 10)]
    assert spool.delete(ids[2:5]) == 3
    assert spool.delete([ids[0], ids[7], ids[9], 12345]) == 3
    assert [i for i, _, _ in spool.peek(0, 10)] == [ids[1], ids[5], ids[6], ids[8]]
    assert spool.depth == 4
