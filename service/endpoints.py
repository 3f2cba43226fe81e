"""Declared endpoints: one description drives routing, authentication, validation and OpenAPI.

An `Endpoint` names its access level, its path/query/body shapes and its answers. The same
object is what the router executes (`build_routes`) and what `service.openapi` documents, so
the document cannot drift from the behaviour.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.auth import AuthError, Principal
from service.errors import Forbidden, MalformedJson, Unauthorized, ValidationFailed
from service.examples import Examples
from service.middleware import request_info

if TYPE_CHECKING:
    from service.services import Services


class Access(enum.Enum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class Call:
    """One validated request, as a handler sees it."""

    request: Request
    services: Services
    principal: Principal | None
    path: Any
    query: Any
    body: Any

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "endpoint declared Access.PUBLIC"
        return self.principal


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    status: int
    response: type[BaseModel] | None
    tag: str
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    body: Any = None
    body_optional: bool = False
    errors: Sequence[int] = ()
    extra_responses: Mapping[int, type[BaseModel]] = field(default_factory=dict)
    rate_limited: bool = True
    description: str | None = None
    examples: Examples | None = None

    @property
    def body_adapter(self) -> TypeAdapter[Any] | None:
        return _adapter(self.body) if self.body is not None else None


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(annotation)
    if adapter is None:
        adapter = _ADAPTERS[annotation] = TypeAdapter(annotation)
    return adapter


def _details(error: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    details: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"])
        name = f"{prefix}.{name}" if prefix and name else (prefix or name or "body")
        if name in seen:
            continue
        seen.add(name)
        details.append({"field": name, "message": item["msg"]})
    return details


def _validate_params(model: type[BaseModel], values: Mapping[str, str], where: str) -> BaseModel:
    try:
        return model.model_validate(values, by_alias=True)
    except ValidationError as error:
        raise ValidationFailed(f"invalid {where} parameters", details=_details(error)) from None


JSON_LIMIT_ERRORS = ("recursion limit exceeded", "number out of range")


def _reject_nul_query(request: Request) -> None:
    """PostgreSQL cannot store NUL, so no query parameter may carry one, even on an endpoint
    that reads no parameters (a bytes scan first: the common query string has none)."""
    raw: bytes = request.scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return
    details = [
        {"field": name.replace("\x00", "\\u0000"), "message": "contains a NUL character"}
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    if details:
        raise ValidationFailed("invalid query parameters", details=details)


def _single_values(request: Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in values:
            raise ValidationFailed(
                "invalid query parameters",
                details=[{"field": name, "message": "given more than once"}],
            )
        values[name] = value
    return values


async def _body(request: Request) -> bytes:
    """The whole body, straight from the ASGI receive channel (Starlette's `Request.body()`
    goes through an async generator; this is the request path, so it counts)."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            # Nobody will read the answer; this just ends the request without an error log.
            raise MalformedJson("request body incomplete: the client disconnected")
        chunk = message.get("body", b"")
        if not message.get("more_body", False):
            if not chunks:
                return bytes(chunk)
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


async def _read_body(request: Request, endpoint: Endpoint) -> Any:
    adapter = endpoint.body_adapter
    if adapter is None:
        return None
    raw = await _body(request)
    if not raw.strip() and endpoint.body_optional:
        raw = b"{}"
    try:
        return adapter.validate_json(raw, by_alias=True)
    except ValidationError as error:
        for item in error.errors(include_url=False):
            if item["type"] != "json_invalid":
                continue
            # Well-formed JSON the parser will not take (nesting past its depth limit, an
            # integer of thousands of digits) is a value out of range, not malformed JSON.
            for limit in JSON_LIMIT_ERRORS:
                if limit in item["msg"]:
                    raise ValidationFailed(
                        details=[{"field": "body", "message": f"JSON {limit}"}]
                    ) from None
            raise MalformedJson() from None
        raise ValidationFailed(details=_details(error)) from None


def _authorization_header(scope: Mapping[str, Any]) -> str | None:
    """The first Authorization header, as Starlette's `request.headers` would give it,
    without building a Headers object on every authenticated request."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None


async def authenticate(request: Request, services: Services) -> Principal:
    header = _authorization_header(request.scope)
    if not header:
        raise Unauthorized()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected an Authorization: Bearer token")
    try:
        principal = await services.verifier.verify(token.strip())
    except AuthError as error:
        raise Unauthorized(str(error) or None) from None
    info = request_info(request.scope)
    if info is not None:
        info.subject = principal.subject
    services.seen.saw(principal.subject)
    return principal


def _client_key(request: Request) -> str:
    client = request.client
    return f"ip:{client.host}" if client else "ip:unknown"


async def run_endpoint(endpoint: Endpoint, request: Request) -> Response:
    services: Services = request.app.state.services
    principal: Principal | None = None
    if endpoint.access is not Access.PUBLIC:
        try:
            principal = await authenticate(request, services)
        except Unauthorized:
            # Failed sign-ins spend the caller's address bucket: a flood of forged or
            # expired tokens (each a signature check) is throttled like anonymous traffic.
            if endpoint.rate_limited:
                services.limiter.check(_client_key(request))
            raise
        if endpoint.access is Access.ADMIN and not principal.is_admin:
            raise Forbidden("this operation needs an admin")
        if endpoint.rate_limited:
            services.limiter.check(f"sub:{principal.subject}")
    elif endpoint.rate_limited:
        services.limiter.check(_client_key(request))

    path = (
        _validate_params(endpoint.path_model, request.path_params, "path")
        if endpoint.path_model is not None
        else None
    )
    _reject_nul_query(request)
    query = None
    if endpoint.query_model is not None:
        query = _validate_params(endpoint.query_model, _single_values(request), "query")
    body = await _read_body(request, endpoint)
    return await endpoint.handler(Call(request, services, principal, path, query, body))


def build_routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """One Starlette route per path, so a wrong method answers 405 with every allowed one."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    routes: list[Route] = []
    for path, methods in by_path.items():

        async def dispatch(request: Request, methods: dict[str, Endpoint] = methods) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await run_endpoint(methods[method], request)

        routes.append(Route(path, dispatch, methods=list(methods)))
    return routes
