"""What every panel response carries, and what every panel request may not do.

- Headers: a CSP with no script at all (the panel has none) and `frame-ancestors 'none'`,
  nosniff, no referrer, no caching.
- Bodies: the API's 1 MiB limit does not fit media uploads, so `/admin` enforces its own
  (the upload limit on the practice forms, 1 MiB elsewhere) and answers with a page.
- Cross-origin POSTs are refused from `Origin` (or `Sec-Fetch-Site`), before the CSRF token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.admin.errors import Forbidden, TooLarge

FORM_LIMIT_BYTES = 1024 * 1024
# Room for the other fields and the multipart framing around an upload of the full size.
MULTIPART_OVERHEAD_BYTES = 256 * 1024
UPLOAD_PATHS = ("/admin/practices",)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the
    # panel's own form posts, which the origin check must then refuse.
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_REPLACED = {name for name, _ in SECURITY_HEADERS}


class BodyTooLarge(TooLarge):
    pass


class PanelGuard:
    """Pure ASGI: security headers on every response, the body limit on every request."""

    def __init__(self, app: ASGIApp, *, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, path: str) -> int:
        if path.startswith(UPLOAD_PATHS):
            return self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        return FORM_LIMIT_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k not in _REPLACED]
                message["headers"] = [*kept, *SECURITY_HEADERS]
            await send(message)

        limit = self.limit_for(scope["path"])
        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(too_large_message(scope["path"], self.max_upload_bytes))
            return message

        scope.setdefault("state", {})["body_limit"] = limit
        await self.app(scope, receive_with_limit, send_with_headers)



def too_large_message(path: str, max_upload_bytes: int) -> str:
    if path.startswith(UPLOAD_PATHS):
        return (
            f"The upload is larger than {format_size(max_upload_bytes)}. "
            "Nothing was saved; choose a smaller file."
        )
    return "The form is larger than 1 MiB. Nothing was saved."


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    return f"{size / 1024:g} KiB"


def refuse_declared_too_large(request: Request, max_upload_bytes: int) -> None:
    """Refuse on the Content-Length alone, before reading a byte of the body."""
    limit: int = request.scope.get("state", {}).get("body_limit", FORM_LIMIT_BYTES)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(too_large_message(request.url.path, max_upload_bytes))


def expected_origin(request: Request, base_url: str | None) -> str:
    if base_url:
        return base_url
    return f"{request.url.scheme}://{request.url.netloc}"


def refuse_cross_origin(request: Request, base_url: str | None) -> None:
    """A POST from another origin is refused whatever token it carries."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("This form was sent from another site. Nothing was changed.")
    origin = request.headers.get("origin")
    if origin is not None and origin != expected_origin(request, base_url):
        raise Forbidden("This form was sent from another site. Nothing was changed.")
