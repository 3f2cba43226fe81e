"""Outermost pure ASGI middleware: request id, body limit, last-resort errors, access log.

It wraps the whole Starlette app (outside Starlette's own ServerErrorMiddleware) so that every
response, a 500 included, carries `X-Request-ID` and produces exactly one access log line.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError, Internal, PayloadTooLarge, error_body
from service.logs import REQUEST_ID, AccessLog
from service.metrics import ServiceMetrics
from service.tracing import current_trace_ids

REQUEST_INFO_KEY = "awaterra.request"
_CLIENT_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(slots=True)
class RequestInfo:
    """What the access log line needs from deeper layers (the router, authentication)."""

    request_id: str
    subject: str | None = None
    trace_ids: dict[str, str] = field(default_factory=dict)


def request_info(scope: Scope) -> RequestInfo | None:
    info = scope.get(REQUEST_INFO_KEY)
    return info if isinstance(info, RequestInfo) else None


# Request ids: a random per-process prefix and a counter. Unique across workers and restarts
# without asking the kernel for randomness on every request (uuid4 costs more than the
# rest of this middleware together).
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def _request_headers(scope: Scope) -> tuple[str | None, int | None]:
    """The client's X-Request-ID (when safe to echo) and the declared Content-Length, in one
    pass over the headers."""
    request_id: str | None = None
    declared: int | None = None
    seen_id = seen_length = False
    for name, value in scope["headers"]:
        if name == b"x-request-id" and not seen_id:
            seen_id = True
            # Echo only ids that are safe in a header and a log line; replace anything else.
            if _CLIENT_REQUEST_ID.match(value):
                request_id = value.decode("ascii")
        elif name == b"content-length" and not seen_length:
            seen_length = True
            try:
                declared = int(value)
            except ValueError:
                declared = None
    return request_id, declared


async def _send_error(send: Send, error: ApiError, request_id: str) -> None:
    body = orjson.dumps(error_body(error.code, error.message, error.details))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    if isinstance(error, PayloadTooLarge):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: AccessLog,
        unlimited_prefixes: tuple[str, ...] = (),
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.app = app
        # Request timings, as service.metrics.MetricsMiddleware would record them around
        # `app` (same in-flight gauge, histogram, labels and status), without a layer of its
        # own on every request.
        self.metrics = metrics
        self.access_log = access_log
        self.max_body_bytes = max_body_bytes
        # Routes that enforce a (larger) limit of their own, e.g. local media uploads.
        self.unlimited_prefixes = unlimited_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming_id, declared = _request_headers(scope)
        request_id = incoming_id or _new_request_id()
        info = RequestInfo(request_id)
        scope[REQUEST_INFO_KEY] = info
        token = REQUEST_ID.set(request_id)
        request_id_header = (b"x-request-id", request_id.encode())
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), request_id_header]
                info.trace_ids = current_trace_ids()
            await send(message)

        limit = self.max_body_bytes
        if self.unlimited_prefixes and scope["path"].startswith(self.unlimited_prefixes):
            limit = 1 << 62
        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        try:
            if declared is not None and declared > limit:
                # Refuse on the header alone: the body is never read.
                status = PayloadTooLarge.status
                response_started = True
                await _send_error(send, PayloadTooLarge(limit), request_id)
            elif self.metrics is None:
                await self.app(scope, receive_with_limit, send_with_request_id)
            else:
                metrics = self.metrics
                metrics.in_flight.inc()
                app_started = time.perf_counter()
                try:
                    await self.app(scope, receive_with_limit, send_with_request_id)
                finally:
                    # `status` is what the app answered, or 500 if it raised before answering.
                    metrics.finish_request(scope, status, app_started)
        except Exception as exc:
            # Starlette has already logged it (without a traceback) and, if it could, answered.
            if not response_started:
                error = exc if isinstance(exc, ApiError) else Internal()
                status = error.status
                await _send_error(send, error, request_id)
        finally:
            self._log(scope, info, status, started)
            REQUEST_ID.reset(token)

    def _log(self, scope: Scope, info: RequestInfo, status: int, started: float) -> None:
        if not self.access_log.enabled:
            return
        route: Any = scope.get("route")
        fields: dict[str, Any] = {
            "request_id": info.request_id,
            "method": scope["method"],
            "route": getattr(route, "path", None),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "subject": info.subject,
        }
        if info.trace_ids:
            fields.update(info.trace_ids)
        self.access_log.write(fields)
