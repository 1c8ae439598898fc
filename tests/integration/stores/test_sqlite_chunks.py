"""SQLite chunks answer as raw rows do (their floats to rounding): a chunked store against a
rows-only one, fed the same random writes (bulk runs, live trickles, redeliveries, late samples)
and maintain() calls."""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import InterfaceSample
from stores import sqlite_chunk_io, sqlite_dense
from stores.sqlite import SqliteStore
from tests.integration.stores.contract_data import HOST, at, s

pytestmark = pytest.mark.integration

IFACES = ("eth0", "wlan0", "wg0")
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@contextmanager
def pair(query: str = "") -> Iterator[tuple[SqliteStore, SqliteStore, Path]]:
    """A store that chunks (and compacts) and one of raw rows only, in a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        chunked = SqliteStore.from_url(f"sqlite:///{tmp}/c.db?chunk_min=4{query}")
        rows = SqliteStore.from_url(f"sqlite:///{tmp}/r.db?chunk_min=0{query}")
        try:
            yield chunked, rows, Path(tmp) / "c.db"
        finally:
            chunked.close()
            rows.close()


def answers(store: SqliteStore, last: float) -> tuple[Any, ...]:
    """Everything a reader can ask, over the whole written range."""
    lo, hi = at(-60), at(last + 60)
    return (
        store.latest(HOST),
        list(store.samples(HOST, None, lo, hi)),
        list(store.samples(None, None, at(last / 3), hi)),
        store.series(HOST, None, lo, hi, timedelta(seconds=30)),
        store.series(HOST, "wlan0", lo, hi, MINUTE),
        store.series(HOST, None, lo, hi, timedelta(minutes=15)),
        store.series(HOST, "eth0", lo, hi, HOUR),
    )


def same(chunked: SqliteStore, rows: SqliteStore, last: float) -> bool:
    """The two stores' answers agree: samples exactly, buckets' rates to float rounding.

    A minute's aggregate may sit in m1 in one store and in m1_fresh in the other (a batch
    with a redelivered sample recomputes all its minutes from raw rows in the rows-only
    store, where the chunked one adds its dense series' minutes), so a bucket may add the
    same rates up in another order: 0.7 once, 0.6999999999999998 the other time.
    """
    mine, theirs = answers(chunked, last), answers(rows, last)
    if mine[:3] != theirs[:3]:
        return False
    for a, b in zip(mine[3:], theirs[3:], strict=True):
        left, right = _numbers(a), _numbers(b)
        if len(left) != len(right):
            return False
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-12):
                    return False
            elif x != y or type(x) is not type(y):
                return False
    return True


def _numbers(result: Any) -> list[Any]:
    """A SeriesResult's buckets as one flat list (total, then each interface by name)."""
    series = [result.total, *(result.interfaces[k] for k in sorted(result.interfaces))]
    out: list[Any] = [len(buckets) for buckets in series]
    for b in (b for buckets in series for b in buckets):
        out += [b.start.timestamp(), *astuple(b)[1:]]
    return out


def counts(db: Path) -> tuple[int, int]:
    """(raw rows, chunks) in a database file."""
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT count(*) FROM raw").fetchone()[0],
            conn.execute("SELECT count(*) FROM chunk").fetchone()[0],
        )


def bodiless(db: Path) -> int:
    """latest rows that point at a raw row instead of holding the sample (body '')."""
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM latest WHERE body = ''").fetchone()[0])


def run(ifaces: tuple[str, ...], first: int, n: int, every: int, rx: int) -> list[InterfaceSample]:
    """n samples per interface, `every` seconds apart, from `first` seconds."""
    return [s(first + k * every, i, rx=rx) for k in range(n) for i in ifaces]


