"""create_app(): assemble the FastAPI app from settings, a store and a clock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from swagger_ui_bundle import swagger_ui_path

from api.deps import AppContext, Clock, require_token
from api.models import HostStatusName, Problem
from api.prometheus import StoreCollector
from api.routes import alerts, export, health, metrics, servers, sparkline, traffic
from api.settings import ApiSettings
from api.views import host_status
from stores import HostRecord, Store, StoreError, open_store

STATIC_DIR = Path(__file__).parent / "static"
_UNAVAILABLE: dict[str, Any] = {"model": Problem, "description": "the store does not answer"}
log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """A store that fails to answer is a 503 the client may retry, not a 500."""
    log.warning("store error on %s: %s", request.url.path, exc)
    return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503)


def create_app(
    settings: ApiSettings, *, store: Store | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app; open the store from settings.store unless one is given (then not closed)."""
    owned = store is None
    the_store = open_store(settings.store) if store is None else store
    context = AppContext(
        settings=settings, store=the_store, clock=clock or _utcnow, token=settings.token()
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            the_store.close()

    app = FastAPI(
        title="ifpulse api",
        summary="Per-network-interface metrics: hosts, interfaces, sparklines, export.",
        version="1",
        lifespan=lifespan,
        # FastAPI's own pages load their scripts from a CDN; ours come from the package.
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    app.state.registry = _registry(context)
    app.add_exception_handler(StoreError, _store_error)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    # Only an app with a token declares the bearer scheme, so its OpenAPI tells the truth.
    guarded = [Depends(require_token)] if context.token is not None else []
    responses: dict[int | str, dict[str, Any]] = {503: _UNAVAILABLE}
    if context.token is not None:
        responses[401] = {"model": Problem, "description": "missing or wrong bearer token"}
    for router in (servers, sparkline, traffic, export, alerts):
        app.include_router(router.router, dependencies=guarded, responses=responses)
    app.include_router(metrics.router, responses={503: _UNAVAILABLE})
    app.include_router(health.router)
    _dashboard(app)
    _docs(app)
    return app


def _registry(context: AppContext) -> CollectorRegistry:
    """A registry of the app's own (never the global one: two apps must not collide)."""

    def is_online(host: HostRecord) -> bool:
        state = host_status(host, context.clock(), context.settings)
        return state is HostStatusName.ONLINE

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(context.store, is_online))
    return registry


def _docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its assets served locally: it works on a LAN with no internet."""
    assets = "/docs/assets"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            oauth2_redirect_url=None,
        )

    app.mount(assets, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")


def _dashboard(app: FastAPI) -> None:
    """The dashboard page at / and its assets under /static (shipped in the package)."""

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
