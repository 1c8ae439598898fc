"""Column chunks: every sample round-trips exactly; their aggregates are raw rows' aggregates."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas import COUNTER_NAMES, InterfaceSample
from stores.buckets import HOUR_MS, MINUTE_MS, to_ms
from stores.sqlite_chunks import (
    aggregate,
    from_raw_rows,
    pack,
    raw_rows,
    runs,
    sort_by_series,
    sql_floor,
    unpack,
)
from stores.sqlite_dense import _columns
from stores.sqlite_many import execute_rows
from stores.sqlite_rows import RAW_AGG, REPLACE_RAW, encode_row, to_row
from stores.sqlite_schema import migrate
from tests.factories import sample

MAX = 2**64 - 1
counters = st.integers(min_value=0, max_value=MAX)
small = st.integers(min_value=0, max_value=10**6)
maybe = st.one_of(st.none(), small, counters)
rates = st.one_of(st.none(), st.floats(min_value=0, max_value=1e12, allow_nan=False))


@st.composite
def samples(draw: st.DrawFn) -> list[InterfaceSample]:
    """Samples of a few series at distinct times, some derived rates, nulls and huge values."""
    out = []
    base = sample().ts
    times = draw(st.lists(st.integers(0, 3 * HOUR_MS), min_size=1, max_size=40, unique=True))
    for k, offset in enumerate(times):
        delta = {n: draw(maybe) for n in COUNTER_NAMES}
        interval = draw(st.sampled_from([None, 10.0, 9.999, 0.5]))
        derived = draw(st.booleans())
        rx = delta["rx_bytes"]
        out.append(
            sample(
                iface=draw(st.sampled_from(["eth0", "wg0", "x'y"])),
                ts=base + timedelta(milliseconds=offset),
                seq=draw(st.integers(0, 2**63 - 1)),
                interval_s=interval,
                delta=delta,
                rx_bytes_per_sec=(rx / interval if rx is not None and interval else None)
                if derived
                else draw(rates),
                tx_packets_per_sec=draw(rates),
                **{n: draw(counters) for n in COUNTER_NAMES},
                is_up=k % 2 == 0,
            )
        )
    return out


def columns(batch: list[InterfaceSample]) -> tuple[dict[str, Any], dict[tuple[str, str], int]]:
    series = {key: k + 1 for k, key in enumerate(sorted({(s.host, s.iface) for s in batch}))}
    cols = _columns(batch, series, lambda keys: None, lambda key: 7)
    cols.pop("idx")
    return sort_by_series(cols), series


def expected_rows(batch: list[InterfaceSample], series: dict[tuple[str, str], int]) -> list[Any]:
    rows = [to_row(s, to_ms(s.ts), series[(s.host, s.iface)], 7) for s in batch]
    return sorted(rows, key=lambda r: (r[1], r[0]))


@settings(max_examples=150, deadline=None)
@given(samples())
def test_samples_round_trip_through_chunks(batch: list[InterfaceSample]) -> None:
    cols, series = columns(batch)
    packed = pack(cols, runs(cols["sid"], cols["ts"]))
    assert sum(n for *_, n, _blob in packed) == len(batch)
    for sid, t0, t1, _n, _blob in packed:
        assert t0 // HOUR_MS == t1 // HOUR_MS and sid in series.values()
    back = unpack([(sid, t0, blob) for sid, t0, _t1, _n, blob in packed])
    assert raw_rows(back) == expected_rows(batch, series)


@settings(max_examples=150, deadline=None)
@given(samples())
def test_stored_rows_convert_to_the_same_columns(batch: list[InterfaceSample]) -> None:
    cols, series = columns(batch)
    stored = [encode_row(r) for r in expected_rows(batch, series)]
    assert raw_rows(from_raw_rows(stored)) == raw_rows(cols)


@settings(max_examples=100, deadline=None)
@given(samples(), st.sampled_from([MINUTE_MS, 30_000, 7, HOUR_MS]))
def test_aggregates_equal_sql_over_raw_rows(batch: list[InterfaceSample], step: int) -> None:
    cols, series = columns(batch)
    with sqlite3.connect(":memory:", isolation_level=None) as conn:
        migrate(conn)
        execute_rows(conn, REPLACE_RAW, [encode_row(r) for r in expected_rows(batch, series)])
        try:
            want = conn.execute(
                f"SELECT sid, ts / {step} * {step}, {RAW_AGG} FROM raw "
                f"GROUP BY sid, ts / {step} ORDER BY sid, ts / {step}"
            ).fetchall()
        except sqlite3.OperationalError as exc:
            # Deltas that add up to 2**63 or more in one bucket: SQL's sum() has no answer to
            # compare with (the store sums in floats then: test_sqlite.py's
            # test_deltas_adding_up_past_64_bits_in_one_batch_are_stored).
            assume("integer overflow" not in str(exc))
            raise
    got = aggregate(cols, step)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:9] == w[:9] and g[10] == w[10] and g[13] == w[13]  # counts are exact
        for k in (9, 11, 12, 14):  # rate sums and maxima: float addition order may differ
            assert (g[k] is None) == (w[k] is None)
            if g[k] is not None:
                assert abs(g[k] - w[k]) <= 1e-9 * max(1.0, abs(w[k]))


def test_sql_floor_truncates_like_sqlite() -> None:
    import numpy as np

    ts = np.array([-61_000, -60_000, -1, 0, 59_999, 60_000], np.int64)
    assert sql_floor(ts, MINUTE_MS).tolist() == [-60_000, -60_000, 0, 0, 0, 60_000]


def test_derived_rates_are_not_stored() -> None:
    batch = [
        sample(
            ts=sample().ts + timedelta(seconds=10 * k),
            interval_s=10.0,
            delta={"rx_bytes": 100 * k, "tx_bytes": 7},
            rx_bytes_per_sec=10.0 * k,
            tx_bytes_per_sec=0.7,
        )
        for k in range(1, 30)
    ]
    cols, _series = columns(batch)
    derived = pack(cols, runs(cols["sid"], cols["ts"]))[0][4]
    batch[3] = batch[3].model_copy(update={"tx_bytes_per_sec": 0.75})
    cols, _series = columns(batch)
    stored = pack(cols, runs(cols["sid"], cols["ts"]))[0][4]
    assert len(stored) == len(derived) + 8 * len(batch)  # one rate column more
