"""Interfaces whose error or drop rate is over its threshold: /api/v1/alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import StoreDep, is_host_id, read
from api.models import AlertPublic

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
async def active_alerts(
    store: StoreDep,
    server_id: Annotated[str | None, Query(description="one host; omit for all")] = None,
) -> list[AlertPublic]:
    """Alerts active now, as the publishers last reported them, ordered by host and interface."""
    if server_id is not None and not is_host_id(server_id):
        return []
    states = await read(store, lambda: store.alerts(server_id))
    return [
        AlertPublic(
            server_id=a.host,
            interface=a.iface,
            active=a.active,
            reason=a.reason,
            since=a.since,
            errors_per_sec=a.errors_per_sec,
            drops_per_sec=a.drops_per_sec,
        )
        for a in sorted(states, key=lambda a: (a.host, a.iface))
        if a.active
    ]
