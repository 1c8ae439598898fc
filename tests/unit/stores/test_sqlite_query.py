"""SQLite series queries: one statement per bucket gives what one grouped statement gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stores import sqlite_query
from stores.base import Bucket
from stores.sqlite import SqliteStore
from tests.unit.api.helpers import history

END = datetime(2026, 11, 22, 12, 7, 31, 250000, tzinfo=UTC)
STEPS = [timedelta(minutes=15), timedelta(minutes=10), timedelta(hours=12), timedelta(hours=8)]


def _sums(buckets: list[Bucket]) -> tuple[int, int, int]:
    return sum(b.rx_bytes for b in buckets), sum(b.tx_packets for b in buckets), len(buckets)


@pytest.mark.parametrize("rolled_up", [False, True], ids=["stale hours", "rolled up"])
def test_per_bucket_statements_match_grouped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rolled_up: bool
) -> None:
    store = SqliteStore.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        for iface, rate in (("eth0", 1000.0), ("wlan0", 7.0)):
            store.write_batch(
                history("h", iface, end=END, span=timedelta(hours=30), every_s=20, rx_rate=rate)
            )
        if rolled_up:
            later = END + timedelta(hours=1)  # the hour holding END has ended too
            while store.backlog(later):
                store.maintain(later)
        start, end = END - timedelta(hours=26, seconds=13), END - timedelta(seconds=41)
        raw = store.series("h", None, start, end, timedelta(seconds=20))
        for step in STEPS:
            assert step // timedelta(minutes=1) >= sqlite_query.PER_BUCKET_ROWS or (
                step // timedelta(hours=1) >= sqlite_query.PER_BUCKET_ROWS
            )
            fast = store.series("h", None, start, end, step)
            with monkeypatch.context() as m:
                m.setattr(sqlite_query, "PER_BUCKET_ROWS", 10**9)
                grouped = store.series("h", None, start, end, step)
            assert fast == grouped, step
            assert _sums(fast.total)[:2] == _sums(raw.total)[:2], step
    finally:
        store.close()
