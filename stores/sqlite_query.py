"""Series queries of the SQLite store: each piece of the range from the coarsest table that fits."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from stores.buckets import (
    HOUR_MS,
    MINUTE_MS,
    QUARTER_MS,
    RAW,
    Acc,
    AggRow,
    floor_to,
    fold,
    plan_segments,
)
from stores.sqlite_chunk_io import read_range
from stores.sqlite_chunks import AGG_FIELDS, aggregate
from stores.sqlite_rows import RAW_AGG, ROLLUP_AGG, ROLLUP_NAMES, run_sums

Accs = dict[int, dict[int, Acc | AggRow]]
"""sid -> bucket start (ms) -> aggregate (a lone row until a second one is folded in)."""


def series_accs(
    conn: sqlite3.Connection, sids: Sequence[int], start: int, end: int, step: int
) -> Accs:
    """Aggregates per series and step bucket over [start, end), from raw (rows and chunks), m1,
    m15 and h1."""
    out: Accs = {sid: {} for sid in sids}
    if not sids:
        return out
    for grain, lo, hi in plan_segments(start, end, step):
        for row in _segment(conn, grain, sids, lo, hi, step):
            fold(out[row[0]], row[1], row[2:])
    return out


def _segment(
    conn: sqlite3.Connection, grain: int, sids: Sequence[int], lo: int, hi: int, step: int
) -> Iterable[Sequence[Any]]:
    # Only "?" marks and our own integers are formatted in; every value is a bound parameter.
    marks = ",".join("?" * len(sids))
    step = int(step)
    if grain == RAW:
        sql = (
            f"SELECT sid, ts / {step:d} * {step:d}, {RAW_AGG} FROM raw "  # noqa: S608
            f"WHERE ts >= ? AND ts < ? AND sid IN ({marks}) GROUP BY sid, ts / {step:d}"
        )
        rows: list[Sequence[Any]] = run_sums(conn, sql, (lo, hi, *sids))
        chunked = read_range(conn, sids, lo, hi, fields=AGG_FIELDS)
        if chunked is not None:
            rows.extend(aggregate(chunked, step))
        return rows
    if grain == MINUTE_MS:
        # A minute is its m1 row plus its m1_fresh row (added since its hour's rollup) plus
        # the samples of pending chunks: all are read, and fold() adds up rows of one bucket.
        rows = [row for t in MINUTES for row in _rollup(conn, t, marks, sids, lo, hi, step, "")]
        return rows + _pending(conn, sids, lo, hi, step)
    # m15 and h1 rows of a stale hour (not yet rolled up by maintain) come from its minutes.
    # CROSS JOIN keeps dirty_hour (a few rows) outermost: with the range on r.t, SQLite would
    # otherwise walk every m1 row of the range and probe dirty_hour for each.
    table = TABLES[grain]
    fresh = (  # the hour (HOUR_MS) holding the row is not stale
        "AND NOT EXISTS (SELECT 1 FROM dirty_hour d WHERE d.t = r.t / 3600000 * 3600000)"
    )
    rows = _rollup(conn, table, marks, sids, lo, hi, step, fresh)
    for minutes in MINUTES:
        stale = (
            f"SELECT r.sid, r.t / {step:d} * {step:d}, {ROLLUP_AGG} FROM dirty_hour d "  # noqa: S608
            f"CROSS JOIN {minutes} r ON r.t >= d.t AND r.t < d.t + {HOUR_MS:d} "
            f"WHERE r.sid IN ({marks}) AND d.t >= ? AND d.t < ? AND r.t >= ? AND r.t < ? "
            f"GROUP BY r.sid, r.t / {step:d}"
        )
        rows += run_sums(conn, stale, (*sids, floor_to(lo, HOUR_MS), hi, lo, hi))
    stale_hours = conn.execute(
        "SELECT t FROM dirty_hour WHERE t >= ? AND t < ? ORDER BY t", (floor_to(lo, HOUR_MS), hi)
    ).fetchall()
    for a, b in _spans(t for (t,) in stale_hours):
        rows += _pending(conn, sids, max(lo, a), min(hi, b), step)
    return rows


def _pending(
    conn: sqlite3.Connection, sids: Sequence[int], lo: int, hi: int, step: int
) -> list[Sequence[Any]]:
    # Samples of pending chunks, which no minute row holds yet (stores.sqlite_chunk_io).
    found = read_range(conn, sids, lo, hi, pending=True, fields=AGG_FIELDS)
    return [] if found is None else list(aggregate(found, step))


def _spans(hours: Iterable[int]) -> Iterator[tuple[int, int]]:
    """[start, end) of each run of consecutive hours (ms, ascending)."""
    lo = hi = None
    for t in hours:
        if t != hi:
            if lo is not None and hi is not None:
                yield lo, hi
            lo = t
        hi = t + HOUR_MS
    if lo is not None and hi is not None:
        yield lo, hi


TABLES = {MINUTE_MS: "m1", QUARTER_MS: "m15", HOUR_MS: "h1"}
"""The rollup table of each grain."""
MINUTES = ("m1", "m1_fresh")
"""The tables a minute's aggregate is in: its m1 row plus its m1_fresh row."""
GRAINS = {table: grain for grain, table in TABLES.items()} | {"m1_fresh": MINUTE_MS}
ROLLUP_COLUMNS = ", ".join(f"r.{name}" for name in ROLLUP_NAMES)
"""The aggregate columns of a rollup row, in AGG_WIDTH order."""


def _rollup(
    conn: sqlite3.Connection,
    table: str,
    marks: str,
    sids: Sequence[int],
    lo: int,
    hi: int,
    step: int,
    extra: str,
) -> list[Sequence[Any]]:
    # The rows of the series in [lo, hi); every statement below binds (*sids, lo, hi).
    rows = f"FROM {table} r WHERE r.sid IN ({marks}) AND r.t >= ? AND r.t < ? {extra}"
    if step == GRAINS[table]:
        # One row per bucket already: read the rows as stored, without GROUP BY (whose
        # temporary b-tree made reading a day of m15 twice as slow).
        plain = f"SELECT r.sid, r.t, {ROLLUP_COLUMNS} {rows}"
        return conn.execute(plain, (*sids, lo, hi)).fetchall()
    if step // GRAINS[table] >= PER_BUCKET_ROWS:
        return _rollup_per_bucket(conn, rows, sids, lo, hi, step)
    bucket = f"r.t / {step:d}"
    sql = f"SELECT r.sid, {bucket} * {step:d}, {ROLLUP_AGG} {rows} GROUP BY r.sid, {bucket}"
    return run_sums(conn, sql, (*sids, lo, hi))


PER_BUCKET_ROWS = 8
"""From this many rollup rows per bucket and series, one statement per bucket is cheaper."""


def _rollup_per_bucket(
    conn: sqlite3.Connection, rows: str, sids: Sequence[int], lo: int, hi: int, step: int
) -> list[Sequence[Any]]:
    # GROUP BY sid alone follows the (sid, t) key, so SQLite aggregates as it reads; grouping
    # by sid and t / step instead sorts every row with all its columns in a temporary b-tree,
    # which cost more than the aggregation itself (a host's day at 15 min: ~13 ms vs ~9 ms).
    sql = f"SELECT r.sid, {ROLLUP_AGG} {rows} GROUP BY r.sid"
    out: list[Sequence[Any]] = []
    for bucket in range(lo // step * step, hi, step):
        found = run_sums(conn, sql, (*sids, max(lo, bucket), min(hi, bucket + step)))
        out.extend((sid, bucket, *agg) for sid, *agg in found)
    return out
