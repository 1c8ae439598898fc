"""Prometheus exposition: /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import ContextDep, read

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition"}},
)
async def prometheus_metrics(request: Request, context: ContextDep) -> Response:
    """Counters and gauges of every host and interface, in Prometheus text format.

    Scrapes within `--response-cache-s` seconds of each other get the same answer.
    """
    registry: CollectorRegistry = request.app.state.registry
    body = await read(
        context.store,
        lambda: context.cache.get(
            ("metrics",), context.settings.response_cache_s, lambda: generate_latest(registry)
        ),
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
