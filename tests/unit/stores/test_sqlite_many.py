"""execute_rows: multi-row statements give exactly what executemany of the one-row form gives."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from stores.sqlite_many import execute_rows

_TABLE = "CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL, s TEXT)"
_UPSERT = "ON CONFLICT (k) DO UPDATE SET n = n + excluded.n, s = excluded.s"


def _both(
    rows: list[tuple[int, int, str | None]], head: str, tail: str, limit: int | None = None
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The table after execute_rows, and after executemany of the one-row statement."""
    found = []
    runs: list[Callable[[sqlite3.Connection], object]] = [
        lambda c: execute_rows(c, head, rows, tail),
        lambda c: c.executemany(f"{head} VALUES (?, ?, ?) {tail}", rows),
    ]
    for run in runs:
        conn = sqlite3.connect(":memory:")
        if limit is not None:
            conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        conn.execute(_TABLE)
        run(conn)
        found.append(conn.execute("SELECT * FROM t ORDER BY k").fetchall())
        conn.close()
    return found[0], found[1]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 17, 255, 256, 300, 1000])
@pytest.mark.parametrize(
    ("head", "tail"),
    [("INSERT OR IGNORE INTO t", ""), ("INSERT OR REPLACE INTO t", ""), ("INSERT INTO t", _UPSERT)],
)
def test_same_as_executemany_with_repeated_keys(count: int, head: str, tail: str) -> None:
    # Keys repeat (k = i % 7) so later rows meet earlier ones inside one statement.
    rows = [(i % 7 if i % 3 else i, i, None if i % 5 == 0 else f"v{i}") for i in range(count)]
    got, want = _both(rows, head, tail)
    assert got == want


def test_a_low_bound_value_limit_splits_statements_smaller() -> None:
    # 999 was the default limit before SQLite 3.32; 10 leaves 3 rows of 3 values a statement.
    rows = [(i, i, "x") for i in range(50)]
    got, want = _both(rows, "INSERT INTO t", _UPSERT, limit=10)
    assert got == want == [(i, i, "x") for i in range(50)]


def test_a_row_that_cannot_bind_raises_like_executemany() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    with pytest.raises(OverflowError):
        execute_rows(conn, "INSERT INTO t", [(1, 2**63, "big")])
