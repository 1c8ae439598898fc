"""Network sparklines: /api/v1/metrics/sparkline/{server_id}/network."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from api.deps import ContextDep, NowDep, StoreDep, find_host
from api.models import InterfaceSeries, PeriodName, Problem, Sparkline, SparkPoint
from api.names import is_iface_name
from stores import Bucket, Store
from stores.steps import PERIODS, choose_step

router = APIRouter(prefix="/api/v1/metrics/sparkline", tags=["metrics"])
_SPARKLINE = TypeAdapter(Sparkline)
"""Serialises exactly as FastAPI would for response_model=Sparkline (same adapter settings)."""


def spark_points(buckets: list[Bucket]) -> list[SparkPoint]:
    """Buckets as sparkline points, in time order."""
    return [
        SparkPoint(
            timestamp=b.start,
            rx_bytes=b.rx_bytes,
            tx_bytes=b.tx_bytes,
            rx_bytes_per_sec=b.rx_bytes_per_sec,
            tx_bytes_per_sec=b.tx_bytes_per_sec,
        )
        for b in sorted(buckets, key=lambda b: b.start)
    ]


@router.get(
    "/{server_id}/network",
    response_model=Sparkline,
    responses={404: {"model": Problem, "description": "unknown server"}},
)
def network_sparkline(
    server_id: str,
    store: StoreDep,
    context: ContextDep,
    now: NowDep,
    period: Annotated[PeriodName, Query(description="how far back from now")] = "1h",
    interface: Annotated[
        str | None, Query(description="one interface; omit for the host total plus each")
    ] = None,
    points: Annotated[
        int | None, Query(ge=1, le=1000, description="about how many buckets (default 60-120)")
    ] = None,
) -> Response:
    """Bytes moved per bucket and average rates over the period, ordered by time.

    With `interface`, that interface only (an interface the host never had gives
    `data: []`). Without it, `data` is the host total and `series` holds each interface.
    An identical request within `--response-cache-s` seconds (at most a tenth of a bucket)
    gets the same answer.
    """
    host = find_host(store, server_id)
    step = choose_step(PERIODS[period], points)
    ttl = min(context.settings.response_cache_s, step.total_seconds() / 10)
    body = context.cache.get(
        ("sparkline", host.id, interface, period, points),
        ttl,
        lambda: _SPARKLINE.dump_json(sparkline(store, host.id, interface, period, step, now)),
    )
    return Response(body, media_type="application/json")


def sparkline(
    store: Store,
    host_id: str,
    interface: str | None,
    period: PeriodName,
    step: timedelta,
    now: datetime,
) -> Sparkline:
    """The sparkline of a host (total plus each interface) or of one of its interfaces."""
    result = Sparkline(
        server_id=host_id,
        interface=interface,
        period=period,
        step_seconds=step.total_seconds(),
        data=[],
    )
    if interface is not None and not is_iface_name(interface):
        return result  # a name no interface can have: nothing to look up
    span = PERIODS[period]
    series = store.series(host_id, interface, now - span, now, step)
    per_iface = None
    if interface is None:
        per_iface = [
            InterfaceSeries(interface=name, data=spark_points(buckets))
            for name, buckets in sorted(series.interfaces.items())
        ]
    return result.model_copy(update={"data": spark_points(series.total), "series": per_iface})
