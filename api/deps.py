"""FastAPI dependencies: the store, the clock, settings, auth and path checks."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.cache import ResponseCache
from api.settings import ApiSettings
from schemas.messages import HOST_PATTERN
from stores import HostRecord, Store

Clock = Callable[[], datetime]
T = TypeVar("T")
_HOST_RE = re.compile(HOST_PATTERN)


@dataclass(frozen=True, slots=True)
class AppContext:
    """What create_app() built: every handler reaches it through the dependencies below."""

    settings: ApiSettings
    store: Store
    clock: Clock
    token: str | None
    cache: ResponseCache = field(default_factory=ResponseCache)


# The dependencies below do no blocking I/O, so they are coroutines: FastAPI runs a plain
# `def` dependency in its thread pool, and each such hop (a hand-over of the GIL between
# threads on two cores) cost more than the request's own work.


async def get_context(request: Request) -> AppContext:
    """The app's context, put on app.state by create_app()."""
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_store(context: ContextDep) -> Store:
    """The store the api reads from."""
    return context.store


async def get_now(context: ContextDep) -> datetime:
    """The current time from the injected clock (UTC)."""
    return context.clock()


StoreDep = Annotated[Store, Depends(get_store)]
NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False, description="the token given by --api-token-file")


async def require_token(
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse the request unless it carries the configured bearer token (if one is set)."""
    if context.token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    # compare_digest: the time taken must not tell how much of the token was right.
    if not secrets.compare_digest(given.encode("utf-8"), context.token.encode("utf-8")):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def is_host_id(value: str) -> bool:
    """True if `value` could be a host id (the protocol's host pattern)."""
    return _HOST_RE.fullmatch(value) is not None


async def read(store: Store, work: Callable[[], T]) -> T:
    """Run a short store read from an async handler: inline when the store answers from this
    process (SQLite: no I/O wait to overlap, and a thread hop costs more than the read), in
    the thread pool when it waits on a server (InfluxDB), so the event loop keeps serving."""
    if store.cpu_bound:
        return work()
    return await run_in_threadpool(work)


def find_host(store: Store, server_id: str) -> HostRecord:
    """The host record, or 404 saying the server is unknown."""
    # Anything that cannot be a host id never reaches the store: it is simply unknown.
    host = store.host(server_id) if is_host_id(server_id) else None
    if host is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown server {shown(server_id)}")
    return host


def shown(value: str, limit: int = 64) -> str:
    """A caller-supplied name quoted for an error message, cut so a 10 KB name stays short."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