ops = st.lists(
    st.one_of(
        st.tuples(  # a batch: interfaces, first second, samples each, spacing, rx delta
            st.just("write"),
            st.sets(st.sampled_from(IFACES), min_size=1).map(lambda x: tuple(sorted(x))),
            st.integers(0, 7200).map(lambda t: t // 10 * 10),
            st.integers(1, 40),
            st.sampled_from([10, 20]),
            st.sampled_from([1000, 7, 0]),
        ),
        # Now and then two days on: raw retention (1 d here) purges every sample written so
        # far, and the chunked store first adds its pending chunks' minutes to m1.
        st.tuples(st.just("maintain"), st.integers(0, 9000) | st.just(2 * 86400)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.sampled_from([1, sqlite_dense.BULK]))
def test_chunks_answer_as_raw_rows_do(steps: list[tuple[Any, ...]], bulk: int) -> None:
    # bulk=1: every batch takes the path of big ones (every sample into columns first).
    with (
        pair("&retention_raw=1d") as (chunked, rows, _db),
        patch.object(sqlite_dense, "BULK", bulk),
    ):
        last = 0.0
        for step in steps:
            if step[0] == "write":
                batch = run(*step[1:])
                last = max(last, max((x.ts - at(0)).total_seconds() for x in batch))
                for store in (chunked, rows):
                    store.write_batch(batch)
            else:
                for store in (chunked, rows):
                    for _ in range(30):
                        store.maintain(at(step[1]))
        assert same(chunked, rows, last)


@pytest.mark.parametrize("most", [50_000, 50], ids=["whole-slices", "a-few-series-at-once"])
def test_live_rows_become_chunks_and_late_samples_unpack_them(
    most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_chunk_io, "MOVE_ROWS", most)
    with pair() as (chunked, rows, db):
        # Live shape: each batch one sample per interface, for 40 minutes.
        for t in range(0, 2400, 10):
            batch = [s(t, i) for i in IFACES]
            chunked.write_batch(batch)
            rows.write_batch(batch)
        quiet = [s(0, "lo0")]  # its newest sample moves into a chunk with the first slice
        chunked.write_batch(quiet)
        rows.write_batch(quiet)
        assert counts(db) == (721, 0)
        for _ in range(30):
            chunked.maintain(at(2400))
        assert bodiless(db) == len(IFACES)  # live newest samples are raw rows: by reference
        raw, made = counts(db)
        assert (raw, made) == (3 * 60, 3 * 3 + 1)  # three 10-minute slices settled, and lo0
        assert same(chunked, rows, 2400)
        # A late sample inside a settled slice, and a redelivered one: last write wins.
        late = [s(605, "eth0", rx=3), s(610, "wlan0", rx=9)]
        for store in (chunked, rows):
            store.write_batch(late)
        assert counts(db)[1] == 3 * 3 + 1 - 2
        assert same(chunked, rows, 2400)


def test_bulk_batch_is_chunked_then_purged_by_retention() -> None:
    with pair("&retention_raw=1d") as (chunked, rows, db):
        bulk = run(IFACES, 0, 360, 10, 1000)  # an hour of three interfaces in one batch
        quiet = [s(4000, "lo0")]
        for store in (chunked, rows):
            store.write_batch(bulk + quiet)
        assert counts(db) == (1, 3)
        assert bodiless(db) == 1  # lo0, a raw row: the chunked ones keep their bodies
        assert same(chunked, rows, 4000)
        for store in (chunked, rows):
            for _ in range(30):
                store.maintain(at(3 * 86400))
        assert counts(db) == (0, 0)
        assert same(chunked, rows, 4000)
        assert [x.iface for x in chunked.latest(HOST)] == ["eth0", "lo0", "wg0", "wlan0"]


def test_counters_past_signed_64_bits_survive_chunks_explode_and_compaction() -> None:
    big = 2**64 - 1
    with pair() as (chunked, rows, db):
        batch = [s(t, rx_bytes=big - t, delta={"rx_bytes": 2**63 + t}) for t in range(0, 300, 10)]
        for store in (chunked, rows):
            store.write_batch(batch)
        assert counts(db) == (0, 1)
        for store in (chunked, rows):
            store.write_batch(batch[5:7])  # redelivered: the chunk turns into raw rows
        assert counts(db) == (30, 0)
        for store in (chunked, rows):
            for _ in range(10):
                store.maintain(at(3600))  # and back into a chunk, settled
        assert counts(db) == (0, 1)
        assert same(chunked, rows, 300)
        assert [x.rx_bytes for x in chunked.samples(HOST, "eth0", at(0), at(20))] == [big, big - 10]


def test_live_rows_after_a_drained_backlog_leave_its_chunks_alone() -> None:
    with pair() as (chunked, rows, db):
        backlog = run(IFACES, 0, 30, 10, 1000)  # a spool drained up to now, one batch
        live = [s(298, i) for i in IFACES]  # the next cycle, in the minute the backlog ends
        for store in (chunked, rows):
            store.write_batch(backlog)
            store.write_batch(live)
        assert counts(db) == (3, 3)  # nothing unpacked
        assert same(chunked, rows, 300)
        late = [s(95, "eth0", rx=5)]  # inside eth0's chunk: that one is unpacked
        for store in (chunked, rows):
            store.write_batch(late)
            store.write_batch(late)  # and redelivered
        assert counts(db) == (3 + 30 + 1, 2)
        assert same(chunked, rows, 300)
