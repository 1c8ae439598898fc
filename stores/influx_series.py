"""series(): pick raw or a rollup by step, read the not-yet-rolled-up tail raw, sum hosts."""

from __future__ import annotations

from datetime import datetime, timedelta

from stores.base import Bucket, SeriesResult
from stores.influx_http import InfluxHttp
from stores.influx_lp import duration_literal, from_ms, tag_iface, time_literal, to_ms, untag_iface
from stores.influx_read import Row, all_series, bucket_from_row, buckets_query, rows
from stores.influx_schema import LEVEL_STEP, RESAMPLE_FOR, ROLLUP_FIELDS, RP_1H, RP_1M, Layout


def rollup_level(layout: Layout, step: timedelta) -> str | None:
    """The coarsest rollup whose bucket divides the step, or None for raw."""
    if not layout.rollups:
        return None
    for level in (RP_1H, RP_1M):
        if step % LEVEL_STEP[level] == timedelta(0):
            return level
    return None


def _floor(ts: datetime, unit: timedelta) -> datetime:
    unit_ms = unit // timedelta(milliseconds=1)
    return from_ms(to_ms(ts) // unit_ms * unit_ms)


def _ceil(ts: datetime, unit: timedelta) -> datetime:
    floor = _floor(ts, unit)
    return floor if floor == ts else floor + unit


def rollup_span(
    level: str, now: datetime, start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    """The part of [start, end) the rollup answers: whole rollup buckets that are final.

    Partial buckets at the edges and the recent tail the CQ may still rewrite are read raw.
    """
    unit = LEVEL_STEP[level]
    lo = _ceil(start, unit)
    hi = min(_floor(end, unit), _floor(now - RESAMPLE_FOR[level], unit))
    return (lo, hi) if lo < hi else None


def _bounds(start: datetime, end: datetime) -> str:
    return f"time >= {time_literal(start)} AND time < {time_literal(end)}"


Key = tuple[str, int]
_MAX_FIELDS = frozenset(name for name, _, _ in ROLLUP_FIELDS if name.endswith("_max"))


def _merge(a: Row, b: Row) -> Row:
    """Two aggregate rows of the same bucket (rollup part + raw edge) → one."""
    out = dict(a)
    for name, _, _ in ROLLUP_FIELDS:
        x, y = a.get(name), b.get(name)
        if x is None or y is None:
            out[name] = y if x is None else x
        else:
            out[name] = max(x, y) if name in _MAX_FIELDS else x + y
    return out


def _read(http: InfluxHttp, layout: Layout, query: str, into: dict[Key, Row]) -> None:
    for series in all_series(http.query(query, db=layout.db, rp=layout.rp)):
        for row in rows(series):
            key = (row["interface"], row["time"])
            into[key] = _merge(into[key], row) if key in into else row


def host_total(per_iface: dict[str, list[Bucket]]) -> list[Bucket]:
    """Per bucket: sums of bytes, packets, errors, drops, average and max rates over interfaces."""
    by_start: dict[datetime, list[Bucket]] = {}
    for buckets in per_iface.values():
        for b in buckets:
            by_start.setdefault(b.start, []).append(b)
    return [_sum(start, group) for start, group in sorted(by_start.items())]


def _sum_opt(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _sum(start: datetime, group: list[Bucket]) -> Bucket:
    # A host moves the sum of its interfaces' traffic, so rates add up across interfaces.
    return Bucket(
        start=start,
        rx_bytes=sum(b.rx_bytes for b in group),
        tx_bytes=sum(b.tx_bytes for b in group),
        rx_bytes_per_sec=_sum_opt([b.rx_bytes_per_sec for b in group]),
        tx_bytes_per_sec=_sum_opt([b.tx_bytes_per_sec for b in group]),
        rx_bytes_per_sec_max=_sum_opt([b.rx_bytes_per_sec_max for b in group]),
        tx_bytes_per_sec_max=_sum_opt([b.tx_bytes_per_sec_max for b in group]),
        rx_packets=sum(b.rx_packets for b in group),
        tx_packets=sum(b.tx_packets for b in group),
        errors=sum(b.errors for b in group),
        drops=sum(b.drops for b in group),
    )


def read_series(
    http: InfluxHttp,
    layout: Layout,
    now: datetime,
    host: str,
    iface: str | None,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> SeriesResult:
    """Buckets in [start, end) for one interface, or the host total plus every interface."""
    tag = tag_iface(iface) if iface is not None else None
    group = duration_literal(step)
    level = rollup_level(layout, step)
    span = rollup_span(level, now, start, end) if level is not None else None
    raw_parts = [(start, end)]
    merged: dict[Key, Row] = {}
    if level is not None and span is not None:
        q = buckets_query(layout.rollup(level), False, host, tag, _bounds(*span), group)
        _read(http, layout, q, merged)
        raw_parts = [(start, span[0]), (span[1], end)]
    for lo, hi in raw_parts:
        if lo < hi:
            q = buckets_query(layout.raw(), True, host, tag, _bounds(lo, hi), group)
            _read(http, layout, q, merged)
    per_iface: dict[str, list[Bucket]] = {}
    for (tag_value, _), row in sorted(merged.items()):
        per_iface.setdefault(untag_iface(tag_value), []).append(bucket_from_row(row))
    if iface is not None:
        return SeriesResult(total=per_iface.get(iface, []))
    return SeriesResult(total=host_total(per_iface), interfaces=dict(sorted(per_iface.items())))
