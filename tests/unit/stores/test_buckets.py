"""Pure bucket math: exact time keys, segment plans, accumulators and host totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stores.base import Bucket
from stores.buckets import (
    HOUR_MS,
    MINUTE_MS,
    QUARTER_MS,
    RAW,
    Acc,
    finish,
    fold,
    from_ms,
    host_total,
    plan_segments,
    row_bucket,
    step_ms,
    to_ms,
)

T0 = to_ms(datetime(2026, 11, 22, tzinfo=UTC))


def test_ms_round_trip_is_exact() -> None:
    value = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    assert to_ms(value) == 1_795_348_800_123
    assert from_ms(to_ms(value)) == value


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2026, 11, 22))


@pytest.mark.parametrize("step", [timedelta(0), timedelta(seconds=-1), timedelta(microseconds=5)])
def test_bad_steps(step: timedelta) -> None:
    with pytest.raises(ValueError, match="step"):
        step_ms(step)


def test_plan_uses_hours_inside_and_finer_tables_at_the_edges() -> None:
    start, end = T0 + 25_000, T0 + 3 * HOUR_MS - 35_000
    plan = plan_segments(start, end, HOUR_MS)
    assert plan == [
        (RAW, start, T0 + MINUTE_MS),
        (MINUTE_MS, T0 + MINUTE_MS, T0 + QUARTER_MS),
        (QUARTER_MS, T0 + QUARTER_MS, T0 + HOUR_MS),
        (HOUR_MS, T0 + HOUR_MS, T0 + 2 * HOUR_MS),
        (QUARTER_MS, T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS - QUARTER_MS),
        (MINUTE_MS, T0 + 3 * HOUR_MS - QUARTER_MS, T0 + 3 * HOUR_MS - MINUTE_MS),
        (RAW, T0 + 3 * HOUR_MS - MINUTE_MS, end),
    ]
    assert plan[0][1] == start and plan[-1][2] == end


def test_plan_for_steps_that_rollups_cannot_serve() -> None:
    assert plan_segments(T0, T0 + HOUR_MS, 90_000) == [(RAW, T0, T0 + HOUR_MS)]
    assert plan_segments(T0, T0 + HOUR_MS, 10_000) == [(RAW, T0, T0 + HOUR_MS)]
    assert plan_segments(T0, T0 + 2 * HOUR_MS, 120_000) == [(MINUTE_MS, T0, T0 + 2 * HOUR_MS)]
    assert plan_segments(T0, T0, MINUTE_MS) == []
    # 15 min serves steps it divides, never 10 or 20 min.
    assert plan_segments(T0, T0 + HOUR_MS, 1_800_000) == [(QUARTER_MS, T0, T0 + HOUR_MS)]
    assert plan_segments(T0, T0 + HOUR_MS, 600_000) == [(MINUTE_MS, T0, T0 + HOUR_MS)]
    assert plan_segments(T0, T0 + HOUR_MS, 1_200_000) == [(MINUTE_MS, T0, T0 + HOUR_MS)]


def test_acc_means_rates_and_skips_nulls() -> None:
    acc = Acc()
    acc.add((2, 100, 10, 1, 1, 0, 0, 30.0, 2, 20.0, None, 0, None))
    acc.add((1, None, None, None, None, 3, 4, 60.0, 1, 60.0, None, 0, None))
    b = acc.bucket(from_ms(T0))
    assert (b.rx_bytes, b.tx_bytes, b.errors, b.drops) == (100, 10, 3, 4)
    assert b.rx_bytes_per_sec == pytest.approx(30.0)
    assert b.rx_bytes_per_sec_max == 60.0
    assert b.tx_bytes_per_sec is None and b.tx_bytes_per_sec_max is None


def test_finish_orders_and_drops_empty() -> None:
    full = Acc()
    full.add((1, 5, 5, 0, 0, 0, 0, None, 0, None, None, 0, None))
    buckets = finish({T0 + MINUTE_MS: full, T0: Acc()})
    assert [b.start for b in buckets] == [from_ms(T0 + MINUTE_MS)]


def _b(start: int, rx: int, rate: float | None) -> Bucket:
    return Bucket(from_ms(start), rx, 0, rate, None, rate, None, 1, 0, 0, 0)


def test_host_total_sums_interfaces() -> None:
    total = host_total([[_b(T0, 10, 1.0), _b(T0 + MINUTE_MS, 5, None)], [_b(T0, 20, 2.0)]])
    assert [(b.rx_bytes, b.rx_bytes_per_sec, b.rx_bytes_per_sec_max) for b in total] == [
        (30, 3.0, 3.0),
        (5, None, None),
    ]
    assert total[0].rx_packets == 2


@pytest.mark.parametrize(
    "row",
    [
        (2, 100, 10, 1, 1, 0, 0, 30.0, 2, 20.0, None, 0, None),
        (1, None, None, None, None, 3, 4, 60.0, 1, 60, 7, 1, 7),
        (3, 2**62, 0, 5, 5, None, None, None, 0, None, 0.5, 3, 0.25),
    ],
)
def test_a_lone_row_gives_what_an_acc_gives(row: tuple[int | float | None, ...]) -> None:
    acc = Acc()
    acc.add(row)
    assert row_bucket(from_ms(T0), row) == acc.bucket(from_ms(T0))
    two: dict[int, Acc | tuple[int | float | None, ...]] = {}
    fold(two, T0, row)
    assert finish(two) == [acc.bucket(from_ms(T0))]
    fold(two, T0, row)  # a second row turns it into an Acc
    acc.add(row)
    assert finish(two) == [acc.bucket(from_ms(T0))]
