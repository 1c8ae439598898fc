"""Traffic summary per host and interface: /api/v1/traffic/summary."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import NowDep, StoreDep
from api.models import HostTraffic, InterfaceTraffic, PeriodName, TrafficSummary
from stores import Bucket
from stores.steps import PERIODS, choose_step

router = APIRouter(prefix="/api/v1/traffic", tags=["traffic"])

# 288 buckets make 5-minute buckets over 24 h: the usual base of a 95th-percentile rate.
_SUMMARY_POINTS = 288


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the 95th of 5-minute rates is the billing convention)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _peak(buckets: list[Bucket], rx: bool) -> float | None:
    values = [
        v
        for b in buckets
        for v in (
            (b.rx_bytes_per_sec_max, b.rx_bytes_per_sec)
            if rx
            else (b.tx_bytes_per_sec_max, b.tx_bytes_per_sec)
        )
        if v is not None
    ]
    return max(values) if values else None


def traffic_of(interface: str | None, buckets: list[Bucket]) -> InterfaceTraffic:
    """Totals, peak and 95th-percentile rates over a series of buckets."""
    rx_rates = [b.rx_bytes_per_sec for b in buckets if b.rx_bytes_per_sec is not None]
    tx_rates = [b.tx_bytes_per_sec for b in buckets if b.tx_bytes_per_sec is not None]
    return InterfaceTraffic(
        interface=interface,
        rx_bytes=sum(b.rx_bytes for b in buckets),
        tx_bytes=sum(b.tx_bytes for b in buckets),
        rx_peak_bytes_per_sec=_peak(buckets, rx=True),
        tx_peak_bytes_per_sec=_peak(buckets, rx=False),
        rx_p95_bytes_per_sec=percentile(rx_rates, 0.95),
        tx_p95_bytes_per_sec=percentile(tx_rates, 0.95),
        rx_packets=sum(b.rx_packets for b in buckets),
        tx_packets=sum(b.tx_packets for b in buckets),
        errors=sum(b.errors for b in buckets),
        drops=sum(b.drops for b in buckets),
    )


@router.get("/summary", response_model=TrafficSummary)
def traffic_summary(
    store: StoreDep,
    now: NowDep,
    period: Annotated[PeriodName, Query(description="how far back from now")] = "24h",
) -> TrafficSummary:
    """Per host and interface: bytes in/out, peak and 95th-percentile rates, errors, drops.

    Rates are the averages of buckets of `step_seconds` (5 minutes over 24 h); the peak
    is the highest single sample rate seen.
    """
    span = PERIODS[period]
    step = choose_step(span, _SUMMARY_POINTS)
    start = now - span
    servers = []
    for host in store.hosts():
        series = store.series(host.id, None, start, now, step)
        servers.append(
            HostTraffic(
                server_id=host.id,
                total=traffic_of(None, series.total),
                interfaces=[
                    traffic_of(name, buckets) for name, buckets in sorted(series.interfaces.items())
                ],
            )
        )
    return TrafficSummary(
        period=period, start=start, end=now, step_seconds=step.total_seconds(), servers=servers
    )
