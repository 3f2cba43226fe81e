"""The panel's session: one signed cookie, no server-side state, no token inside.

The cookie holds who signed in (subject, administrator or not), when, a CSRF token, and while
an OIDC sign-in is under way its state, nonce and PKCE verifier. It is signed (itsdangerous,
HMAC-SHA1 over a key derived from ADMIN_SESSION_KEY) so it cannot be forged or edited, and
expires eight hours after sign-in whatever the browser does with Max-Age.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "awaterra_admin"
COOKIE_PATH = "/admin"
MAX_AGE_SECONDS = 8 * 3600
LOGIN_MAX_AGE_SECONDS = 600
_SALT = "awaterra-admin-session"


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    verifier: str
    next: str
    started_at: float


@dataclass(frozen=True)
class Session:
    csrf: str
    created_at: float
    subject: str | None = None
    is_admin: bool = False
    pending: PendingLogin | None = None
    # Not stored: whether this request came with a valid cookie (else one must be set).
    fresh: bool = field(default=True, compare=False)

    @property
    def signed_in(self) -> bool:
        return self.subject is not None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("fresh")
        return body


def new_session(**fields: Any) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), created_at=time.time(), **fields)


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=_SALT)

    def load(self, request: Request) -> Session:
        """The request's session, or a new anonymous one when the cookie is absent or bad."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return new_session()
        try:
            body = self._serializer.loads(raw, max_age=MAX_AGE_SECONDS)
            pending = body.pop("pending")
            session = Session(
                **body, pending=PendingLogin(**pending) if pending else None, fresh=False
            )
        except (BadSignature, TypeError, ValueError, KeyError):
            return new_session()
        if time.time() - session.created_at > MAX_AGE_SECONDS:
            return new_session()
        if session.pending and time.time() - session.pending.started_at > LOGIN_MAX_AGE_SECONDS:
            session = replace(session, pending=None)
        return session

    def store(self, request: Request, response: Response, session: Session) -> None:
        remaining = MAX_AGE_SECONDS - int(time.time() - session.created_at)
        response.set_cookie(
            COOKIE_NAME,
            self._serializer.dumps(session.to_json()),
            max_age=max(remaining, 0),
            path=COOKIE_PATH,
            secure=came_over_https(request),
            httponly=True,
            samesite="lax",
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE_NAME,
            path=COOKIE_PATH,
            secure=came_over_https(request),
            httponly=True,
            samesite="lax",
        )


def came_over_https(request: Request) -> bool:
    """uvicorn already applies X-Forwarded-Proto from trusted proxies to the scheme; the
    header is read too so the cookie is Secure behind any TLS-terminating proxy (marking it
    Secure by mistake only costs a plain-HTTP sign-in, never a leaked cookie)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"
