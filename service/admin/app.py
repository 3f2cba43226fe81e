"""The panel as one ASGI app: its routes, its error pages, its headers and body limits."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from service.admin import (
    views_auth,
    views_config,
    views_erasure,
    views_ops,
    views_people,
    views_practices,
)
from service.admin.errors import PanelError
from service.admin.oidc import OidcClient
from service.admin.panel import Mode, Panel
from service.admin.render import render
from service.admin.security import PanelGuard
from service.admin.session import SessionCodec
from service.db import is_schema_missing, is_unavailable
from service.errors import describe_exception
from service.secret_files import load_or_create_secret
from service.services import Services
from service.settings import Settings
from service.storage import StorageUnavailable

STATIC_DIR = Path(__file__).parent / "static"
SESSION_KEY_FILE_NAME = "admin-session-key"
logger = logging.getLogger("service.admin")

HTTP_TITLES = {404: "Not found", 405: "Method not allowed", 400: "Request refused"}


def _mode(settings: Settings) -> Mode:
    if settings.admin.oidc_client_id:
        return "oidc"
    return "local" if settings.environment == "local" else "off"


def _session_key(settings: Settings, mode: Mode) -> bytes:
    if settings.admin.session_key:
        return settings.admin.session_key.encode()
    if mode == "local":
        return load_or_create_secret(
            settings.data_dir / SESSION_KEY_FILE_NAME, lambda: secrets.token_bytes(32)
        )
    # Unconfigured (every page 503) or a settings object built without the check: nothing
    # signed with this key outlives the process.
    return secrets.token_bytes(32)


async def _panel_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PanelError)
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    response = render(request, "error.html", status=exc.status, title=exc.title,
                      message=exc.message)
    if headers:
        response.headers.update(headers)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = HTTP_TITLES.get(exc.status_code, "Request refused")
    message = {
        404: "There is no such page in the admin panel.",
        405: "This page does not take that kind of request.",
    }.get(exc.status_code, f"The request could not be read: {exc.detail}.")
    response = render(request, "error.html", status=exc.status_code, title=title,
                      message=message)
    if exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StorageUnavailable) or is_unavailable(exc):
        fields = {"fields": describe_exception(exc)}
        if is_schema_missing(exc):
            logger.error("admin: the database has no schema", extra=fields)
        else:
            logger.warning("admin: dependency unavailable", extra=fields)
        response = render(
            request, "error.html", status=503, title="Unavailable",
            message="The database or the media store is unavailable right now. Nothing was "
            "half-saved; try again in a moment. The Status page shows which.",
        )
        response.headers["Retry-After"] = "5"
        return response
    logger.error("admin: unhandled error", extra={"fields": describe_exception(exc)})
    return render(request, "error.html", status=500, title="Something went wrong",
                  message="The panel hit an unexpected error; nothing was half-saved. "
                  "The service's log has the details.")


def admin_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Mount("/admin/static", app=StaticFiles(directory=STATIC_DIR), name="admin-static"),
    ]
    for module in (
        views_ops, views_auth, views_practices, views_config, views_people, views_erasure
    ):
        for path, endpoint, methods in module.ROUTES:
            routes.append(Route(path, endpoint, methods=methods))
    return routes


def build_admin_app(services: Services, settings: Settings) -> ASGIApp:
    mode = _mode(settings)
    oidc = None
    if mode == "oidc":
        assert settings.auth_issuer and settings.auth_jwks_url and settings.admin.oidc_client_id
        oidc = OidcClient(
            issuer=settings.auth_issuer,
            jwks_url=settings.auth_jwks_url,
            client_id=settings.admin.oidc_client_id,
            client_secret=settings.admin.oidc_client_secret,
        )
    starlette = Starlette(
        routes=admin_routes(),
        exception_handlers={
            PanelError: _panel_error,
            HTTPException: _http_error,
            # Handled here, not re-raised by Starlette's outermost layer like Exception is.
            StorageUnavailable: _unexpected,
            SQLAlchemyError: _unexpected,
            asyncpg.PostgresError: _unexpected,
            asyncpg.InterfaceError: _unexpected,
            OSError: _unexpected,
            Exception: _unexpected,
        },
    )
    starlette.router.redirect_slashes = False
    starlette.state.panel = Panel(
        services=services,
        settings=settings.admin,
        environment=settings.environment,
        codec=SessionCodec(_session_key(settings, mode)),
        oidc=oidc,
        mode=mode,
    )
    return PanelGuard(starlette, max_upload_bytes=settings.admin.max_upload_bytes)


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")
