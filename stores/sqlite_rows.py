"""Sample <-> raw row conversion for the SQLite store, and the SQL that rolls rows up."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from schemas import COUNTER_NAMES, Deltas, InterfaceKind, InterfaceSample, OperState
from stores.buckets import from_ms

_I63 = 2**63
_U64 = 2**64

MetaKey = tuple[str, bool, str, int | None, int | None, str | None, str]
"""boot_id, is_up, oper_state, speed_mbps, mtu, mac, kind: the attributes a raw row refers to."""

_HOT: tuple[str, ...] = COUNTER_NAMES[:8]
"""Counters whose deltas the rollups sum (all but multicast and collisions)."""
_COLD: tuple[str, ...] = COUNTER_NAMES[8:]
RAW_COLUMNS: tuple[str, ...] = (
    "ts",
    "sid",
    *(f"d_{n}" for n in _HOT),
    "rx_bytes_per_sec",
    "tx_bytes_per_sec",
    *(f"d_{n}" for n in _COLD),
    "rx_packets_per_sec",
    "tx_packets_per_sec",
    "seq",
    "interval_s",
    "meta",
    *COUNTER_NAMES,
)
"""The raw table's columns in storage order: what rollups read first."""
RAW_LIST = ", ".join(RAW_COLUMNS)
"""RAW_COLUMNS as an SQL column list."""
# Field values live in the models' __dict__ (pydantic v2 keeps every field there, defaults
# included): item lookups there cost about a third of attribute lookups on the model.
_item_hot = itemgetter(*_HOT)
_item_cold = itemgetter(*_COLD)
_item_byte_rates = itemgetter("rx_bytes_per_sec", "tx_bytes_per_sec")
_item_tail = itemgetter("rx_packets_per_sec", "tx_packets_per_sec", "seq", "interval_s")
_item_counters = itemgetter(*COUNTER_NAMES)
_item_meta = itemgetter("boot_id", "is_up", "oper_state", "speed_mbps", "mtu", "mac", "kind")
_INTO = f"INTO raw ({RAW_LIST})"
INSERT_RAW = f"INSERT OR IGNORE {_INTO}"
"""Insert new rows only (VALUES follow): the caller counts changes to learn whether any
row existed."""
REPLACE_RAW = f"INSERT OR REPLACE {_INTO}"
"""Insert or overwrite (VALUES follow): a sample written again replaces the stored one (last
write wins)."""

# One aggregate row per (sid, bucket) from raw rows: the Acc layout of stores.buckets.
# max(x, 0) drops two's-complement-stored deltas >= 2**63 (never real) instead of subtracting.
RAW_AGG = """
    count(*),
    sum(max(d_rx_bytes, 0)), sum(max(d_tx_bytes, 0)),
    sum(max(d_rx_packets, 0)), sum(max(d_tx_packets, 0)),
    coalesce(sum(max(d_rx_errors, 0)), 0) + coalesce(sum(max(d_tx_errors, 0)), 0),
    coalesce(sum(max(d_rx_dropped, 0)), 0) + coalesce(sum(max(d_tx_dropped, 0)), 0),
    sum(rx_bytes_per_sec), count(rx_bytes_per_sec), max(rx_bytes_per_sec),
    sum(tx_bytes_per_sec), count(tx_bytes_per_sec), max(tx_bytes_per_sec)
"""
ROLLUP_AGG = """
    sum(n), sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets),
    sum(errors), sum(drops),
    sum(rx_rate_sum), sum(rx_rate_n), max(rx_rate_max),
    sum(tx_rate_sum), sum(tx_rate_n), max(tx_rate_max)
"""

ROLLUP_NAMES: tuple[str, ...] = (
    "n", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "errors", "drops",
    "rx_rate_sum", "rx_rate_n", "rx_rate_max", "tx_rate_sum", "tx_rate_n", "tx_rate_max",
)  # fmt: skip
"""The aggregate columns of a rollup row (m1, m1_fresh, m15, h1) after sid and t, in
ROLLUP_AGG's (and stores.buckets.Acc's) order."""


# Adds rollup rows to the rows of the same (sid, t) in a rollup table (a batch's minutes to
# m1_fresh, m1_fresh or settled pending chunks to m1, pending chunks' quarters to m15): sums
# of NULL-able columns stay NULL only when both sides are NULL (SQL's sum() of no values),
# maxima ignore a NULL side.
ADD_M1 = """
ON CONFLICT (sid, t) DO UPDATE SET
    n = n + excluded.n,
    rx_bytes = coalesce(rx_bytes + excluded.rx_bytes, rx_bytes, excluded.rx_bytes),
    tx_bytes = coalesce(tx_bytes + excluded.tx_bytes, tx_bytes, excluded.tx_bytes),
    rx_packets = coalesce(rx_packets + excluded.rx_packets, rx_packets, excluded.rx_packets),
    tx_packets = coalesce(tx_packets + excluded.tx_packets, tx_packets, excluded.tx_packets),
    errors = errors + excluded.errors,
    drops = drops + excluded.drops,
    rx_rate_sum = coalesce(rx_rate_sum + excluded.rx_rate_sum, rx_rate_sum, excluded.rx_rate_sum),
    rx_rate_n = rx_rate_n + excluded.rx_rate_n,
    rx_rate_max = max(coalesce(rx_rate_max, excluded.rx_rate_max),
                      coalesce(excluded.rx_rate_max, rx_rate_max)),
    tx_rate_sum = coalesce(tx_rate_sum + excluded.tx_rate_sum, tx_rate_sum, excluded.tx_rate_sum),
    tx_rate_n = tx_rate_n + excluded.tx_rate_n,
    tx_rate_max = max(coalesce(tx_rate_max, excluded.tx_rate_max),
                      coalesce(excluded.tx_rate_max, tx_rate_max))
"""


