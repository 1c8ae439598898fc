"""Raw row encoding: every field round-trips, including 64-bit counters past SQLite's range."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stores.buckets import to_ms
from stores.sqlite_rows import (
    dec,
    enc,
    encode_row,
    from_row,
    meta_from_text,
    meta_key,
    meta_text,
    to_row,
)
from tests.factories import sample

MAX = 2**64 - 1


@given(st.integers(min_value=0, max_value=MAX))
def test_counter_encoding_fits_sqlite_and_round_trips(value: int) -> None:
    assert -(2**63) <= enc(value) < 2**63
    assert dec(enc(value)) == value


def test_sample_round_trips_through_a_row() -> None:
    s = sample(
        iface="wg+1",
        rx_bytes=MAX,
        interval_s=10.0,
        delta={"rx_bytes": 2**63, "tx_bytes": 5},
        rx_bytes_per_sec=1.5,
        mac=None,
    )
    key = meta_key(s)
    assert meta_from_text(meta_text(key)) == key
    assert from_row(s.host, s.iface, key, encode_row(to_row(s, to_ms(s.ts), 1, 1))) == s
