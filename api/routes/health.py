"""Liveness and readiness: /healthz and /readyz (never behind the token)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StoreDep, read
from api.models import Health

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the store does not answer"}},
)
async def readyz(store: StoreDep) -> Health | JSONResponse:
    """The store answers; 503 with the reason otherwise."""
    try:
        await read(store, store.ping)
    # Any failure means "not ready", even one a store forgot to wrap in StoreError.
    except Exception as exc:
        log.warning("not ready: %s", exc)
        body = Health(status="unavailable", detail=f"store: {exc}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok")
