"""Network sparklines: /api/v1/metrics/sparkline/{server_id}/network."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from api.deps import ContextDep, NowDep, StoreDep, find_host, read
from api.models import PeriodName, Problem, Sparkline, utc_text
from api.names import is_iface_name
from stores import Bucket, Store
from stores.steps import PERIODS, choose_step

router = APIRouter(prefix="/api/v1/metrics/sparkline", tags=["metrics"])


def spark_points(buckets: list[Bucket]) -> list[dict[str, Any]]:
    """Buckets as the JSON objects of SparkPoint, in time order.

    Plain dicts serialised once by pydantic-core give the bytes a Sparkline model would, at
    a fraction of the cost of a model per point (a host's day has ~1,000 points).
    """
    return [
        {
            "timestamp": utc_text(b.start),
            "rx_bytes": b.rx_bytes,
            "tx_bytes": b.tx_bytes,
            # A float field turns an int into a float: 1 -> 1.0, as SparkPoint would.
            "rx_bytes_per_sec": None if b.rx_bytes_per_sec is None else float(b.rx_bytes_per_sec),
            "tx_bytes_per_sec": None if b.tx_bytes_per_sec is None else float(b.tx_bytes_per_sec),
        }
        for b in sorted(buckets, key=lambda b: b.start)
    ]


@router.get(
    "/{server_id}/network",
    response_model=Sparkline,
    responses={404: {"model": Problem, "description": "unknown server"}},
)
async def network_sparkline(
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
    step = choose_step(PERIODS[period], points)
    ttl = min(context.settings.response_cache_s, step.total_seconds() / 10)

    def work() -> bytes:
        host = find_host(store, server_id)
        return context.cache.get(
            ("sparkline", host.id, interface, period, points),
            ttl,
            lambda: sparkline_json(store, host.id, interface, period, step, now),
        )

    return Response(await read(store, work), media_type="application/json")


def sparkline_json(
    store: Store,
    host_id: str,
    interface: str | None,
    period: PeriodName,
    step: timedelta,
    now: datetime,
) -> bytes:
    """The Sparkline JSON of a host (total plus each interface) or of one of its interfaces."""
    result: dict[str, Any] = {
        "server_id": host_id,
        "metric": "network",
        "interface": interface,
        "period": period,
        "step_seconds": step.total_seconds(),
        "data": [],
        "series": None,
    }
    if interface is None or is_iface_name(interface):  # else no interface can have the name
        span = PERIODS[period]
        series = store.series(host_id, interface, now - span, now, step)
        result["data"] = spark_points(series.total)
        if interface is None:
            result["series"] = [
                {"interface": name, "data": spark_points(buckets)}
                for name, buckets in sorted(series.interfaces.items())
            ]
    # inf_nan_mode as pydantic's default for models (ser_json_inf_nan="null").
    return to_json(result, inf_nan_mode="null")
