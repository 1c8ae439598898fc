"""Many rows in few statements: multi-row VALUES instead of one executemany step per row.

sqlite3 releases the GIL around every statement step, and executemany steps once per row. In
the ingestor, paho's thread is always ready to run, so each release hands it the GIL and the
writer waits to get it back: a 500-sample batch made ~900 such hand-overs, which cost about
three times the SQL itself (bench/ingest_throughput.py: ~33 us of CPU per sample with the
store against ~12 us with no other thread). A multi-row statement binds its values without
releasing the GIL and runs in one step.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

_SIZES = (256, 64, 16, 4, 1)
"""Rows per statement, largest first: few distinct statements to prepare and cache, and a
batch of any size takes at most a few statements of each."""


@functools.lru_cache(maxsize=64)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join([one] * rows)} {tail}"


def execute_rows(
    conn: sqlite3.Connection,
    head: str,
    rows: Sequence[Sequence[Any]],
    tail: str = "",
) -> None:
    """Run `head VALUES (row), (row), ... tail` over `rows` (all of one width), in order.

    The same as executemany of the one-row statement: rows apply in order, so a later row
    of the same key sees (and may update) an earlier one, as with separate statements.
    """
    if not rows:
        return
    width = len(rows[0])
    # The limit on bound values per statement (32,766 since SQLite 3.32, 999 before).
    most = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    start, total = 0, len(rows)
    for size in _SIZES:
        if size > most:
            continue
        while total - start >= size:
            values = list(chain.from_iterable(rows[start : start + size]))
            conn.execute(_statement(head, width, size, tail), values)
            start += size
