"""Wrap- and reset-aware deltas: table cases and properties (never negative, never a spike)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.counters import (
    UNKNOWN_SPEED_BYTES_PER_SEC,
    WRAP_32,
    compute_deltas,
    counter_delta,
    plausible_max,
)
from schemas import COUNTER_NAMES

MBIT_100 = 100
MAX64 = 2**64 - 1


@pytest.mark.parametrize(
    ("prev", "cur", "speed", "elapsed", "expected"),
    [
        pytest.param(1000, 5000, 100, 10, 4000, id="plain increase"),
        pytest.param(5000, 5000, 100, 10, 0, id="idle"),
        # 100 Mbit/s for 10 s is 125 MB (137.5 MB with headroom); 2**32 - 4.25e9 + 50e6 is 95 MB
        pytest.param(
            4_250_000_000,
            50_000_000,
            MBIT_100,
            10,
            WRAP_32 - 4_250_000_000 + 50_000_000,
            id="32-bit wrap, 100 Mbit",
        ),
        pytest.param(
            4_000_000_000, 50_000_000, MBIT_100, 10, None, id="too far for 100 Mbit: reset"
        ),
        pytest.param(3_000_000_000, 1_000, MBIT_100, 10, None, id="32-bit counter reset to zero"),
        pytest.param(2**40, 5_000, 10_000, 10, None, id="64-bit counter went down: reset"),
        pytest.param(
            WRAP_32 - 10, 2**33, 10_000, 10, 2**33 - WRAP_32 + 10, id="crossing 2**32 upward"
        ),
        pytest.param(WRAP_32 - 100, 50, None, 1, 150, id="wrap, unknown speed"),
        pytest.param(1_000_000, 10, None, 1, None, id="reset, unknown speed"),
        pytest.param(MAX64, 0, 100_000, 10, None, id="64-bit max to zero: reset"),
    ],
)
def test_byte_counter_table(
    prev: int, cur: int, speed: int | None, elapsed: float, expected: int | None
) -> None:
    assert counter_delta(prev, cur, plausible_max("rx_bytes", speed, elapsed)) == expected


def test_packet_counters_use_a_packet_cap() -> None:
    # 100 Mbit/s, 10 s: at most ~2.1 M minimum-size frames.
    cap = plausible_max("rx_packets", MBIT_100, 10)
    assert 2_000_000 < cap < 2_200_000
    assert counter_delta(WRAP_32 - 1_000_000, 500_000, cap) == 1_500_000
    assert counter_delta(WRAP_32 - 2_000_000, 500_000, cap) is None
    assert plausible_max("rx_errors", MBIT_100, 10) == cap


def test_one_reset_nulls_every_delta_of_the_interface() -> None:
    prev = [1000] * len(COUNTER_NAMES)
    cur = [10] + [2000] * (len(COUNTER_NAMES) - 1)  # rx_bytes went down
    assert compute_deltas(COUNTER_NAMES, prev, cur, 10, 1000) is None
    assert compute_deltas(COUNTER_NAMES, prev, [2000] * 10, 10, 1000) == (1000,) * 10


def test_no_elapsed_time_means_unknown() -> None:
    same = [1] * len(COUNTER_NAMES)
    assert compute_deltas(COUNTER_NAMES, same, same, 0, 1000) is None


def test_zero_speed_counts_as_unknown() -> None:
    assert plausible_max("rx_bytes", 0, 1) == UNKNOWN_SPEED_BYTES_PER_SEC * 1.1


counters = st.integers(min_value=0, max_value=MAX64)
counters32 = st.integers(min_value=0, max_value=WRAP_32 - 1)
speeds = st.one_of(st.none(), st.integers(min_value=1, max_value=400_000))
elapsed = st.floats(min_value=0.05, max_value=3600, allow_nan=False)
names = st.sampled_from(COUNTER_NAMES)


@given(prev=counters, cur=counters, speed=speeds, dt=elapsed, name=names)
def test_delta_is_never_negative(
    prev: int, cur: int, speed: int | None, dt: float, name: str
) -> None:
    delta = counter_delta(prev, cur, plausible_max(name, speed, dt))
    assert delta is None or delta >= 0


@given(prev=counters, cur=counters, speed=speeds, dt=elapsed, name=names)
def test_a_counter_that_went_down_never_gives_more_than_the_plausible_cap(
    prev: int, cur: int, speed: int | None, dt: float, name: str
) -> None:
    cap = plausible_max(name, speed, dt)
    delta = counter_delta(prev, cur, cap)
    if cur < prev:
        assert delta is None or delta <= cap
    else:
        assert delta == cur - prev  # an increase is real traffic, reported as is


@given(prev=st.integers(min_value=WRAP_32, max_value=MAX64), cur=counters, dt=elapsed)
def test_a_64_bit_counter_that_went_down_is_always_a_reset(prev: int, cur: int, dt: float) -> None:
    if cur < prev:
        assert counter_delta(prev, cur, plausible_max("rx_bytes", None, dt)) is None


@given(prev=counters32, traffic=st.integers(min_value=0, max_value=10**9), dt=elapsed)
def test_real_32_bit_traffic_within_line_rate_is_recovered_exactly(
    prev: int, traffic: int, dt: float
) -> None:
    speed = 10_000  # 10 Gbit/s
    cap = plausible_max("rx_bytes", speed, dt)
    cur = (prev + traffic) % WRAP_32
    delta = counter_delta(prev, cur, cap)
    if traffic <= cap:
        assert delta == traffic
    else:
        assert delta is None or delta == traffic


ten = st.lists(counters, min_size=len(COUNTER_NAMES), max_size=len(COUNTER_NAMES))


@given(prev=ten, cur=ten, speed=speeds, dt=elapsed)
def test_compute_deltas_is_all_or_nothing_and_never_negative(
    prev: list[int], cur: list[int], speed: int | None, dt: float
) -> None:
    deltas = compute_deltas(COUNTER_NAMES, prev, cur, dt, speed)
    if deltas is not None:
        assert len(deltas) == len(COUNTER_NAMES) and min(deltas) >= 0
        for name, before, now, delta in zip(COUNTER_NAMES, prev, cur, deltas, strict=True):
            if now < before:  # only a plausible wrap gets through
                assert delta <= plausible_max(name, speed, dt)
