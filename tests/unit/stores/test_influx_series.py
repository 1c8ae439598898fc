"""Which source answers which part of a series, and how partial buckets merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stores.influx import version_tuple
from stores.influx_read import bucket_from_row
from stores.influx_schema import RP_1H, RP_1M, Layout
from stores.influx_series import _merge, rollup_level, rollup_span

T0 = datetime(2026, 11, 20, tzinfo=UTC)
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)
V1 = Layout("db", rollups=True)


def test_rollup_level_by_step() -> None:
    assert rollup_level(V1, timedelta(seconds=10)) is None
    assert rollup_level(V1, timedelta(seconds=90)) is None
    assert rollup_level(V1, 5 * MIN) == RP_1M
    assert rollup_level(V1, 3 * HOUR) == RP_1H
    assert rollup_level(Layout("db", rollups=False), HOUR) is None


def test_rollup_span_whole_final_buckets_only() -> None:
    now = T0 + timedelta(days=2)
    assert rollup_span(
        RP_1M, now, T0 + timedelta(seconds=25), T0 + 10 * MIN + timedelta(seconds=5)
    ) == (
        T0 + MIN,
        T0 + 10 * MIN,
    )
    # The last 2 h may still be rewritten by the 1h CQ: read raw there.
    recent = rollup_span(RP_1H, T0 + 5 * HOUR + 10 * MIN, T0, T0 + 6 * HOUR)
    assert recent == (T0, T0 + 3 * HOUR)
    assert rollup_span(RP_1M, now, T0 + timedelta(seconds=5), T0 + timedelta(seconds=50)) is None


def test_merge_partial_bucket_rows() -> None:
    a = {
        "time": 0,
        "interface": "eth0",
        "n": 2,
        "rx_bytes": 100,
        "rx_bps_sum": 20.0,
        "rx_bps_n": 2,
        "rx_bps_max": 15.0,
        "tx_bytes": None,
    }
    b = {
        "time": 0,
        "interface": "eth0",
        "n": 1,
        "rx_bytes": 50,
        "rx_bps_sum": 30.0,
        "rx_bps_n": 1,
        "rx_bps_max": 30.0,
        "tx_bytes": 7,
    }
    bucket = bucket_from_row(_merge(a, b))
    assert (bucket.rx_bytes, bucket.tx_bytes) == (150, 7)
    assert bucket.rx_bytes_per_sec == 50.0 / 3
    assert bucket.rx_bytes_per_sec_max == 30.0
    assert bucket.tx_bytes_per_sec is None


def test_version_tuple() -> None:
    assert version_tuple("1.6.7~rc0") == (1, 6)
    assert version_tuple("v2.7.11") == (2, 7)
    assert version_tuple("3.0.1") == (3, 0)
    assert version_tuple("") == (0, 0)