ADD_FRESH = "INSERT INTO m1_fresh"
"""With rows of (sid, minute, RAW_AGG...) and ADD_M1: adds to the minutes (see m1_fresh)."""


def plus(a: int | float, b: int | float) -> int | float:
    """a + b as SQLite's `+` gives it: the integer, or past 2**63 - 1 the sum of two REALs
    (RAW_AGG adds the rx and tx errors, and drops, so; an INTEGER column cannot hold more)."""
    total = a + b
    return total if total < _I63 else float(a) + float(b)


def fit(total: int) -> int | float:
    """A sum that an INTEGER column cannot hold (2**63 or more) as a float, as run_sums does."""
    return total if total < _I63 else float(total)


def run_sums(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a statement of RAW_AGG or ROLLUP_AGG sums and fetch its rows (none for an INSERT).

    SQLite's sum() raises "integer overflow" past 2**63 - 1. No link moves that much, but the
    schema allows deltas up to 2**64 - 1, and one publisher sending a few such samples would
    otherwise make every rollup of their hour fail (and maintain() retries the oldest stale
    hour first, so no later hour would be rolled up either) and every read over them fail.
    Then the statement runs again with total(): those sums come back as floats, exact below
    2**53. A failed statement leaves nothing behind, so running it again is safe.
    """
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "integer overflow" not in str(exc):
            raise
    return conn.execute(sql.replace("sum(", "total("), params).fetchall()


def enc(value: int) -> int:
    """Fit an unsigned 64-bit counter into SQLite's signed INTEGER (two's complement)."""
    return value - _U64 if value >= _I63 else value


def dec(value: int) -> int:
    """Undo enc()."""
    return value + _U64 if value < 0 else value


def meta_key(sample: InterfaceSample) -> MetaKey:
    """The per-sample attributes that change rarely (enums compare and hash as their values)."""
    key: MetaKey = _item_meta(sample.__dict__)
    return key


def meta_text(key: MetaKey) -> str:
    """The unique text form of a meta key, stored in the meta table."""
    return json.dumps(key, separators=(",", ":"))


def meta_from_text(text: str) -> MetaKey:
    """Parse meta_text()."""
    b, up, oper, speed, mtu, mac, kind = json.loads(text)
    return (b, bool(up), oper, speed, mtu, mac, kind)


def to_row(sample: InterfaceSample, ts: int, sid: int, meta: int) -> tuple[Any, ...]:
    """The raw row of a sample, in RAW_COLUMNS order; values >= 2**63 still need encode_row()."""
    fields = sample.__dict__
    delta = fields["delta"].__dict__
    return (
        ts,
        sid,
        *_item_hot(delta),
        *_item_byte_rates(fields),
        *_item_cold(delta),
        *_item_tail(fields),
        meta,
        *_item_counters(fields),
    )


def encode_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row with every integer of 2**63 or more in two's complement (rare: done on overflow)."""
    return tuple(enc(v) if isinstance(v, int) and v >= _I63 else v for v in row)


def from_row(host: str, iface: str, meta: MetaKey, row: Sequence[Any]) -> InterfaceSample:
    """Rebuild the sample a raw row (RAW_COLUMNS order) was made from."""
    deltas = dict(zip(_HOT + _COLD, (*row[2:10], *row[12:14]), strict=True))
    boot_id, is_up, oper, speed, mtu, mac, kind = meta
    fields: dict[str, Any] = {
        "host": host,
        "iface": iface,
        "ts": from_ms(row[0]),
        "seq": row[16],
        "boot_id": boot_id,
        "interval_s": row[17],
        "delta": Deltas(**{n: None if v is None else dec(v) for n, v in deltas.items()}),
        "rx_bytes_per_sec": row[10],
        "tx_bytes_per_sec": row[11],
        "rx_packets_per_sec": row[14],
        "tx_packets_per_sec": row[15],
        "is_up": is_up,
        "oper_state": OperState(oper),
        "speed_mbps": speed,
        "mtu": mtu,
        "mac": mac,
        "kind": InterfaceKind(kind),
    }
    fields.update((n, dec(v)) for n, v in zip(COUNTER_NAMES, row[19:29], strict=True))
    return InterfaceSample.model_validate(fields)
