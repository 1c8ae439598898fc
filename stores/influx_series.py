"""series(): pick raw or a rollup by step, read the not-yet-rolled-up tail raw, sum hosts."""

from __future__ import annotations

from datetime import datetime, timedelta

from stores.base import Bucket, SeriesResult
from stores.influx_http import InfluxHttp
from stores.influx_lp import duration_literal, from_ms, tag_iface, time_literal, to_ms, untag_iface
from stores.influx_read import all_series, bucket_from_row, buckets_query, rows
from stores.influx_schema import LEVEL_STEP, RESAMPLE_FOR, RP_1H, RP_1M, Layout


def rollup_level(layout: Layout, step: timedelta) -> str | None:
    """The coarsest rollup whose bucket divides the step, or None for raw."""
    if not layout.rollups:
        return None
    for level in (RP_1H, RP_1M):
        if step % LEVEL_STEP[level] == timedelta(0):
            return level
    return None


def rollup_cutoff(level: str, now: datetime, step: timedelta) -> datetime:
    """Buckets before this (step-aligned) time are final in the rollup; later ones read raw."""
    step_ms = step // timedelta(milliseconds=1)
    return from_ms(to_ms(now - RESAMPLE_FOR[level]) // step_ms * step_ms)


def _bounds(start: datetime, end: datetime) -> str:
    return f"time >= {time_literal(start)} AND time < {time_literal(end)}"


def _read(http: InfluxHttp, layout: Layout, query: str, into: dict[str, list[Bucket]]) -> None:
    for series in all_series(http.query(query, db=layout.db, rp=layout.rp)):
        for row in rows(series):
            into.setdefault(untag_iface(row["interface"]), []).append(bucket_from_row(row))


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
    per_iface: dict[str, list[Bucket]] = {}
    split = start
    if level is not None:
        split = min(max(rollup_cutoff(level, now, step), start), end)
        if split > start:
            source = layout.rollup(level)
            q = buckets_query(source, False, host, tag, _bounds(start, split), group)
            _read(http, layout, q, per_iface)
    if split < end:
        q = buckets_query(layout.raw(), True, host, tag, _bounds(split, end), group)
        _read(http, layout, q, per_iface)
    for buckets in per_iface.values():
        buckets.sort(key=lambda b: b.start)
    if iface is not None:
        return SeriesResult(total=per_iface.get(iface, []))
    return SeriesResult(total=host_total(per_iface), interfaces=dict(sorted(per_iface.items())))
