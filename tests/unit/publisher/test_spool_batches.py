"""The spool's batched statements: many rows per INSERT, sizes from DELETE ... RETURNING or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import publisher.spool as spool_module
from publisher.spool import ROW_OVERHEAD_BYTES, Spool


def items(n: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"t/{i:04d}", b"p" * (i % 7 + 1)) for i in range(start, start + n)]


def table(spool: Spool) -> list[tuple[int, str, bytes, int]]:
    return spool.db.execute("SELECT id, topic, payload, size FROM queue ORDER BY id").fetchall()


def test_a_put_larger_than_one_statement_keeps_ids_consecutive(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    try:
        spool.put(items(3))
        spool.put(items(701, start=3), last_seq=703)
        rows = table(spool)
        assert [r[0] for r in rows] == list(range(1, 705))
        assert [r[1] for r in rows] == [t for t, _ in items(704)]
        assert [r[3] for r in rows] == [len(t) + len(p) + ROW_OVERHEAD_BYTES for t, p in items(704)]
        assert spool.last_id == 704 and spool.depth == 704 and spool.last_seq == 703
        assert spool.peek(3, 1000) == [(i, t, p) for i, t, p, _ in rows[3:]]
    finally:
        spool.close()


OPS = st.lists(
    st.tuples(
        st.integers(0, 40),  # rows put
        st.lists(st.integers(-2, 60), max_size=30),  # ids acknowledged with that put
        st.lists(st.integers(-2, 60), max_size=30),  # then deleted on their own
    ),
    max_size=12,
)


@pytest.mark.parametrize("returning", [True, False])
@settings(max_examples=60, deadline=None)
@given(ops=OPS, cap_rows=st.integers(5, 200))
def test_depth_and_bytes_match_the_table_with_and_without_returning(
    tmp_path_factory: pytest.TempPathFactory,
    returning: bool,
    ops: list[tuple[int, list[int], list[int]]],
    cap_rows: int,
) -> None:
    path = tmp_path_factory.mktemp("spool") / "spool.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spool_module, "_RETURNING", returning)
        spool = Spool(path, max_bytes=cap_rows * (5 + 4 + ROW_OVERHEAD_BYTES))
        made = 0
        try:
            for put, acked, deleted in ops:
                spool.put(items(put, start=made), last_seq=made + put, acked=acked)
                made += put
                spool.delete(deleted)
                rows = table(spool)
                assert spool.depth == len(rows)
                assert spool.bytes == sum(r[3] for r in rows)
                assert spool.last_id == made
                assert spool.peek(0, 1000) == [(i, t, p) for i, t, p, _ in rows]
        finally:
            spool.close()
