"""Sample <-> raw row conversion for the SQLite store, and the SQL that rolls rows up."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas import COUNTER_NAMES, RATE_NAMES, Deltas, InterfaceKind, InterfaceSample, OperState
from stores.buckets import from_ms, to_ms

_I63 = 2**63
_U64 = 2**64

MetaKey = tuple[str, bool, str, int | None, int | None, str | None, str]
"""boot_id, is_up, oper_state, speed_mbps, mtu, mac, kind: the attributes a raw row refers to."""

RAW_COLUMNS: tuple[str, ...] = (
    "ts",
    "sid",
    "seq",
    "interval_s",
    "meta",
    *COUNTER_NAMES,
    *(f"d_{n}" for n in COUNTER_NAMES),
    *RATE_NAMES,
)
INSERT_RAW = (
    f"INSERT OR REPLACE INTO raw ({', '.join(RAW_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(RAW_COLUMNS))})"
)

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


def enc(value: int) -> int:
    """Fit an unsigned 64-bit counter into SQLite's signed INTEGER (two's complement)."""
    return value - _U64 if value >= _I63 else value


def dec(value: int) -> int:
    """Undo enc()."""
    return value + _U64 if value < 0 else value


def meta_key(sample: InterfaceSample) -> MetaKey:
    """The per-sample attributes that change rarely."""
    return (
        sample.boot_id,
        sample.is_up,
        sample.oper_state.value,
        sample.speed_mbps,
        sample.mtu,
        sample.mac,
        sample.kind.value,
    )


def meta_text(key: MetaKey) -> str:
    """The unique text form of a meta key, stored in the meta table."""
    return json.dumps(key, separators=(",", ":"))


def meta_from_text(text: str) -> MetaKey:
    """Parse meta_text()."""
    b, up, oper, speed, mtu, mac, kind = json.loads(text)
    return (b, bool(up), oper, speed, mtu, mac, kind)


def to_row(sample: InterfaceSample, sid: int, meta: int) -> tuple[Any, ...]:
    """The raw row of a sample, in RAW_COLUMNS order."""
    d = sample.delta
    return (
        to_ms(sample.ts),
        sid,
        sample.seq,
        sample.interval_s,
        meta,
        enc(sample.rx_bytes),
        enc(sample.tx_bytes),
        enc(sample.rx_packets),
        enc(sample.tx_packets),
        enc(sample.rx_errors),
        enc(sample.tx_errors),
        enc(sample.rx_dropped),
        enc(sample.tx_dropped),
        enc(sample.multicast),
        enc(sample.collisions),
        *(None if v is None else enc(v) for v in _deltas(d)),
        sample.rx_bytes_per_sec,
        sample.tx_bytes_per_sec,
        sample.rx_packets_per_sec,
        sample.tx_packets_per_sec,
    )


def _deltas(d: Deltas) -> tuple[int | None, ...]:
    return (
        d.rx_bytes,
        d.tx_bytes,
        d.rx_packets,
        d.tx_packets,
        d.rx_errors,
        d.tx_errors,
        d.rx_dropped,
        d.tx_dropped,
        d.multicast,
        d.collisions,
    )


def from_row(host: str, iface: str, meta: MetaKey, row: Sequence[Any]) -> InterfaceSample:
    """Rebuild the sample a raw row (RAW_COLUMNS order) was made from."""
    counters = row[5:15]
    deltas = row[15:25]
    rates = row[25:29]
    boot_id, is_up, oper, speed, mtu, mac, kind = meta
    fields: dict[str, Any] = {
        "host": host,
        "iface": iface,
        "ts": from_ms(row[0]),
        "seq": row[2],
        "boot_id": boot_id,
        "interval_s": row[3],
        "delta": Deltas(
            **{n: None if v is None else dec(v) for n, v in zip(COUNTER_NAMES, deltas, strict=True)}
        ),
        "is_up": is_up,
        "oper_state": OperState(oper),
        "speed_mbps": speed,
        "mtu": mtu,
        "mac": mac,
        "kind": InterfaceKind(kind),
    }
    fields.update((n, dec(v)) for n, v in zip(COUNTER_NAMES, counters, strict=True))
    fields.update(zip(RATE_NAMES, rates, strict=True))
    return InterfaceSample.model_validate(fields)
