"""The ASGI application: Starlette routes wrapped in pure ASGI middleware.

outermost  RequestContextMiddleware  request id, body limit, access log, last-resort 500,
                                     Prometheus timings per route template (of the layers below)
           AdminDispatch             /admin to the admin panel (service.admin), the rest on
           FastLane                  POST /map and GET /heartbeat straight to their handlers
           Starlette                 routing, error mapping, lifespan, everything else
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from asyncpg.exceptions import InternalClientError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from service import db
from service.admin.app import build_admin_app, is_admin_path
from service.auth import TokenVerifier, build_verifier
from service.checks import SharedCheck
from service.endpoints import Endpoint, build_routes
from service.errors import (
    ApiError,
    Unavailable,
    error_response,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
)
from service.fastlane import FastLane
from service.logs import AccessLog
from service.mapstore import build_map_store
from service.metrics import METRICS, instrument_engine, metrics_route
from service.middleware import RequestContextMiddleware
from service.openapi import build_openapi
from service.practice_list_cache import PracticeListCache
from service.queries import build_queries
from service.ratelimit import RateLimiter
from service.routes import account, config, events, heartbeat, map, practices
from service.routes.docs import docs_routes
from service.seen import SeenUsers
from service.services import Services
from service.settings import Settings, load_settings
from service.storage import Storage, StorageUnavailable, build_storage

ENDPOINTS: Sequence[Endpoint] = (
    *heartbeat.ENDPOINTS,
    *map.ENDPOINTS,
    *practices.ENDPOINTS,
    *events.ENDPOINTS,
    *config.ENDPOINTS,
    *account.ENDPOINTS,
)
# Most of the traffic: dispatched without Starlette's per-request layers (service.fastlane).
HOT_ENDPOINTS = [
    e for e in ENDPOINTS if (e.method, e.path) in {("POST", "/map"), ("GET", "/heartbeat")}
]
# The heartbeat answers within 2 s whatever hangs. A load balancer polling every few seconds
# always gets a fresh check; a flood of heartbeats shares one database round trip per quarter
# second instead of one each.
CHECK_WAIT_SECONDS = 1.5
DATABASE_CHECK_TTL_SECONDS = 0.25
STORAGE_CHECK_TTL_SECONDS = 5.0
GC_YOUNG_THRESHOLD = 20_000
# The local media store streams uploads of its own size limit through these paths.
# So does the admin panel (media uploads through its forms; 1 MiB for its other forms).
UNLIMITED_BODY_PREFIXES = ("/_media/", "/admin/")


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(Unavailable("the media store is unavailable"))


class AdminDispatch:
    """`/admin` and below to the panel, everything else to the API."""

    def __init__(self, admin: ASGIApp, api: ASGIApp) -> None:
        self.admin = admin
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_admin_path(scope["path"]):
            await self.admin(scope, receive, send)
        else:
            await self.api(scope, receive, send)


class ServiceApp:
    """The served ASGI callable; `starlette` and `services` stay reachable for tests and tools."""

    def __init__(
        self, starlette: Starlette, services: Services, asgi: ASGIApp, access_log: AccessLog
    ) -> None:
        self.starlette = starlette
        self.services = services
        self.access_log = access_log
        self._asgi = asgi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def openapi_document() -> dict[str, Any]:
    return build_openapi(ENDPOINTS)


def create_app(
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    storage: Storage | None = None,
    engine: AsyncEngine | None = None,
    access_log: AccessLog | None = None,
) -> ServiceApp:
    engine = engine or db.create_engine(settings)
    instrument_engine(engine)
    storage = storage or build_storage(settings.storage_url, settings.data_dir)
    verifier = verifier or build_verifier(
        settings.environment,
        settings.auth_jwks_url,
        settings.auth_issuer,
        settings.auth_audience,
        settings.data_dir,
    )
    access_log = access_log or AccessLog(
        enabled=logging.getLevelNamesMapping()[settings.log_level.upper()] <= logging.INFO
    )
    queries = build_queries(engine.dialect.name)
    map_store = build_map_store(settings, engine, queries)
    services = Services(
        settings=settings,
        engine=engine,
        autocommit=engine.execution_options(isolation_level="AUTOCOMMIT"),
        queries=queries,
        map_store=map_store,
        storage=storage,
        verifier=verifier,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        seen=SeenUsers(engine),
        # The pool that serves the map: the check sees what the hot path would see.
        database_check=SharedCheck(
            map_store.ping, ttl=DATABASE_CHECK_TTL_SECONDS, wait_seconds=CHECK_WAIT_SECONDS
        ),
        storage_check=SharedCheck(
            storage.check, ttl=STORAGE_CHECK_TTL_SECONDS, wait_seconds=CHECK_WAIT_SECONDS
        ),
        practice_list=PracticeListCache(settings.practices_cache_seconds),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.seen.start()
        try:
            yield
        finally:
            await services.seen.stop()
            await services.database_check.close()
            await services.storage_check.close()
            with contextlib.suppress(Exception):
                await services.storage.aclose()
            closer = getattr(services.verifier, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
            with contextlib.suppress(Exception):
                await services.map_store.close()
            await services.engine.dispose()
            access_log.flush()

    api_routes = build_routes(ENDPOINTS)
    routes: list[BaseRoute] = [
        *api_routes,
        *docs_routes(openapi_document()),
        metrics_route,
        *storage.routes,
    ]
    starlette = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            StorageUnavailable: _storage_unavailable,
            SQLAlchemyError: handle_unexpected,
            asyncpg.PostgresError: handle_unexpected,
            asyncpg.InterfaceError: handle_unexpected,
            InternalClientError: handle_unexpected,
            OSError: handle_unexpected,
            Exception: handle_unexpected,
        },
    )
    # A mobile API answers a path it does not have with a JSON 404, not a 307 to a
    # guessed URL (a redirect built from the Host header, and an empty non-JSON body).
    starlette.router.redirect_slashes = False
    starlette.state.services = services
    fast_lane = FastLane(starlette, api_routes, HOT_ENDPOINTS)
    asgi = RequestContextMiddleware(
        AdminDispatch(build_admin_app(services, settings), fast_lane),
        max_body_bytes=settings.max_body_bytes,
        access_log=access_log,
        unlimited_prefixes=UNLIMITED_BODY_PREFIXES,
        metrics=METRICS,
    )
    return ServiceApp(starlette, services, asgi, access_log)


def create_app_from_environment() -> ServiceApp:
    """Factory for `uvicorn --factory` (each worker builds its own app)."""
    from service.logs import configure_logging
    from service.tracing import configure_tracing, tracing_requested

    settings = load_settings()
    configure_logging(settings.log_level)
    configure_tracing(tracing_requested())
    app = create_app(settings)
    # Everything built so far lives as long as the process: keep it out of the collector's
    # way, so full collections under load only scan what requests allocate.
    gc.collect()
    gc.freeze()
    # Requests allocate many short-lived containers that reference counting frees; with the
    # default threshold (700) a young-generation collection ran every few requests and cost
    # several percent of the CPU. Cycles are rare here, so collect young objects less often.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return app
