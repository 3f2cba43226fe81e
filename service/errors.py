"""The contract's error model: a small hierarchy, mapped once at the edge into one JSON body.

`{"success": false, "error": {"code", "message", "details"?}}`. Messages are written for the
client; nothing from an exception's text (SQL, paths, secrets) is ever copied into them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from service.db import MIGRATE_HINT, is_schema_missing, is_unavailable
from service.jsonresponse import json_response

logger = logging.getLogger("service.errors")

RETRY_AFTER_UNAVAILABLE_SECONDS = 5


class ApiError(Exception):
    """Base of every error the API answers on purpose."""

    status = 500
    code = "internal"
    message = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(self.message)


class MalformedJson(ApiError):
    """The request body is not JSON."""

    status, code, message = 400, "malformed_json", "request body is not valid JSON"


class ValidationFailed(ApiError):
    """The JSON is well-formed but does not match the schema; `details` names each field."""

    status, code, message = 422, "validation_error", "request does not match the schema"


class Unauthorized(ApiError):
    """No bearer token, or one that cannot be trusted."""

    status, code, message = 401, "unauthorized", "a valid bearer token is required"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="awaterra"'})


class Forbidden(ApiError):
    """The caller is known but may not do this (someone else's data, admin only)."""

    status, code, message = 403, "forbidden", "not allowed"


class NotFound(ApiError):
    """No such route, practice or key."""

    status, code, message = 404, "not_found", "not found"


class MethodNotAllowed(ApiError):
    """The route exists but not with this method; `Allow` lists the ones it has."""

    status, code, message = 405, "method_not_allowed", "method not allowed"


class PayloadTooLarge(ApiError):
    """The body is over the limit (checked while reading, before it is all in memory)."""

    status, code, message = 413, "payload_too_large", "request body is too large"

    def __init__(
        self, limit_bytes: int | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(
            f"request body is larger than {size_in_words(limit_bytes)}" if limit_bytes else None,
            headers=headers,
        )


def size_in_words(size: int) -> str:
    """`1048576` → `1 MiB`: a limit as a client reads it (whole binary units when exact)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class RateLimited(ApiError):
    """Too many requests from this caller; `Retry-After` says when to come back."""

    status, code, message = 429, "rate_limited", "too many requests"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after_seconds))})


class Unavailable(ApiError):
    """A dependency is down; nothing was half-written; retry after `Retry-After` seconds."""

    status, code, message = 503, "unavailable", "a dependency is unavailable, retry later"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)})


class Internal(ApiError):
    """Something we did not expect; the client learns nothing more than that."""


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        MalformedJson,
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        RateLimited,
        Unavailable,
        Internal,
    )
}


def error_body(
    code: str, message: str, details: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = list(details)
    return {"success": False, "error": error}


def error_response(error: ApiError) -> Response:
    return json_response(
        error_body(error.code, error.message, error.details), error.status, error.headers
    )


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (routing) become the contract's body, keeping `Allow`."""
    assert isinstance(exc, HTTPException)
    error_class = _BY_STATUS.get(exc.status_code, Internal)
    headers = dict(exc.headers or {})
    if "Allow" in headers:
        # Starlette keeps a route's methods in a set: the order would change per process.
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
    return error_response(error_class(headers=headers or None))


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Where an unexpected error happened, without its message (which may hold SQL or data)."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = ""
    if frame is not None:
        code = frame.tb_frame.f_code
        where = f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno} in {code.co_name}"
    return {"error_type": f"{type(exc).__module__}.{type(exc).__qualname__}", "where": where}


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Database outages become 503; anything else a bare 500 (logged without its message)."""
    if is_schema_missing(exc):
        logger.error(MIGRATE_HINT, extra={"fields": describe_exception(exc)})
        return error_response(Unavailable())
    if is_unavailable(exc):
        logger.warning("dependency unavailable", extra={"fields": describe_exception(exc)})
        return error_response(Unavailable())
    logger.error("unhandled error", extra={"fields": describe_exception(exc)})
    return error_response(Internal())
